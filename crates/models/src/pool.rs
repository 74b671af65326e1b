//! Max-pooling over `k×k` windows at stride `k` (every pool a config describes), as the fused
//! convolution-and-pool of [`crate::conv`] takes it on Flex: one sweep over each plane that keeps,
//! for every window, its largest value and where in the plane it lies (the first such position
//! in row order, as PyTorch picks); backward, each gradient goes back to that position (windows
//! do not overlap at stride `k`, so nothing adds).
//!
//! Flex pools through its general 3-D kernel with 64-bit indices: for the course CNN's
//! `[64, 64, 24, 24]` batch that was 8-9% of a training step (`perf` over
//! `examples/step_profile`, forward alone), more than the ReLU and dropout beside it.

use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;
use burn::tensor::DType;

use crate::fused::runs_on;

/// Whether [`pool_plane`] computes `pool` of `x` (in [`crate::conv::forward_max_pooled`]): on
/// Flex, f32, square windows at their own stride, no padding, no dilation, output sizes rounded
/// down.
pub fn takes(pool: &MaxPool2d, x: &Tensor<4>) -> bool {
    let [k, k2] = pool.kernel_size;
    runs_on(&x.device())
        && x.dtype() == DType::F32
        && k == k2
        && pool.stride == [k, k]
        && pool.dilation == [1, 1]
        && matches!(pool.padding, PaddingConfig2d::Valid)
        && !pool.ceil_mode
}

/// The max-pool of one plane `x` (rows `w` long) over `size × size` windows at stride `size`
/// into `y` (rows `w / size` long), and where each largest value lies in the plane into `at`:
/// the first largest in row order (as PyTorch picks); a NaN wins and stays.
pub(crate) fn pool_plane(x: &[f32], w: usize, size: usize, y: &mut [f32], at: &mut [i32]) {
    let ow = w / size;
    assert!(
        i32::try_from(x.len()).is_ok() && y.len() * size * size <= x.len(),
        "a plane under 2³¹ values and its windows"
    );
    for (oy, y) in y.chunks_exact_mut(ow).enumerate() {
        let top = oy * size * w;
        if size == 2 {
            let at = &mut at[oy * ow..][..ow];
            pool_row_of_pairs(&x[top..][..w], &x[top + w..][..w], top, w, y, at);
            continue;
        }
        for (ox, y) in y.iter_mut().enumerate() {
            let first = top + ox * size;
            let mut best = (x[first], first);
            for r in 0..size {
                let row = first + r * w;
                for (j, &v) in x[row..row + size].iter().enumerate() {
                    if v > best.0 || (v.is_nan() && !best.0.is_nan()) {
                        best = (v, row + j);
                    }
                }
            }
            *y = best.0;
            at[oy * ow + ox] = best.1 as i32;
        }
    }
}

/// [`pool_plane`]'s row of 2 × 2 windows over the plane rows `upper` and `lower` (the
/// course CNN's pool): the four values of each window compared in row order without
/// bounds checks or an inner loop: 1.1 against 2.2 ms for a `[64, 64, 24, 24]` batch (a scratch
/// timing of the forward pool); a window with a NaN takes the general rule.
fn pool_row_of_pairs(
    upper: &[f32],
    lower: &[f32],
    top: usize,
    w: usize,
    y: &mut [f32],
    at: &mut [i32],
) {
    let (upper, _) = upper.as_chunks::<2>();
    let (lower, _) = lower.as_chunks::<2>();
    for (ox, ((y, &[a, b]), &[c, d])) in y.iter_mut().zip(upper).zip(lower).enumerate() {
        let (mut best, mut which) = (a, 0);
        for (k, v) in [(1, b), (2, c), (3, d)] {
            if v > best {
                (best, which) = (v, k);
            }
        }
        if a.is_nan() || b.is_nan() || c.is_nan() || d.is_nan() {
            // The first NaN, as the general rule picks.
            which = [a, b, c, d].iter().position(|v| v.is_nan()).unwrap_or(0);
            best = f32::NAN;
        }
        *y = best;
        let (r, j) = (which / 2, which % 2);
        at[ox] = (top + r * w + 2 * ox + j) as i32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::values;
    use burn::nn::pool::MaxPool2dConfig;

    /// Pooling each plane is burn's `MaxPool2d`, forward and backward, to the bit: windows of 2
    /// (the pairs' path) and 3 over planes whose sizes they do not divide, values that tie
    /// inside windows; burn's input gradient is each output's gradient at the position the
    /// plane's pool names, 0 elsewhere.
    #[test]
    fn pooling_a_plane_is_burns_max_pool_forward_and_backward() {
        let device = Device::flex().autodiff();
        let (b, c, h, w) = (3, 2, 7, 9);
        // Values -2..2 in steps of 0.5, so windows tie.
        let raw: Vec<f32> = (0..b * c * h * w)
            .map(|i| ((i * 7) % 9) as f32 * 0.5 - 2.0)
            .collect();
        for size in [2, 3] {
            let pool = MaxPool2dConfig::new([size, size]).init();
            let x = Tensor::<4>::from_data(TensorData::new(raw.clone(), [b, c, h, w]), &device)
                .require_grad();
            assert!(takes(&pool, &x));
            let y = pool.forward(x.clone());
            let (oh, ow) = (h / size, w / size);
            assert_eq!(y.dims(), [b, c, oh, ow]);
            let weights: Vec<f32> = (0..b * c * oh * ow).map(|i| (i % 5) as f32 - 2.0).collect();
            let grads = (y.clone()
                * Tensor::<4>::from_data(TensorData::new(weights.clone(), y.dims()), &device))
            .sum()
            .backward();
            let (y_burn, dx_burn) = (values(y), values(x.grad(&grads).unwrap()));
            let (mut y, mut dx) = (Vec::new(), vec![0f32; raw.len()]);
            for (p, plane) in raw.chunks_exact(h * w).enumerate() {
                let (mut pooled, mut at) = (vec![0f32; oh * ow], vec![0i32; oh * ow]);
                pool_plane(plane, w, size, &mut pooled, &mut at);
                for (i, &a) in at.iter().enumerate() {
                    dx[p * h * w + a as usize] = weights[p * oh * ow + i];
                }
                y.extend(pooled);
            }
            assert_eq!(y, y_burn, "size {size}: output");
            assert_eq!(dx, dx_burn, "size {size}: gradient");
            assert!(dx.iter().any(|g| *g != 0.0));
        }
        // Overlapping windows keep burn's pool.
        let overlapping = MaxPool2dConfig::new([2, 2]).with_strides([1, 1]).init();
        assert!(!takes(
            &overlapping,
            &Tensor::<4>::zeros([1, 1, 4, 4], &device)
        ));
    }
}
