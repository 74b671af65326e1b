//! Where an MLP epoch goes: the same batches through a bare autodiff + Adam loop, without the
//! Learner, split into batch assembly, forward, backward, optimizer and metric reads.
//!
//! Each part is timed per step; the report gives the epoch's total and the median step × steps,
//! which a busy neighbour on a shared machine disturbs far less than the total.
//! `cargo run --release -p mnist-trainer --example step_profile [-- CONFIG]`; `STEPS=N` ends each
//! epoch after N steps (a CNN epoch is minutes long).
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::optim::GradientsParams;
use mnist_data::MnistLoader;
use mnist_models::{Model, loss_and_logits};
use mnist_trainer::run::metrics::median;
use mnist_trainer::run::plan::{Plan, Trainer};

const PARTS: [&str; 5] = ["batch", "forward", "backward", "optimizer", "metric reads"];

fn main() {
    // As `mnist` itself does first thing.
    mnist_trainer::sys::keep_freed_memory();
    // Where `mnist train` runs its loop (`threads::on_compute_pool`); POOL=0 runs it on the main
    // thread instead, to see what the hand-offs cost.
    if std::env::var("POOL").is_ok_and(|v| v == "0") {
        profile();
    } else {
        mnist_trainer::training::threads::on_compute_pool(profile);
    }
}

fn profile() {
    // The course MLP as configs/mlp.toml describes it, on the default backend.
    let config = std::env::args().nth(1).map_or_else(
        || mnist_data::repo_root().join("configs/mlp.toml"),
        PathBuf::from,
    );
    let plan = Plan::load(&config).unwrap();
    let Trainer::Learner {
        model, optimizer, ..
    } = plan.trainer().clone()
    else {
        panic!("{} trains with the Learner", config.display());
    };
    let backend = mnist_trainer::backend::default_backend();
    let ad = backend.device.clone().autodiff();
    let data = mnist_data::load(Some(plan.data())).unwrap();
    let loader =
        MnistLoader::new(Arc::new(data.train), plan.batch_size(), &ad).shuffle(plan.seed());
    let mut model = Model::new(&model, plan.seed(), &ad);
    let mut optim = optimizer.init(&backend);
    let steps_wanted = std::env::var("STEPS").map_or(usize::MAX, |s| s.parse().unwrap());
    for epoch in 0..3 {
        let mut times: [Vec<f64>; 5] = Default::default();
        let start = Instant::now();
        let mut it = loader.iter();
        loop {
            let mut lap = Instant::now();
            let mut split = |part: usize, times: &mut [Vec<f64>; 5]| {
                times[part].push(lap.elapsed().as_secs_f64());
                lap = Instant::now();
            };
            if times[0].len() == steps_wanted {
                break;
            }
            let Some(batch) = it.next() else { break };
            let batch = batch.unwrap();
            split(0, &mut times);
            let (loss, logits) = loss_and_logits(&model, &batch);
            split(1, &mut times);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            split(2, &mut times);
            model = optim.step(optimizer.lr(), model, grads);
            split(3, &mut times);
            // What the Learner's metrics read each step: the loss and the number right.
            let _loss = loss.into_scalar::<f32>();
            let _right = logits
                .argmax(1)
                .flatten::<1>(0, 1)
                .equal(batch.targets)
                .int()
                .sum()
                .into_scalar::<i64>();
            split(4, &mut times);
        }
        let steps = times[0].len() as f64;
        let parts: Vec<String> = PARTS
            .iter()
            .zip(&times)
            .map(|(name, t)| {
                format!(
                    "{name} {:.3} ({:.3})",
                    t.iter().sum::<f64>(),
                    median(t) * steps
                )
            })
            .collect();
        let typical: f64 = times.iter().map(|t| median(t) * steps).sum();
        println!(
            "epoch {epoch}: {:.2} s, median step × {steps} = {typical:.2} s; {}",
            start.elapsed().as_secs_f64(),
            parts.join(", ")
        );
    }
}
