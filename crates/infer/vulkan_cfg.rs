//! Build-script helper (`crates/infer/build.rs` and the root `build.rs`): whether the wgpu
//! backend's tests can run (`crates/infer/tests/wgpu.rs`, wgpu in the root `tests/backends.rs`).
//! They are compiled as ignored (`cfg(has_vulkan)` unset) unless the `wgpu` feature is on and a
//! Vulkan driver is installed: an ICD manifest in the loader's folders, or `VK_ICD_FILENAMES` /
//! `VK_DRIVER_FILES` naming one. Without a GPU, Debian's `mesa-vulkan-drivers` (lavapipe) is such a
//! driver. With `MNIST_REQUIRE_VULKAN` set (CI sets it) a wgpu build never ignores them: a missing
//! driver then fails them.
//!
//! Detected again when a variable changes or a driver folder that exists changes (a driver
//! installed where none of the folders existed is noticed once `MNIST_REQUIRE_VULKAN` is set, or
//! after `touch build.rs`).
/// The folders the Vulkan loader reads driver manifests from (Linux).
const ICD_FOLDERS: [&str; 3] = [
    "/usr/share/vulkan/icd.d",
    "/etc/vulkan/icd.d",
    "/usr/local/share/vulkan/icd.d",
];

pub fn emit() {
    println!("cargo::rustc-check-cfg=cfg(has_vulkan)");
    println!("cargo::rerun-if-env-changed=MNIST_REQUIRE_VULKAN");
    let mut found = false;
    for var in ["VK_ICD_FILENAMES", "VK_DRIVER_FILES"] {
        println!("cargo::rerun-if-env-changed={var}");
        found |= std::env::var_os(var).is_some_and(|v| !v.is_empty());
    }
    for folder in ICD_FOLDERS {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        // Installing or removing a driver changes the folder.
        println!("cargo::rerun-if-changed={folder}");
        found |= entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "json"));
    }
    // A build without the wgpu feature has no wgpu tests to run.
    let wgpu = std::env::var_os("CARGO_FEATURE_WGPU").is_some();
    if wgpu && (found || std::env::var_os("MNIST_REQUIRE_VULKAN").is_some()) {
        println!("cargo::rustc-cfg=has_vulkan");
    }
}
