//! Times the scratch linear model's fused host step (`linear_host`) alone: whole epochs of
//! batch 50 over the 60,000 training images in a shuffled order, no recording, no validation.
//! Prints every epoch's seconds and their median, so a change to the kernel can be judged
//! without the trainer around it.
//! `cargo run --release -p mnist-models --example host_step [-- EPOCHS]`
use std::time::Instant;

use mnist_models::linear_host::HostLinear;
use rand::SeedableRng;
use rand::seq::SliceRandom;

fn main() {
    let epochs: usize = std::env::args()
        .nth(1)
        .map_or(7, |a| a.parse().expect("EPOCHS is a count"));
    let data = mnist_data::load(None).expect("the repository's data/mnist_all.mat");
    let train = &data.train;
    // The course's starting point: all weights 0 (a fixed start makes runs comparable).
    let mut host = HostLinear::from_weights(&vec![0.0; 785 * 10]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut seconds = Vec::new();
    for epoch in 1..=epochs {
        order.shuffle(&mut rng);
        let start = Instant::now();
        let mut correct = 0;
        for batch in order.chunks(50) {
            correct += host.step(train, batch, 0.01).correct;
        }
        let s = start.elapsed().as_secs_f64();
        println!(
            "epoch {epoch}: {s:.4} s, train accuracy {:.4}",
            correct as f64 / train.len() as f64
        );
        seconds.push(s);
    }
    seconds.sort_by(f64::total_cmp);
    println!("median {:.4} s/epoch", seconds[seconds.len() / 2]);
}
