//! Times the MLP's host inference kernel (`host_mlp`) alone on one thread: the 10,000 test
//! images through a freshly initialised course MLP (784-300-10, tanh), several passes.
//! `HIDDEN=N` times another width: how the time grows with the units (16 units: the per-pixel
//! cost alone) says where it goes.
//! `cargo run --release -p mnist-models --example host_mlp`
use std::time::Instant;

use burn::prelude::*;
use mnist_models::host_mlp::{HostMlp, Scratch};
use mnist_models::{Activation, Mlp};

fn main() {
    let data = mnist_data::load(None).expect("the repository's data/mnist_all.mat");
    let hidden = std::env::var("HIDDEN").map_or(300, |v| v.parse().expect("HIDDEN is a count"));
    let mlp = Mlp::new(hidden, Activation::Tanh, 0.0, 1, &Device::flex());
    let host = HostMlp::new(&mlp);
    let mut scratch = Scratch::default();
    for pass in 1..=5 {
        let start = Instant::now();
        let mut sum = 0.0;
        for i in 0..data.test.len() {
            sum += host.logits(data.test.image(i), &mut scratch)[0];
        }
        let s = start.elapsed().as_secs_f64();
        println!(
            "pass {pass}: {:.2} ms, {:.0} images/s on one thread ({sum:.3})",
            s * 1e3,
            data.test.len() as f64 / s
        );
    }
}
