//! Max-pooling over `k×k` windows at stride `k` (every pool a config describes) as one operation
//! each way on Flex, through burn's backend extension, with its own backward pass.
//!
//! Flex pools through its general 3-D kernel with 64-bit indices: for the course CNN's
//! `[64, 64, 24, 24]` batch that was 8-9% of a training step (`perf` over
//! `examples/step_profile`, forward alone), more than the ReLU and dropout beside it. Here the
//! forward pass is one sweep over each image's planes that keeps, for every window, its largest
//! value and where in the plane it lies (the first such position in row order, as PyTorch
//! picks); the backward pass puts each gradient back at that position (windows do not overlap
//! at stride `k`, so nothing adds).
//!
//! Only f32 on Flex ([`takes`]); elsewhere burn's `MaxPool2d` runs.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Autodiff, AutodiffBackend, Backend, Dispatch, Flex, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;
use burn::tensor::DType;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::fused::runs_on;

/// A max-pool over `size × size` windows at stride `size`, and its gradient.
#[backend_extension(Flex, Autodiff)]
pub trait FusedMaxPool: Backend {
    /// The windows' largest values `[B, C, H / size, W / size]` of `x` `[B, C, H, W]` (rows and
    /// columns past the last whole window left out), and where each lies in its plane
    /// (`row · W + column`, i32).
    fn max_pool_forward(x: FloatTensor<Self>, size: usize) -> (FloatTensor<Self>, IntTensor<Self>);

    /// The input's gradient `[B, C, H, W]`: each of `grad`'s values at its window's largest
    /// value (`positions`, from the forward pass), 0 elsewhere.
    fn max_pool_backward(
        grad: FloatTensor<Self>,
        positions: IntTensor<Self>,
        input: [usize; 4],
    ) -> FloatTensor<Self>;
}

/// Whether [`forward`] computes `pool` of `x`: on Flex, f32, square windows at their own
/// stride, no padding, no dilation, output sizes rounded down.
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

/// `pool` of `x` as one operation; only where [`takes`] it.
pub fn forward(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let (y, _) =
        <Dispatch as FusedMaxPool>::max_pool_forward(x.into_dispatch(), pool.kernel_size[0]);
    Tensor::from_dispatch(y)
}

