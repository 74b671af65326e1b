//! Which of the tests that need something outside Rust can run here.
//!
//! ## onnxruntime
//! Whether `tests/export.rs` can run its onnxruntime check: the test is compiled as ignored
//! (`cfg(has_onnxruntime)` unset) unless `MNIST_ONNX_PYTHON` names a Python that can
//! `import onnxruntime, numpy`. With `MNIST_REQUIRE_ONNXRUNTIME` set (CI sets it) the test is
//! never ignored: a missing runtime then fails it.
//!
//! Detected when this script runs: again whenever either variable changes, the Python named is
//! replaced or removed, or (while the import fails) its site-packages change.
//!
//! ## Vulkan
//! Whether `tests/backends.rs` can train on wgpu: see `crates/infer/vulkan_cfg.rs`.

// One detection for this crate's tests and mnist-infer's (tests/wgpu.rs).
#[path = "crates/infer/vulkan_cfg.rs"]
mod vulkan_cfg;

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=crates/infer/vulkan_cfg.rs");
    onnxruntime();
    vulkan_cfg::emit();
}

fn onnxruntime() {
    println!("cargo::rerun-if-env-changed=MNIST_ONNX_PYTHON");
    println!("cargo::rerun-if-env-changed=MNIST_REQUIRE_ONNXRUNTIME");
    println!("cargo::rustc-check-cfg=cfg(has_onnxruntime)");
    let required = std::env::var_os("MNIST_REQUIRE_ONNXRUNTIME").is_some();
    let found = std::env::var_os("MNIST_ONNX_PYTHON").is_some_and(|python| {
        let python = Path::new(&python);
        if !python.exists() {
            return false;
        }
        println!("cargo::rerun-if-changed={}", python.display());
        let imports = Command::new(python)
            .args(["-c", "import onnxruntime, numpy"])
            .output()
            .is_ok_and(|out| out.status.success());
        if !imports {
            // So that a `pip install` into that environment is noticed.
            let purelib = Command::new(python)
                .args([
                    "-c",
                    "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                ])
                .output();
            if let Ok(out) = purelib
                && out.status.success()
            {
                let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if Path::new(&dir).is_dir() {
                    println!("cargo::rerun-if-changed={dir}");
                }
            }
        }
        imports
    });
    if found || required {
        println!("cargo::rustc-cfg=has_onnxruntime");
    }
}
