//! The speed table: the figures of the speed table, each the median of several runs, on the data
//! the configs name: data loading, an epoch of the MLP config, an epoch of the scratch linear
//! config, full test-set inference, and peak memory.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use mnist_trainer::Error;
use mnist_trainer::backend::Backend;
use mnist_trainer::run::dir::Weights;
use mnist_trainer::run::metrics::{EpochRecord, median};
use mnist_trainer::run::plan::{Plan, display_path};
use mnist_trainer::sys::peak_rss_bytes;
use mnist_trainer::training::evaluate::evaluate_split;
use mnist_trainer::training::observer::Observer;
use mnist_trainer::training::train::{TrainOutcome, TrainRequest, train};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchRequest {
    /// Epochs per training measurement (the median is over them).
    pub epochs: NonZeroUsize,
    /// The MLP run to time (the course's: configs/mlp.toml).
    pub mlp: Plan,
    /// The scratch linear run to time (configs/linear-scratch.toml).
    pub linear: Plan,
    /// Repetitions of the load and inference measurements.
    pub repeats: NonZeroUsize,
}

/// The measured figures.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub backend: String,
    pub data: String,
    pub load_seconds: f64,
    pub mlp_training: String,
    pub mlp_train_seconds: f64,
    pub mlp_epoch_seconds: f64,
    pub mlp_accuracy: f64,
    pub linear_training: String,
    pub linear_train_seconds: f64,
    pub linear_accuracy: f64,
    pub inference_images_per_second: f64,
    /// Peak resident memory of this process, where the system tells it.
    pub peak_rss_bytes: Option<u64>,
    pub epochs: usize,
}

pub fn bench(
    request: &BenchRequest,
    backend: &Backend,
    observer: Observer,
) -> Result<BenchReport, Error> {
    in_scratch_dir(|scratch| measure(request, backend, scratch, observer))
}

/// Runs `work` with a fresh temporary folder for run directories, removed afterwards.
pub(crate) fn in_scratch_dir<R>(work: impl FnOnce(&Path) -> Result<R, Error>) -> Result<R, Error> {
    let scratch = std::env::temp_dir().join(format!("mnist-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| Error::io(&scratch, "cannot create", e))?;
    let result = work(&scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// Trains `plan` for `epochs` into the scratch folder.
pub(crate) fn timed_run(
    plan: &Plan,
    name: &str,
    epochs: NonZeroUsize,
    scratch: &Path,
    backend: &Backend,
    observer: Observer,
) -> Result<TrainOutcome, Error> {
    let request = TrainRequest {
        plan: plan.clone().with_epochs(epochs).with_artifacts(scratch),
        name: name.to_string(),
        resume: false,
        force: true,
    };
    train(&request, backend, observer)
}

fn measure(
    request: &BenchRequest,
    backend: &Backend,
    scratch: &Path,
    observer: Observer,
) -> Result<BenchReport, Error> {
    let mut loads = Vec::new();
    for _ in 0..request.repeats.get() {
        let start = Instant::now();
        mnist_data::load(Some(request.mlp.data()))?;
        loads.push(start.elapsed().as_secs_f64());
    }
    let mlp = timed_run(
        &request.mlp,
        "mlp",
        request.epochs,
        scratch,
        backend,
        observer.clone(),
    )?;
    let linear = timed_run(
        &request.linear,
        "linear",
        request.epochs,
        scratch,
        backend,
        observer,
    )?;

    // The saved weights, as `mnist eval` would use them (no autodiff bookkeeping).
    let model = mlp
        .run
        .load_model(&mlp.plan, Weights::Final, &backend.device)?;
    let mut rates = Vec::new();
    for _ in 0..request.repeats.get() {
        let start = Instant::now();
        let _ = evaluate_split(&model, Arc::clone(&mlp.test), &backend.device);
        rates.push(mlp.test.len() as f64 / start.elapsed().as_secs_f64());
    }
    let last = |r: &[EpochRecord]| r.last().map_or(f64::NAN, |e| e.valid_acc);
    let seconds = |r: &[EpochRecord], pick: fn(&EpochRecord) -> f64| {
        median(&r.iter().map(pick).collect::<Vec<_>>())
    };
    Ok(BenchReport {
        backend: backend.describe(),
        data: display_path(request.mlp.data()),
        load_seconds: median(&loads),
        mlp_training: request.mlp.describe_training(),
        mlp_train_seconds: seconds(&mlp.epochs, |e| e.train_seconds),
        mlp_epoch_seconds: seconds(&mlp.epochs, |e| e.seconds),
        mlp_accuracy: last(&mlp.epochs),
        linear_training: request.linear.describe_training(),
        linear_train_seconds: seconds(&linear.epochs, |e| e.train_seconds),
        linear_accuracy: last(&linear.epochs),
        inference_images_per_second: median(&rates),
        peak_rss_bytes: peak_rss_bytes(),
        epochs: request.epochs.get(),
    })
}
