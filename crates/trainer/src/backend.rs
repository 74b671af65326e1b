//! The one place that maps cargo features to a burn device.
//!
//! burn's `train` feature always compiles Flex in, and `Device::default()` prefers Flex over
//! NdArray (and reads `BURN_DEVICE`), so the device is constructed explicitly here.

use burn::prelude::Device;

#[cfg(not(any(feature = "ndarray", feature = "flex", feature = "wgpu")))]
compile_error!("enable one backend feature: `ndarray`, `flex` or `wgpu`");

/// The compiled backend and its device.
#[derive(Clone, Debug)]
pub struct Backend {
    /// The cargo feature that selected it.
    pub name: &'static str,
    pub device: Device,
}

impl Backend {
    /// One line for logs and reports: backend name and burn's description of the device.
    pub fn describe(&self) -> String {
        format!("{} ({:?})", self.name, self.device)
    }
}

/// The backend this binary was built for. When several features are on (`--features flex` on
/// top of the default `ndarray`), the explicitly requested one wins: wgpu, then flex, then ndarray.
#[allow(deprecated, unreachable_code)] // NdArray is deprecated in burn 0.22 but is the design's CPU backend
pub fn select() -> Backend {
    #[cfg(feature = "wgpu")]
    return Backend {
        name: "wgpu",
        device: Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
    };
    #[cfg(feature = "flex")]
    return Backend {
        name: "flex",
        device: Device::flex(),
    };
    #[cfg(feature = "ndarray")]
    return Backend {
        name: "ndarray",
        device: Device::ndarray(),
    };
}

/// Every backend compiled into this binary, CPU ones first (for parity checks between them).
#[allow(deprecated, clippy::vec_init_then_push)]
pub fn compiled() -> Vec<Backend> {
    let mut all = Vec::new();
    #[cfg(feature = "ndarray")]
    all.push(Backend {
        name: "ndarray",
        device: Device::ndarray(),
    });
    #[cfg(feature = "flex")]
    all.push(Backend {
        name: "flex",
        device: Device::flex(),
    });
    #[cfg(feature = "wgpu")]
    all.push(Backend {
        name: "wgpu",
        device: Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
    });
    all
}
