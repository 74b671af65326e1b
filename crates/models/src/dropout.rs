//! Dropout as the configs ask for it: a rate of 0 means no layer at all (so a model without
//! dropout has exactly the records and results it had before dropout existed).

use burn::nn::{Dropout, DropoutConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

use crate::fused::runs_on;

/// burn's `Dropout` at `rate`, or none at 0.
pub(crate) fn dropout(rate: f64) -> Option<Dropout> {
    (rate > 0.0).then(|| DropoutConfig::new(rate).init())
}

/// `x` through the layer where there is one (it acts only while training), else `x` itself.
pub(crate) fn maybe_dropout<const D: usize>(layer: &Option<Dropout>, x: Tensor<D>) -> Tensor<D> {
    match layer {
        Some(d) if d.training.is_enabled() && x.device().is_autodiff() && runs_on(&x.device()) => {
            host_mask_dropout(d.prob, x)
        }
        Some(d) => d.forward(x),
        None => x,
    }
}

/// burn's dropout with the mask drawn on the host: `x · mask`, where each element of the mask
/// is `1 / keep` with probability `keep = 1 − rate`, else 0 (burn's `Dropout` multiplies by a
/// Bernoulli mask and then by `1 / keep`: the same values, as `x · 1 · s = x · s`).
///
/// Only on Flex ([`runs_on`]), where the host is the device: burn draws a Bernoulli mask one
/// element at a time through its generic sampler, 8-9% of the course CNN's training step
/// (`perf` over `examples/step_profile`, 64 × 64 × 12 × 12 + 64 × 128 values a step); a small
/// generator fills it at a few bytes a nanosecond. One draw from burn's generator seeds it, so
/// a run's masks still follow from its seed. (On a GPU the mask would have to be uploaded.)
fn host_mask_dropout<const D: usize>(rate: f64, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    let keep = 1.0 - rate;
    // Three 24-bit parts of the seed: burn's integer draw is uniform over [low, high), bounds it
    // passes as f32 (exact up to 2²⁴) and casts to Flex's i32.
    let parts = Tensor::<1, Int>::random([3], Distribution::Uniform(0.0, 16777216.0), &device)
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("two integers");
    let seed = parts.iter().fold(0u64, |s, &p| (s << 24) ^ p as u64);
    let mut rng = SmallRng::seed_from_u64(seed);
    // keep ∈ (0, 1]: a 32-bit draw below keep · 2³² keeps the element.
    let threshold = (keep * 4294967296.0) as u64;
    let scale = (1.0 / keep) as f32;
    let shape = x.shape();
    let mask: Vec<f32> = (0..shape.num_elements())
        .map(|_| {
            if u64::from(rng.next_u32()) < threshold {
                scale
            } else {
                0.0
            }
        })
        .collect();
    x * Tensor::from_data(TensorData::new(mask, shape), &device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::values;

    /// On Flex while training, the host mask drops about `rate` of the elements, scales the
    /// rest by `1 / (1 − rate)`, and passes the gradient through the same mask; it draws a new
    /// mask each call, the same masks again from the same seed; evaluation passes `x` through.
    #[test]
    fn the_host_mask_drops_at_the_rate_and_scales_the_rest() {
        let device = Device::flex().autodiff();
        let layer = dropout(0.25);
        let n = 40_000;
        let x = Tensor::<2>::ones([200, n / 200], &device).require_grad();
        device.seed(11);
        let y = maybe_dropout(&layer, x.clone());
        let grads = (y.clone() * 2.0).sum().backward();
        let (y, dx) = (values(y), values(x.grad(&grads).unwrap()));
        let kept = y.iter().filter(|v| **v != 0.0).count() as f64 / n as f64;
        // 40,000 draws: one standard deviation of the kept share is 0.0022.
        assert!((kept - 0.75).abs() < 0.01, "kept {kept}");
        assert!(y.iter().all(|v| *v == 0.0 || *v == (1.0 / 0.75f64) as f32));
        for (y, g) in y.iter().zip(&dx) {
            assert_eq!(*g, 2.0 * y, "the gradient goes through the mask");
        }
        let again = values(maybe_dropout(&layer, x.clone()));
        assert_ne!(y, again, "a new mask each call");
        device.seed(11);
        assert_eq!(y, values(maybe_dropout(&layer, x.clone())), "seeded");
        let eval = Tensor::<2>::ones([2, 3], &Device::flex());
        assert_eq!(values(maybe_dropout(&layer, eval)), vec![1.0; 6]);
    }
}
