//! Two small operations of every training step as one operation each on Flex, through burn's
//! backend extension (`#[backend_extension]`), with their own backward pass under autodiff:
//! tanh and the sigmoid, and the mean cross-entropy of logits.
//!
//! Flex evaluates tanh and the sigmoid with a scalar `exp` per element (its `unary_op` over
//! libm's `expf`), and as [`Activation::apply`] composes tanh (2σ(2x) − 1) it is four
//! operations forward and more backward. At the course MLP's `[50, 300]` hidden layer that was a
//! quarter of a training epoch: the same step with ReLU took 0.78–0.88 s an epoch against
//! 1.00–1.21 s with tanh (`examples/step_profile`, alternated). Here the forward pass is one
//! vectorised pass, the activations' own kernel from host inference ([`crate::host_mlp`]), and
//! the backward pass one more, `grad · f'` from the saved output: `1 − y²` for tanh, `y · (1 − y)`
//! for the sigmoid.
//!
//! burn's `CrossEntropyLoss` is a log-softmax, a gather and a mean, each with its backward
//! step: 30–40 µs a step at a batch of 50 × 10 classes, against the product before it. Here it
//! is one pass over the logits each way ([`HostSoftmax`], the host kernels' softmax):
//! the mean of ln Σ − (z_y − max z), and `(softmax − one-hot) · grad / batch`.
//!
//! Flex is always compiled in (burn's `train` feature builds it), so the extensions name it and
//! autodiff only; other backends never reach them ([`runs_on`]) and keep burn's operations.

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Autodiff, AutodiffBackend, Backend, Dispatch, Flex, backend_extension};
use burn::prelude::*;
use burn::tensor::DType;
use burn_flex::FlexTensor;
use mnist_data::NUM_CLASSES;

use crate::host_mlp::activate;
use crate::{Activation, HostSoftmax};

/// An activation as one operation, and its gradient from its output.
#[backend_extension(Flex, Autodiff)]
pub trait FusedActivation: Backend {
    /// `activation` of every element of `x` (used for tanh and the sigmoid: burn's ReLU is
    /// already one cheap operation each way on Flex).
    fn activation_forward(x: FloatTensor<Self>, activation: Activation) -> FloatTensor<Self>;

    /// `grad · f'(x)`, from the activation's output `y = f(x)` and the gradient `grad` of `y`.
    fn activation_backward(
        y: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        activation: Activation,
    ) -> FloatTensor<Self>;
}

/// Whether `device` computes on Flex (directly or under autodiff): the only backend
/// [`FusedActivation`] and [`FusedCrossEntropy`] are implemented for, and the one whose
/// threading the MLP's split hidden product is for (`Mlp::hidden_product`).
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
                    Activation::Tanh => 1.0 - y * y,
                    Activation::Sigmoid => y * (1.0 - y),
                    Activation::Relu => f32::from(u8::from(y > 0.0)),
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
        Activation::Tanh => B::float_tanh(x),
        Activation::Sigmoid => B::sigmoid(x),
        Activation::Relu => B::relu(x),
    }
}

