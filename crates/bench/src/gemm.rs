//! The machine's matrix-product rate, measured with the backend's own matmul, and the floor it
//! puts under the MLP's training epoch: how fast could an epoch be if it did nothing but its
//! products, at the best rate this machine reaches, and at the rates of the step's own shapes.

use std::time::{Duration, Instant};

use burn::prelude::{Device, Tensor};
use burn::tensor::Distribution;
use mnist_data::{IMAGE_PIXELS, NUM_CLASSES};
use mnist_models::split_product;

/// Each product is repeated for at least this long (after one warm-up product), so a rate is
/// an average over many calls, not one call's luck.
const MIN_TIME: Duration = Duration::from_millis(300);

/// The square product that gives the machine's rate: big enough that the backend's kernel is
/// at its best and threads are all busy, small enough to measure in a fraction of a second.
pub const SQUARE: usize = 1024;

/// Seconds per call of `[m, k] × [k, n]` with the backend's matmul on `device`.
pub fn seconds_per_product(m: usize, k: usize, n: usize, device: &Device) -> f64 {
    seconds_per_call(m, k, n, device, |a, b| a.clone().matmul(b.clone()))
}

/// Seconds per call of the MLP's forward product `[batch, 784] × [784, hidden]` as the model
/// computes it: as two half products where it splits it (`mnist_models::split_product`).
pub fn seconds_per_forward_product(batch: usize, hidden: usize, device: &Device) -> f64 {
    seconds_per_call(batch, IMAGE_PIXELS, hidden, device, |a, b| {
        split_product(a, b).unwrap_or_else(|| a.clone().matmul(b.clone()))
    })
}

/// Seconds per call of `product` on random `[m, k]` and `[k, n]` tensors on `device`.
fn seconds_per_call(
    m: usize,
    k: usize,
    n: usize,
    device: &Device,
    product: impl Fn(&Tensor<2>, &Tensor<2>) -> Tensor<2>,
) -> f64 {
    let a = Tensor::<2>::random([m, k], Distribution::Default, device);
    let b = Tensor::<2>::random([k, n], Distribution::Default, device);
    drop(product(&a, &b));
    // A lazy backend (wgpu) queues the products: the clock stops only once they are done.
    let _ = device.sync();
    let start = Instant::now();
    let mut calls = 0u32;
    while calls < 3 || start.elapsed() < MIN_TIME {
        drop(product(&a, &b));
        calls += 1;
    }
    let _ = device.sync();
    start.elapsed().as_secs_f64() / f64::from(calls)
}

/// GFLOP/s of a `[m, k] × [k, n]` product taking `seconds`: 2·m·k·n multiply-adds counted as
/// two operations each, as BLAS benchmarks count them.
pub fn gflops(m: usize, k: usize, n: usize, seconds: f64) -> f64 {
    2.0 * (m * k * n) as f64 / seconds / 1e9
}

/// The matrix products of one training step of a 784-`hidden`-10 MLP at `batch` (bias adds,
/// activations, loss and optimizer are not products): `(m, k, n)` of each.
pub fn mlp_step_products(hidden: usize, batch: usize) -> [(usize, usize, usize); 5] {
    const PIXELS: usize = IMAGE_PIXELS;
    const CLASSES: usize = NUM_CLASSES;
    [
        (batch, PIXELS, hidden),  // forward: X [b, 784] · W1 [784, h]
        (batch, hidden, CLASSES), // forward: H [b, h] · W2 [h, 10]
        (hidden, batch, CLASSES), // dW2 = Hᵀ [h, b] · dZ [b, 10]
        (batch, CLASSES, hidden), // dH = dZ [b, 10] · W2ᵀ [10, h]
        (PIXELS, batch, hidden),  // dW1 = Xᵀ [784, b] · dA [b, h]  (no dX: the input needs none)
    ]
}

/// Floating-point operations of one epoch of the MLP over `images`: its products' 2·m·k·n,
/// summed over the steps (the last batch may be smaller; each image costs the same either way).
pub fn mlp_epoch_flops(hidden: usize, images: usize) -> f64 {
    mlp_step_products(hidden, 1)
        .iter()
        .map(|&(m, k, n)| 2.0 * (m * k * n) as f64)
        .sum::<f64>()
        * images as f64
}

/// What `mnist bench` prints about the products.
#[derive(Clone, Debug)]
pub struct GemmFigures {
    /// GFLOP/s of the `SQUARE`³ product: the machine's rate with this backend.
    pub square_gflops: f64,
    /// FLOPs of one MLP training epoch.
    pub epoch_flops: f64,
    /// Seconds of the epoch's products at `square_gflops`: the floor.
    pub floor_seconds: f64,
    /// Seconds of the epoch's products, each timed at the step's own shapes (the forward product
    /// as the model splits it).
    pub products_seconds: f64,
}

/// Measures the rate and the MLP epoch's floor, for `hidden` units, `batch` and `images`.
pub fn measure(hidden: usize, batch: usize, images: usize, device: &Device) -> GemmFigures {
    let square = seconds_per_product(SQUARE, SQUARE, SQUARE, device);
    let square_gflops = gflops(SQUARE, SQUARE, SQUARE, square);
    let epoch_flops = mlp_epoch_flops(hidden, images);
    let steps = images.div_ceil(batch) as f64;
    // The forward product (the first) as the model computes it; the others as one product.
    let products_seconds = mlp_step_products(hidden, batch)
        .iter()
        .enumerate()
        .map(|(i, &(m, k, n))| match i {
            0 => seconds_per_forward_product(batch, hidden, device),
            _ => seconds_per_product(m, k, n, device),
        })
        .sum::<f64>()
        * steps;
    GemmFigures {
        square_gflops,
        epoch_flops,
        floor_seconds: epoch_flops / (square_gflops * 1e9),
        products_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The course MLP's epoch: per image 2·(784·300 + 300·10) forward and
    /// 2·(300·10 + 10·300 + 784·300) backward, over 60,000 images: about 57.5 GFLOP.
    #[test]
    fn the_course_mlp_epoch_counts_its_products_once_each() {
        let per_image = 2.0 * (784.0 * 300.0 + 300.0 * 10.0)
            + 2.0 * (300.0 * 10.0 + 10.0 * 300.0 + 784.0 * 300.0);
        assert_eq!(mlp_epoch_flops(300, 60_000), per_image * 60_000.0);
        assert!((mlp_epoch_flops(300, 60_000) / 1e9 - 57.528).abs() < 1e-9);
        // The step's products at batch b are b times the per-image ones.
        let at_50: f64 = mlp_step_products(300, 50)
            .iter()
            .map(|&(m, k, n)| 2.0 * (m * k * n) as f64)
            .sum();
        assert_eq!(at_50, 50.0 * per_image);
    }

    #[test]
    fn a_measured_rate_is_positive_and_finite() {
        let device = mnist_trainer::backend::default_backend().device;
        let seconds = seconds_per_product(64, 64, 64, &device);
        assert!(seconds > 0.0 && seconds < 1.0, "{seconds}");
        let rate = gflops(64, 64, 64, seconds);
        assert!(rate.is_finite() && rate > 0.0, "{rate}");
    }
}
