//! `--backend`: `--help` lists exactly the backends compiled in, each of them really runs when
//! asked for, and a name that is not compiled in is refused, naming the ones that are.
//!
//! Every backend is a default feature; a build with fewer (`--no-default-features --features
//! flex`) runs these tests too. wgpu trains only where a Vulkan driver is installed (`build.rs`).

use std::path::Path;

use mnist_trainer::backend;
use mnist_trainer::run::dir::RunDir;
use mnist_trainer::testing::TestConfig;

mod common;
use common::mnist;

/// The values of `[name: a, b]` in a help text.
fn bracketed(help: &str, name: &str) -> Vec<String> {
    let start = help
        .find(&format!("[{name}: "))
        .unwrap_or_else(|| panic!("no [{name}: …] in\n{help}"));
    let rest = &help[start + name.len() + 3..];
    rest[..rest.find(']').unwrap()]
        .split(", ")
        .map(str::to_string)
        .collect()
}

#[test]
fn help_lists_exactly_the_compiled_backends_and_the_default() {
    let compiled: Vec<String> = backend::names().iter().map(|n| n.to_string()).collect();
    for args in [&["--help"][..], &["train", "--help"], &["eval", "--help"]] {
        let out = mnist(args);
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        assert_eq!(bracketed(&help, "possible values"), compiled, "{args:?}");
        assert_eq!(
            bracketed(&help, "default"),
            vec![backend::default_name().to_string()],
            "{args:?}"
        );
    }
}

fn tiny(dir: &Path) -> String {
    let config = TestConfig::scratch()
        .epochs(1)
        .artifacts(&dir.join("runs"))
        .write(&dir.join("tiny.toml"));
    config.to_str().unwrap().to_string()
}

#[test]
fn each_compiled_cpu_backend_trains_when_asked_for() {
    trains_when_asked_for(|name| name != "wgpu");
}

#[test]
#[cfg_attr(
    not(has_vulkan),
    ignore = "wgpu not compiled in, or no Vulkan driver (install mesa-vulkan-drivers); see build.rs"
)]
fn wgpu_trains_when_asked_for_if_compiled_in() {
    trains_when_asked_for(|name| name == "wgpu");
}

fn trains_when_asked_for(which: fn(&str) -> bool) {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny(dir.path());
    for name in backend::names().into_iter().filter(|n| which(n)) {
        let out = mnist(&["train", &config, "--name", name, "--backend", name]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("backend    {name} (")),
            "{name}: {stdout}"
        );
        // The run records the backend it trained on.
        let info = RunDir::new(dir.path().join("runs").join(name)).info();
        assert_eq!(info.backend, name);
    }
}

#[test]
fn a_backend_not_compiled_in_is_refused_naming_the_compiled_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny(dir.path());
    let missing = backend::KNOWN
        .iter()
        .copied()
        .filter(|k| !backend::names().contains(k));
    for name in missing.chain(["cuda", "tpu"]) {
        let out = mnist(&["train", &config, "--backend", name]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} was accepted");
        assert!(stderr.contains(&format!("`{name}`")), "{name}: {stderr}");
        for compiled in backend::names() {
            assert!(stderr.contains(compiled), "{name}: {stderr}");
        }
        if backend::KNOWN.contains(&name) {
            assert!(stderr.contains(&format!("--features {name}")), "{stderr}");
        }
        assert!(out.stdout.is_empty(), "{name}: work started");
        assert!(
            !dir.path().join("runs").exists(),
            "{name}: a run was created"
        );
    }
}
