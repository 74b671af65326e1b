//! The course's network: Flatten → Dense(300, tanh) → Dense(10) (softmax in the loss).

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation;
use mnist_data::{IMAGE_PIXELS, NUM_CLASSES};

use crate::{Activation, init};

#[derive(Module, Debug)]
pub struct Mlp {
    /// weight `[784, hidden]`, bias `[hidden]`
    pub hidden: Linear,
    /// weight `[hidden, 10]`, bias `[10]`
    pub output: Linear,
    #[module(skip)]
    pub activation: Activation,
}

impl Mlp {
    /// Glorot-uniform weights and zero biases: Keras' `Dense` defaults, which the course used.
    pub fn new(hidden: usize, activation: Activation, seed: u64, device: &Device) -> Self {
        let mut rng = init::rng(seed);
        let mut layer = |fan_in: usize, fan_out: usize| {
            let limit = (6.0 / (fan_in + fan_out) as f32).sqrt();
            Linear {
                weight: init::param2(
                    init::uniform(&mut rng, fan_in * fan_out, limit),
                    [fan_in, fan_out],
                    device,
                ),
                bias: Some(init::param1(vec![0.0; fan_out], device)),
            }
        };
        let hidden_layer = layer(IMAGE_PIXELS, hidden);
        let output = layer(hidden, NUM_CLASSES);
        Self {
            hidden: hidden_layer,
            output,
            activation,
        }
    }

    /// Logits `[batch, 10]` of `[batch, 784]` images.
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        let h = self.hidden.forward(images); // [batch, hidden]
        let h = match self.activation {
            // tanh(h) = 2·σ(2h) − 1, exactly (to 2e-7 in f32). Burn's CPU backends evaluate tanh
            // with scalar libm calls, forward and again in the backward pass: that alone was a
            // quarter of an MLP epoch in `perf`. The sigmoid form runs at half the cost.
            Activation::Tanh => activation::sigmoid(h * 2.0) * 2.0 - 1.0,
            Activation::Relu => activation::relu(h),
            Activation::Sigmoid => activation::sigmoid(h),
        };
        self.output.forward(h)
    }
}
