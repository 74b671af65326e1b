//! Times the CNN's two forms of a one-channel first layer, forward and backward, at the course
//! CNN's shapes (batch 64, 1 → 32 channels, 3×3): `Cnn::forward_images` (the window product,
//! `cnn.rs`) against `Cnn::forward_layers` (burn's `Conv2d`), alternated, each round the mean of
//! 20 steps, on the default backend. The network is that layer and a dense output, so the layer's
//! own cost sets the difference.
//! `cargo run --release -p mnist-models --example conv_forms [-- ROUNDS]`
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use mnist_models::{Activation, Cnn, CnnConfig, ConvLayer};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(3, |a| a.parse().expect("ROUNDS is a count"));
    let device = Device::default().autodiff();
    let config = CnnConfig {
        normalize: None,
        conv: vec![ConvLayer {
            channels: 32,
            kernel: 3,
            padding: 0,
            activation: Activation::Relu,
            pool: None,
            dropout: 0.0,
        }],
        dense: Vec::new(),
    };
    let model = Cnn::new(&config, 1, &device);
    let images = Tensor::<4>::random([64, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    let step = |forward: fn(&Cnn, Tensor<4>) -> Tensor<2>| {
        let grads = forward(&model, images.clone()).sum().backward();
        let weight = model.conv[0]
            .conv
            .weight
            .val()
            .grad(&grads)
            .expect("a gradient");
        // Reading one value waits for the whole backward pass.
        weight.slice([0..1, 0..1, 0..1, 0..1]).into_scalar::<f32>()
    };
    println!("{device:?}, 20 steps a round, ms per forward + backward:");
    for round in 1..=rounds {
        let mut line = format!("round {round}:");
        for (name, forward) in [
            (
                "window product",
                Cnn::forward_images as fn(&Cnn, Tensor<4>) -> Tensor<2>,
            ),
            ("burn Conv2d", Cnn::forward_layers),
        ] {
            step(forward); // warm-up
            let start = Instant::now();
            for _ in 0..20 {
                step(forward);
            }
            let ms = start.elapsed().as_secs_f64() * 1e3 / 20.0;
            line += &format!("  {name} {ms:.2}");
        }
        println!("{line}");
    }
}
