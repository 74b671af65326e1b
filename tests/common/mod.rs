//! What the command-line tests share: running the `mnist` binary as a user would.

#![allow(dead_code)] // each test file uses its own share of these

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mnist_trainer::testing::{TestConfig, adam};

/// Runs `mnist ARGS` from the repository root, without the variables that would change what it
/// prints (`RUST_BACKTRACE`) or where it computes (`BURN_DEVICE`).
pub fn mnist(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(repo())
        .env_remove("RUST_BACKTRACE")
        .env_remove("BURN_DEVICE")
        .output()
        .expect("run mnist")
}

pub fn repo() -> PathBuf {
    mnist_data::repo_root()
}

/// Batch 50, seed 11, Adam lr 0.001: `model` (an MLP or the linear model) on `data`, written to
/// `dir/NAME.toml`, its runs in `dir/runs`.
pub fn config(dir: &Path, name: &str, data: &Path, model: TestConfig, epochs: usize) -> PathBuf {
    model
        .data(data)
        .batch_size(50)
        .seed(11)
        .optimizer(adam(0.001))
        .epochs(epochs)
        .artifacts(&dir.join("runs"))
        .write(&dir.join(format!("{name}.toml")))
}

/// Fails with the process's output unless it succeeded.
pub fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `mnist` binary under test: this build's, or the one `MNIST_TEST_BIN` names (to show that
/// a test fails on an older build: `MNIST_TEST_BIN=/tmp/mnist-old cargo test --release ...`).
pub fn bin() -> PathBuf {
    std::env::var_os("MNIST_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_mnist")))
}
