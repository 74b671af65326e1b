//! tanh and the sigmoid as one operation each on Flex, through burn's backend extension
//! (`#[backend_extension]`), with their own backward pass under autodiff.
//!
//! Flex evaluates both with a scalar `exp` per element (its `unary_op` over libm's `expf`),
//! and as [`Activation::apply`] composes tanh (2σ(2x) − 1) it is four operations forward and
//! more backward. At the course MLP's `[50, 300]` hidden layer that was a quarter of a training
//! epoch: the same step with ReLU took 0.78–0.88 s an epoch against 1.00–1.21 s with tanh
//! (`examples/step_profile`, alternated). Here the forward pass is one vectorised pass, the
//! activations' own kernel from host inference ([`crate::host_mlp`]), and the backward pass one
//! more, `grad · f'` from the saved output: `1 − y²` for tanh, `y · (1 − y)` for the sigmoid.
//!
//! Flex is always compiled in (burn's `train` feature builds it), so the extension names it and
//! autodiff only; other backends never reach it ([`runs_on`]) and keep the composed form.

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension, tensor::FloatTensor};
use burn::prelude::*;
use burn::tensor::DType;
use burn_flex::FlexTensor;

use crate::Activation;
use crate::host_mlp::activate;

/// An activation as one operation, and its gradient from its output.
#[backend_extension(Flex, Autodiff)]
pub trait FusedActivation: Backend {
    /// `activation` (tanh or the sigmoid) of every element of `x`.
    fn activation_forward(x: FloatTensor<Self>, activation: Activation) -> FloatTensor<Self>;

    /// `grad · f'(x)`, from the activation's output `y = f(x)` and the gradient `grad` of `y`.
    fn activation_backward(
        y: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        activation: Activation,
    ) -> FloatTensor<Self>;
}

/// Whether `device` computes on Flex (directly or under autodiff): the only backend
/// [`FusedActivation`] is implemented for, and the one whose threading the MLP's split hidden
/// product is for (`Mlp::hidden_product`).
pub fn runs_on(device: &Device) -> bool {
    device.clone().inner() == Device::flex()
}

/// `activation` of `x` as one operation. Only for tanh and the sigmoid on Flex ([`runs_on`]).
pub fn apply<const D: usize>(x: Tensor<D>, activation: Activation) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as FusedActivation>::activation_forward(
        x.into_dispatch(),
        activation,
    ))
}

impl FusedActivation for Flex {
    fn activation_forward(x: FlexTensor, activation: Activation) -> FlexTensor {
        if x.dtype() != DType::F32 {
            return composed::<Flex>(x, activation);
        }
        map_f32(x, |y| activate(activation, y))
    }

    fn activation_backward(y: FlexTensor, grad: FlexTensor, activation: Activation) -> FlexTensor {
        if y.dtype() != DType::F32 || grad.dtype() != DType::F32 {
            return derivative_times::<Flex>(y, grad, activation);
        }
        let y = y.to_contiguous();
        let (start, end) = y.layout().contiguous_offsets().expect("contiguous");
        let y = &y.storage::<f32>()[start..end];
        map_f32(grad, |g| {
            for (g, &y) in g.iter_mut().zip(y) {
                *g *= match activation {
                    Activation::Sigmoid => y * (1.0 - y),
                    _ => 1.0 - y * y,
                };
            }
        })
    }
}

/// `x` (f32) with `f` applied to its elements in place: in `x`'s own buffer when no other
/// tensor shares it, else in a new one.
fn map_f32(x: FlexTensor, f: impl FnOnce(&mut [f32])) -> FlexTensor {
    let mut x = if x.is_contiguous() {
        x
    } else {
        x.to_contiguous()
    };
    let (start, end) = x.layout().contiguous_offsets().expect("contiguous");
    if let Some(values) = x.try_storage_mut::<f32>() {
        f(&mut values[start..end]);
        return x;
    }
    let mut out = FlexTensor::empty(x.layout().shape().clone(), DType::F32);
    let values = out.storage_mut::<f32>();
    values.copy_from_slice(&x.storage::<f32>()[start..end]);
    f(values);
    out
}

