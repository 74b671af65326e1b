//! `cfg(has_vulkan)` for `tests/wgpu.rs`: see `vulkan_cfg.rs`.

mod vulkan_cfg;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=vulkan_cfg.rs");
    vulkan_cfg::emit();
}
