//! Where test-set inference goes: the 10,000 test images through the MLP in batches of 500, as
//! `mnist eval` runs them, split into batch assembly (bytes to floats), the hidden layer's
//! product and bias, its activation, the output layer, the loss, and the predictions read back.
//!
//! Each part is timed per batch (the backend is made to finish each part before the clock is
//! read); the report gives each part's median batch × batches over several passes.
//! `cargo run --release -p mnist-trainer --example infer_profile [-- CONFIG]`
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::nn::loss::CrossEntropyLoss;
use mnist_data::MnistLoader;
use mnist_models::{Model, correct_count, predicted_classes};
use mnist_trainer::run::metrics::median;
use mnist_trainer::run::plan::Plan;

const PARTS: [&str; 6] = [
    "batch",
    "hidden product",
    "activation",
    "output",
    "loss",
    "reads",
];
const BATCH: usize = 500;
const PASSES: usize = 5;

fn main() {
    mnist_trainer::training::threads::on_compute_pool(profile);
}

fn profile() {
    let config = std::env::args().nth(1).map_or_else(
        || mnist_data::repo_root().join("configs/mlp.toml"),
        PathBuf::from,
    );
    let plan = Plan::load(&config).unwrap();
    let backend = mnist_trainer::backend::default_backend();
    let device = &backend.device;
    let Model::Mlp(mlp) = Model::new(&plan.model(), plan.seed(), device) else {
        panic!("{} is not an MLP", config.display());
    };
    let data = mnist_data::load(Some(plan.data())).unwrap();
    let test = Arc::new(data.test);
    let loader = MnistLoader::new(Arc::clone(&test), BATCH, device);
    let mut times: [Vec<f64>; 6] = Default::default();
    let start = Instant::now();
    for _ in 0..PASSES {
        let mut lap = Instant::now();
        // Reading one value forces a lazy backend to finish the part before the clock is read.
        let mut split = |part: usize, times: &mut [Vec<f64>; 6]| {
            times[part].push(lap.elapsed().as_secs_f64());
            lap = Instant::now();
        };
        for batch in loader.iter() {
            let batch = batch.unwrap();
            let _ = device.sync();
            split(0, &mut times);
            let h = mlp.hidden.forward(batch.images); // [500, hidden]
            let _ = device.sync();
            split(1, &mut times);
            let h = mlp.activation.apply(h);
            let _ = device.sync();
            split(2, &mut times);
            let logits = mlp.output.forward(h); // [500, 10]
            let _ = device.sync();
            split(3, &mut times);
            let loss =
                CrossEntropyLoss::new(None, device).forward(logits.clone(), batch.targets.clone());
            let _ = device.sync();
            split(4, &mut times);
            let _ = loss.into_scalar::<f64>();
            let predicted = predicted_classes(logits);
            let _ = correct_count(predicted.clone(), batch.targets);
            let _ = predicted.into_data();
            split(5, &mut times);
        }
    }
    let batches = (times[0].len() / PASSES) as f64;
    let pass = start.elapsed().as_secs_f64() / PASSES as f64;
    let parts: Vec<String> = PARTS
        .iter()
        .zip(&times)
        .map(|(name, t)| format!("{name} {:.2} ms", 1e3 * median(t) * batches))
        .collect();
    println!(
        "{} images: {:.1} ms a pass ({:.0} images/s); median batch × {batches}: {}",
        test.len(),
        1e3 * pass,
        test.len() as f64 / pass,
        parts.join(", ")
    );
}