/// The activation composed of the backend's own operations (what [`Activation::apply`] does
/// elsewhere), for a dtype the vectorised kernel does not take.
fn composed<B: Backend>(x: FloatTensor<B>, activation: Activation) -> FloatTensor<B> {
    match activation {
        Activation::Sigmoid => B::sigmoid(x),
        _ => B::float_tanh(x),
    }
}

/// `grad · f'` in the backend's own operations.
fn derivative_times<B: Backend>(
    y: FloatTensor<B>,
    grad: FloatTensor<B>,
    activation: Activation,
) -> FloatTensor<B> {
    let y2 = B::float_mul(y.clone(), y.clone());
    let derivative = match activation {
        Activation::Sigmoid => B::float_sub(y, y2), // y − y² = y · (1 − y)
        _ => B::float_add_scalar(B::float_neg(y2), 1f32.into()), // 1 − y²
    };
    B::float_mul(grad, derivative)
}

impl<B: Backend + FusedActivation, C: CheckpointStrategy> FusedActivation for Autodiff<B, C> {
    fn activation_forward(x: FloatTensor<Self>, activation: Activation) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Forward;

        impl<B: Backend + FusedActivation> Backward<B, 1> for Forward {
            /// The activation's output and which activation it was.
            type State = (B::FloatTensorPrimitive, Activation);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let (y, activation) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::activation_backward(y, grad, activation)
                });
            }
        }

        match Forward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::activation_forward(x.into_primitive(), activation);
                prep.finish((y.clone(), activation), y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::activation_forward(x.into_primitive(), activation))
            }
        }
    }

    fn activation_backward(
        y: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        activation: Activation,
    ) -> FloatTensor<Self> {
        derivative_times::<Self>(y, grad, activation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_into_vec().unwrap()
    }

    /// The fused activations give burn's composed ones, forward and backward: over a
    /// transposed (non-contiguous) input, an input another tensor still shares, and values
    /// from −9 to 9 (where tanh saturates). The gradient flows through a product, so that a
    /// wrong derivative (or `1 − y` for `1 − y²`) changes it.
    #[test]
    fn the_fused_activations_are_the_composed_ones_forward_and_backward() {
        let device = Device::flex().autodiff();
        assert!(runs_on(&device) && runs_on(&Device::flex()));
        let raw: Vec<f32> = (0..12 * 37).map(|i| (i as f32 * 0.7).sin() * 9.0).collect();
        let weights: Vec<f32> = (0..12 * 37).map(|i| ((i * 31) % 17) as f32 - 8.0).collect();
        for activation in [Activation::Tanh, Activation::Sigmoid] {
            let run = |fused: bool| {
                let x = Tensor::<2>::from_data(TensorData::new(raw.clone(), [12, 37]), &device)
                    .require_grad();
                let w = Tensor::<2>::from_data(TensorData::new(weights.clone(), [37, 12]), &device);
                let input = x.clone().transpose(); // [37, 12], a strided view
                let shared = input.clone();
                let y = if fused {
                    apply(input, activation)
                } else {
                    activation.composed(input)
                };
                let loss = (y.clone() * w).sum() + shared.sum() * 0.0;
                let grads = loss.backward();
                (values(y), values(x.grad(&grads).unwrap()))
            };
            let ((y_fused, g_fused), (y_burn, g_burn)) = (run(true), run(false));
            let worst = |a: &[f32], b: &[f32]| {
                assert_eq!(a.len(), b.len());
                a.iter().zip(b).fold(0f32, |m, (p, q)| m.max((p - q).abs()))
            };
            assert!(worst(&y_fused, &y_burn) < 1e-6, "{activation:?} forward");
            assert!(
                worst(&g_fused, &g_burn) < 1e-5,
                "{activation:?} backward: {}",
                worst(&g_fused, &g_burn)
            );
            assert!(
                g_burn.iter().any(|g| g.abs() > 0.1),
                "{activation:?}: no gradient"
            );
        }
    }
}