/// The max-pool of one plane `x` (rows `w` long) over `size × size` windows at stride `size`
/// into `y` (rows `w / size` long), and where each largest value lies in the plane into `at`
/// when asked: the first largest in row order (as PyTorch picks); a NaN wins and stays.
pub(crate) fn pool_plane(
    x: &[f32],
    w: usize,
    size: usize,
    y: &mut [f32],
    mut at: Option<&mut [i32]>,
) {
    let ow = w / size;
    assert!(
        i32::try_from(x.len()).is_ok() && y.len() * size * size <= x.len(),
        "a plane under 2³¹ values and its windows"
    );
    for (oy, y) in y.chunks_exact_mut(ow).enumerate() {
        let top = oy * size * w;
        if size == 2 {
            let at = at.as_deref_mut().map(|at| &mut at[oy * ow..][..ow]);
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
            if let Some(at) = at.as_deref_mut() {
                at[oy * ow + ox] = best.1 as i32;
            }
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
    mut at: Option<&mut [i32]>,
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
        if let Some(at) = at.as_deref_mut() {
            let (r, j) = (which / 2, which % 2);
            at[ox] = (top + r * w + 2 * ox + j) as i32;
        }
    }
}

impl FusedMaxPool for Flex {
    fn max_pool_forward(x: FlexTensor, size: usize) -> (FlexTensor, FlexTensor) {
        let x = x.to_contiguous();
        let [b, c, h, w]: [usize; 4] = x
            .layout()
            .shape()
            .to_vec()
            .try_into()
            .expect("[B, C, H, W]");
        let (oh, ow) = (h / size, w / size);
        let x = x.as_slice::<f32>().expect("f32 (`pool::takes`)");
        let shape = [b, c, oh, ow];
        // Written straight into the tensors' own (aligned) buffers: a `Vec` handed to
        // `from_data` is copied to Flex's alignment.
        let mut y = FlexTensor::empty(shape.to_vec().into(), DType::F32);
        let mut at = FlexTensor::empty(shape.to_vec().into(), DType::I32);
        let plane = (h * w, oh * ow);
        // The planes in runs of one image's channels (a task each).
        y.storage_mut::<f32>()
            .par_chunks_mut(c * plane.1)
            .zip(at.storage_mut::<i32>().par_chunks_mut(c * plane.1))
            .zip(x.par_chunks(c * plane.0))
            .for_each(|((y, at), x)| {
                let planes = y
                    .chunks_exact_mut(plane.1)
                    .zip(at.chunks_exact_mut(plane.1));
                for ((y, at), x) in planes.zip(x.chunks_exact(plane.0)) {
                    pool_plane(x, w, size, y, Some(at));
                }
            });
        (y, at)
    }

    fn max_pool_backward(grad: FlexTensor, positions: FlexTensor, input: [usize; 4]) -> FlexTensor {
        let (grad, positions) = (grad.to_contiguous(), positions.to_contiguous());
        let [_, _, h, w] = input;
        let out: usize = grad.layout().shape().to_vec()[2..].iter().product();
        let grad = grad.as_slice::<f32>().expect("an f32 gradient");
        let positions = positions.as_slice::<i32>().expect("i32 positions");
        let mut dx = FlexTensor::zeros(input.to_vec().into(), DType::F32);
        dx.storage_mut::<f32>()
            .par_chunks_mut(h * w)
            .zip(grad.par_chunks(out).zip(positions.par_chunks(out)))
            .for_each(|(dx, (grad, positions))| {
                for (&g, &p) in grad.iter().zip(positions) {
                    dx[p as usize] = g;
                }
            });
        dx
    }
}

impl<B: Backend + FusedMaxPool, C: CheckpointStrategy> FusedMaxPool for Autodiff<B, C> {
    fn max_pool_forward(x: FloatTensor<Self>, size: usize) -> (FloatTensor<Self>, IntTensor<Self>) {
        #[derive(Debug)]
        struct Forward;

        impl<B: Backend + FusedMaxPool> Backward<B, 1> for Forward {
            /// Where each window's largest value lies, and the input's shape.
            type State = (B::IntTensorPrimitive, [usize; 4]);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let (positions, input) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::max_pool_backward(grad, positions, input)
                });
            }
        }

        let input: [usize; 4] = x.shape().to_vec().try_into().expect("[B, C, H, W]");
        let prepared = Forward.prepare::<C>([x.node()]).compute_bound().stateful();
        let (y, positions) = B::max_pool_forward(x.into_primitive(), size);
        let y = match prepared {
            OpsKind::Tracked(prep) => prep.finish((positions.clone(), input), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (y, positions)
    }

    /// The gradient as a constant (its own gradient is not asked for).
    fn max_pool_backward(
        grad: FloatTensor<Self>,
        positions: IntTensor<Self>,
        input: [usize; 4],
    ) -> FloatTensor<Self> {
        Self::from_inner(B::max_pool_backward(
            grad.into_primitive(),
            positions,
            input,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::values;
    use burn::nn::pool::MaxPool2dConfig;

    /// The fused pool is burn's `MaxPool2d`, forward and backward, to the bit: windows of 2 and
    /// 3 over planes whose sizes they do not divide, values that tie inside windows, and an
    /// input that is a strided view.
    #[test]
    fn the_fused_max_pool_is_burns_forward_and_backward() {
        let device = Device::flex().autodiff();
        let (b, c, h, w) = (3, 2, 7, 9);
        // Values -2..2 in steps of 0.5, so windows tie.
        let raw: Vec<f32> = (0..b * c * h * w)
            .map(|i| ((i * 7) % 9) as f32 * 0.5 - 2.0)
            .collect();
        for size in [2, 3] {
            let pool = MaxPool2dConfig::new([size, size]).init();
            let run = |fused: bool| {
                let raw =
                    Tensor::<4>::from_data(TensorData::new(raw.clone(), [b, w, h, c]), &device)
                        .require_grad();
                let x = raw.clone().permute([0, 3, 2, 1]); // [b, c, h, w], strided
                assert!(takes(&pool, &x));
                let y = if fused {
                    forward(&pool, x)
                } else {
                    pool.forward(x)
                };
                assert_eq!(y.dims(), [b, c, h / size, w / size]);
                let n = y.dims().iter().product::<usize>();
                let weights: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
                let weights = Tensor::<4>::from_data(TensorData::new(weights, y.dims()), &device);
                let grads = (y.clone() * weights).sum().backward();
                (values(y), values(raw.grad(&grads).unwrap()))
            };
            let ((y, dx), (y_burn, dx_burn)) = (run(true), run(false));
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
