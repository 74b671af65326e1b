//! The activations a config can name, applied to tensors.

use burn::prelude::*;
use burn::tensor::activation;

use crate::{Activation, fused};

impl Activation {
    /// The activation of `x`, element by element (any shape).
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            // One vectorised operation each way on Flex (`fused.rs`).
            Activation::Tanh | Activation::Sigmoid if fused::runs_on(&x.device()) => {
                fused::apply(x, self)
            }
            _ => self.composed(x),
        }
    }

    /// The activation in burn's own operations (every backend but Flex).
    pub(crate) fn composed<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            // tanh(x) = 2·σ(2x) − 1, exactly (to 2e-7 in f32). Burn's CPU backends evaluate tanh
            // with scalar libm calls, forward and again in the backward pass: that alone was a
            // quarter of an MLP epoch in `perf`. The sigmoid form runs at half the cost.
            Activation::Tanh => activation::sigmoid(x * 2.0) * 2.0 - 1.0,
            Activation::Relu => activation::relu(x),
            Activation::Sigmoid => activation::sigmoid(x),
        }
    }
}
