//! The course's network: Flatten → Dense(300, tanh) → Dense(10) (softmax in the loss), with
//! optional dropout on the hidden layer.

use burn::nn::{Dropout, Linear};
use burn::prelude::*;
use mnist_data::{IMAGE_PIXELS, NUM_CLASSES};

use crate::dropout::maybe_dropout;
use crate::{Activation, init};

#[derive(Module, Debug)]
pub struct Mlp {
    /// weight `[784, hidden]`, bias `[hidden]`
    pub hidden: Linear,
    /// weight `[hidden, 10]`, bias `[10]`
    pub output: Linear,
    #[module(skip)]
    pub activation: Activation,
    /// Absent at dropout 0 (the course's MLP): the module, its records and its results are
    /// then exactly what they were before dropout existed.
    pub dropout: Option<Dropout>,
}

impl Mlp {
    /// Glorot-uniform weights and zero biases: Keras' `Dense` defaults, which the course used.
    pub fn new(
        hidden: usize,
        activation: Activation,
        dropout: f64,
        seed: u64,
        device: &Device,
    ) -> Self {
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
            dropout: crate::dropout::dropout(dropout),
        }
    }

    /// Logits `[batch, 10]` of `[batch, 784]` images.
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        let h = self.activation.apply(self.hidden.forward(images)); // [batch, hidden]
        self.output.forward(maybe_dropout(&self.dropout, h))
    }
}

/// For each output class d, the hidden unit with the largest weight into d:
/// `(h*, w[h*][d])` where `output_weights` is `[hidden, 10]` row-major.
pub fn strongest_hidden_units(output_weights: &[f32], hidden: usize) -> Vec<(usize, f32)> {
    (0..NUM_CLASSES)
        .map(|d| {
            (0..hidden)
                .map(|h| (h, output_weights[h * NUM_CLASSES + d]))
                .fold((0, f32::NEG_INFINITY), |best, cur| {
                    if cur.1 > best.1 { cur } else { best }
                })
        })
        .collect()
}
