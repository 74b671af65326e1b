//! Times the CNN's convolutions in their two forms, forward and backward, at the course CNN's
//! shapes (batch 64): `Cnn::forward_images` (the fastest form for the backend: on Flex the fused
//! convolution and pool of `conv.rs`, elsewhere the first layer's window product, `cnn.rs`)
//! against `Cnn::forward_layers` (burn's `Conv2d` and `MaxPool2d`), alternated, each round the
//! mean of 20 steps, on the default backend; first the one-channel first layer alone (1 → 32
//! channels, 3×3), then both of `configs/cnn.toml`'s conv blocks (then 32 → 64, 3×3, max-pool
//! 2). The networks end in a dense output, so the convolutions' own cost sets the difference.
//! `cargo run --release -p mnist-models --example conv_forms [-- ROUNDS]`
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use mnist_models::{Activation, Cnn, CnnConfig, ConvLayer, PoolConfig, PoolKind};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(3, |a| a.parse().expect("ROUNDS is a count"));
    let device = Device::default().autodiff();
    let block = |channels, pool| ConvLayer {
        channels,
        kernel: 3,
        padding: 0,
        activation: Activation::Relu,
        pool,
        dropout: 0.0,
    };
    let max_pool = Some(PoolConfig {
        kind: PoolKind::Max,
        size: 2,
    });
    let networks = [
        ("the first layer", vec![block(32, None)]),
        (
            "both conv blocks",
            vec![block(32, None), block(64, max_pool)],
        ),
    ];
    let images = Tensor::<4>::random([64, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    println!("{device:?}, 20 steps a round, ms per forward + backward:");
    for (what, conv) in networks {
        let config = CnnConfig {
            normalize: None,
            conv,
            dense: Vec::new(),
        };
        let model = Cnn::new(&config, 1, &device);
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
        for round in 1..=rounds {
            let mut line = format!("{what}, round {round}:");
            for (name, forward) in [
                (
                    "fastest form",
                    Cnn::forward_images as fn(&Cnn, Tensor<4>) -> Tensor<2>,
                ),
                ("burn's layers", Cnn::forward_layers),
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
}
