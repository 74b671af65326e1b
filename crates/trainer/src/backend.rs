//! The one place that knows which backends this build has.
//!
//! Cargo features decide which backends are *compiled in* (`flex`, `ndarray`, `wgpu`); the user
//! chooses among them at run time (`mnist --backend NAME`). The device is always constructed
//! explicitly: burn's `Device::default()` prefers Flex whenever the `train` feature is on and
//! reads `BURN_DEVICE`, which would make the choice depend on things the user cannot see.

use burn::prelude::Device;

use crate::Error;

#[cfg(not(any(feature = "ndarray", feature = "flex", feature = "wgpu")))]
compile_error!("enable at least one backend feature: `flex`, `ndarray` or `wgpu`");

/// A compiled backend and its device.
#[derive(Clone, Debug)]
pub struct Backend {
    /// The name the user picks it by (`--backend`), the same as its cargo feature.
    pub name: &'static str,
    pub device: Device,
}

impl Backend {
    /// One line for logs and reports: backend name and burn's description of the device.
    pub fn describe(&self) -> String {
        format!("{} ({:?})", self.name, self.device)
    }

    /// Whether its tensors live in host memory (the CPU backends), so that reading them into a
    /// slice costs nothing (`adam::FusedAdam` relies on it).
    pub fn host_memory(&self) -> bool {
        matches!(self.name, "flex" | "ndarray")
    }
}

/// Whether `device` is one of the compiled backends whose tensors live in host memory, where
/// the host kernels (`mnist_models::host_mlp`) read a model's weights for free.
pub fn in_host_memory(device: &Device) -> bool {
    compiled()
        .iter()
        .any(|b| b.host_memory() && b.device == *device)
}

/// Every backend this binary was built with, in order of preference: the first is the default.
/// Flex first (the fastest CPU backend measured here, README "Speed"), then ndarray, then wgpu
/// (a GPU is not assumed; with no GPU wgpu runs on lavapipe, far slower than the CPU backends).
pub fn names() -> Vec<&'static str> {
    let mut names = Vec::new();
    if cfg!(feature = "flex") {
        names.push("flex");
    }
    if cfg!(feature = "ndarray") {
        names.push("ndarray");
    }
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    names
}

/// The backend used when none is asked for: the first of [`names`].
pub fn default_name() -> &'static str {
    names()[0]
}

/// Every backend this binary can name, compiled in or not, with the cargo feature that adds it.
pub const KNOWN: [&str; 3] = ["flex", "ndarray", "wgpu"];

/// `name` if it is compiled in, else an error naming the compiled ones (and how to add it).
pub fn compiled_name(name: &str) -> Result<&'static str, Error> {
    among(name, &names())
}

fn among(name: &str, compiled: &[&'static str]) -> Result<&'static str, Error> {
    if let Some(&name) = compiled.iter().find(|n| **n == name) {
        return Ok(name);
    }
    let how = if KNOWN.contains(&name) {
        format!(
            "backend `{name}` is not compiled into this binary (rebuild with `--features {name}`)"
        )
    } else {
        format!("there is no backend `{name}`")
    };
    Err(Error::Check(format!(
        "{how}; this binary has: {}",
        compiled.join(", ")
    )))
}

/// The backend called `name`, if it is compiled in.
pub fn by_name(name: &str) -> Result<Backend, Error> {
    let name = compiled_name(name)?;
    Ok(Backend {
        name,
        device: device(name),
    })
}

/// The default backend.
pub fn default_backend() -> Backend {
    by_name(default_name()).expect("the default backend is compiled in")
}

/// Every compiled backend, in the order of [`names`] (for parity checks between them).
pub fn compiled() -> Vec<Backend> {
    names()
        .into_iter()
        .map(|name| Backend {
            name,
            device: device(name),
        })
        .collect()
}

/// The device of a compiled backend's name.
#[allow(deprecated)] // NdArray is deprecated in burn 0.22 but is the design's CPU backend
fn device(name: &str) -> Device {
    match name {
        #[cfg(feature = "flex")]
        "flex" => Device::flex(),
        #[cfg(feature = "ndarray")]
        "ndarray" => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        _ => unreachable!("`{name}` is checked against names() first"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The default build has every backend, so the CLI test cannot meet a known one that is
    // missing; the message is checked here against a lean build's list.
    #[test]
    fn a_known_backend_not_compiled_in_says_which_feature_adds_it() {
        assert_eq!(among("flex", &["flex"]).unwrap(), "flex");
        let message = among("wgpu", &["flex", "ndarray"]).unwrap_err().to_string();
        assert!(message.contains("`wgpu` is not compiled"), "{message}");
        assert!(message.contains("--features wgpu"), "{message}");
        assert!(
            message.ends_with("this binary has: flex, ndarray"),
            "{message}"
        );
        let message = among("cuda", &["flex"]).unwrap_err().to_string();
        assert!(message.contains("there is no backend `cuda`"), "{message}");
        assert!(!message.contains("--features"), "{message}");
    }
}