/// `grad · f'` in the backend's own operations.
fn derivative_times<B: Backend>(
    y: FloatTensor<B>,
    grad: FloatTensor<B>,
    activation: Activation,
) -> FloatTensor<B> {
    if activation == Activation::Relu {
        return B::relu_backward(y, grad);
    }
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

/// The mean cross-entropy of a batch's logits as one operation, and its gradient.
#[backend_extension(Flex, Autodiff)]
pub trait FusedCrossEntropy: Backend {
    /// The mean over the batch of `−log softmax(z)[y]`: `[1]`, of logits `[batch, 10]` (f32) and
    /// classes `[batch]` (i32 or i64).
    fn cross_entropy_forward(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
    ) -> FloatTensor<Self>;

    /// The logits' gradient `[batch, 10]`: `(softmax(z) − one-hot(y)) · grad / batch`, where
    /// `grad` `[1]` is the loss's.
    fn cross_entropy_backward(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// Whether [`cross_entropy`] takes `logits` and `targets`: on Flex, f32 logits over the ten
/// classes and i32 or i64 classes (Flex keeps the batcher's labels as i32).
pub fn cross_entropy_takes(logits: &Tensor<2>, targets: &Tensor<1, Int>) -> bool {
    runs_on(&logits.device())
        && logits.dims()[1] == NUM_CLASSES
        && logits.dtype() == DType::F32
        && matches!(targets.dtype(), DType::I32 | DType::I64)
}

/// The mean cross-entropy `[1]` of logits `[batch, 10]` and classes `[batch]`, as one
/// operation; only where [`cross_entropy_takes`] them.
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    Tensor::from_dispatch(<Dispatch as FusedCrossEntropy>::cross_entropy_forward(
        logits.into_dispatch(),
        targets.into_dispatch(),
    ))
}

/// Each row of `logits` `[batch, 10]` with its class from `targets` `[batch]`.
fn rows(logits: &FlexTensor, targets: &FlexTensor) -> Vec<([f32; NUM_CLASSES], usize)> {
    let logits = logits.to_contiguous();
    let targets = targets.to_contiguous();
    let z = logits
        .as_slice::<f32>()
        .expect("f32 logits (`cross_entropy_takes`)");
    let y: Vec<i64> = match targets.dtype() {
        DType::I32 => targets
            .as_slice::<i32>()
            .map(|y| y.iter().map(|&c| c.into()).collect()),
        _ => targets.as_slice::<i64>().map(<[i64]>::to_vec),
    }
    .expect("i32 or i64 classes (`cross_entropy_takes`)");
    let (z, _) = z.as_chunks::<NUM_CLASSES>();
    assert_eq!(z.len(), y.len(), "one class per row of logits");
    z.iter()
        .zip(y)
        .map(|(z, y)| {
            let y = usize::try_from(y).ok().filter(|&y| y < NUM_CLASSES);
            (*z, y.expect("classes 0..=9 (the batcher's labels)"))
        })
        .collect()
}

impl FusedCrossEntropy for Flex {
    fn cross_entropy_forward(logits: FlexTensor, targets: FlexTensor) -> FlexTensor {
        let rows = rows(&logits, &targets);
        let total: f32 = rows.iter().map(|(z, y)| HostSoftmax::new(z, *y).nll).sum();
        let mean = total / rows.len() as f32;
        FlexTensor::from_data(TensorData::new(vec![mean], [1]))
    }

    fn cross_entropy_backward(
        logits: FlexTensor,
        targets: FlexTensor,
        grad: FlexTensor,
    ) -> FlexTensor {
        let rows = rows(&logits, &targets);
        let grad = grad.to_contiguous();
        let scale = grad.as_slice::<f32>().expect("an f32 loss gradient")[0] / rows.len() as f32;
        let mut out = Vec::with_capacity(rows.len() * NUM_CLASSES);
        for (z, y) in &rows {
            let softmax = HostSoftmax::new(z, *y);
            out.extend((0..NUM_CLASSES).map(|c| {
                let p = softmax.exp[c] / softmax.sum;
                (p - if c == *y { 1.0 } else { 0.0 }) * scale
            }));
        }
        FlexTensor::from_data(TensorData::new(out, [rows.len(), NUM_CLASSES]))
    }
}

impl<B: Backend + FusedCrossEntropy, C: CheckpointStrategy> FusedCrossEntropy for Autodiff<B, C> {
    fn cross_entropy_forward(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Forward;

        impl<B: Backend + FusedCrossEntropy> Backward<B, 1> for Forward {
            /// The logits and the classes.
            type State = (B::FloatTensorPrimitive, B::IntTensorPrimitive);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let (logits, targets) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::cross_entropy_backward(logits, targets, grad)
                });
            }
        }

        match Forward
            .prepare::<C>([logits.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let logits = logits.into_primitive();
                let loss = B::cross_entropy_forward(logits.clone(), targets.clone());
                prep.finish((logits, targets), loss)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::cross_entropy_forward(logits.into_primitive(), targets))
            }
        }
    }

    /// The gradient as a constant (its own gradient is not asked for).
    fn cross_entropy_backward(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::cross_entropy_backward(
            logits.into_primitive(),
            targets,
            grad.into_primitive(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{values, worst_difference};

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
        for activation in [Activation::Tanh, Activation::Sigmoid, Activation::Relu] {
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
            let worst = worst_difference(&g_fused, &g_burn);
            assert!(
                worst_difference(&y_fused, &y_burn) < 1e-6,
                "{activation:?} forward"
            );
            assert!(worst < 1e-5, "{activation:?} backward: {worst}");
            assert!(
                g_burn.iter().any(|g| g.abs() > 0.1),
                "{activation:?}: no gradient"
            );
        }
    }

    /// The fused cross-entropy is burn's `CrossEntropyLoss`: the same mean loss and the same
    /// gradient of the logits (which flows on through a product), with logits up to ±60 (the
    /// softmax's shift by the row's largest logit matters there), every class as a target.
    #[test]
    fn the_fused_cross_entropy_is_burns_forward_and_backward() {
        use burn::nn::loss::CrossEntropyLoss;
        let device = Device::flex().autodiff();
        let batch = 13;
        let raw: Vec<f32> = (0..batch * 7)
            .map(|i| (i as f32 * 1.3).cos() * 4.0)
            .collect();
        let weights: Vec<f32> = (0..7 * NUM_CLASSES)
            .map(|i| ((i * 13) % 11) as f32 - 5.0)
            .collect();
        let classes: Vec<i64> = (0..batch as i64).map(|i| (i * 7) % 10).collect();
        let run = |fused: bool| {
            let x = Tensor::<2>::from_data(TensorData::new(raw.clone(), [batch, 7]), &device)
                .require_grad();
            let w =
                Tensor::<2>::from_data(TensorData::new(weights.clone(), [7, NUM_CLASSES]), &device);
            let logits = x.clone().matmul(w); // [13, 10]
            let targets =
                Tensor::<1, Int>::from_data(TensorData::new(classes.clone(), [batch]), &device);
            assert!(cross_entropy_takes(&logits, &targets));
            let loss = if fused {
                cross_entropy(logits, targets)
            } else {
                CrossEntropyLoss::new(None, &device).forward(logits, targets)
            };
            let grads = loss.clone().backward();
            (values(loss), values(x.grad(&grads).unwrap()))
        };
        let ((loss_fused, g_fused), (loss_burn, g_burn)) = (run(true), run(false));
        assert!(
            loss_burn[0] > 1.0,
            "a loss worth comparing: {}",
            loss_burn[0]
        );
        assert!(
            (loss_fused[0] - loss_burn[0]).abs() < 1e-5 * loss_burn[0],
            "loss {} against {}",
            loss_fused[0],
            loss_burn[0]
        );
        let worst = worst_difference(&g_fused, &g_burn);
        let scale = g_burn.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(
            scale > 0.1 && worst < 1e-5 * scale,
            "gradient: {worst} (scale {scale})"
        );
        // Other shapes keep burn's loss.
        let five = Tensor::<2>::zeros([2, 5], &device);
        let two = Tensor::<1, Int>::zeros([2], &device);
        assert!(!cross_entropy_takes(&five, &two));
    }
}
