//! What the command-line tests share: running the `mnist` binary as a user would.

use std::process::{Command, Output};

/// Runs `mnist ARGS` from the repository root, without the variables that would change what it
/// prints (`RUST_BACKTRACE`) or where it computes (`BURN_DEVICE`).
pub fn mnist(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mnist"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_BACKTRACE")
        .env_remove("BURN_DEVICE")
        .output()
        .expect("run mnist")
}
