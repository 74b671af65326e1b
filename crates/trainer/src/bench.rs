//! `mnist bench`: the figures of the speed table, each the median of several runs, on the data
//! the configs name: data loading, an epoch of the MLP config, an epoch of the scratch linear
//! config, full test-set inference, and peak memory.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::Error;
use crate::backend::Backend;
use crate::evaluate::evaluate_split;
use crate::metrics::{EpochRecord, median};
use crate::observer::Observer;
use crate::plan::{Plan, display_path};
use crate::rundir::Weights;
use crate::train::{TrainOutcome, TrainRequest, train};

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
    pub peak_rss: String,
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
        peak_rss: crate::sys::peak_rss_text(),
        epochs: request.epochs.get(),
    })
}

impl BenchReport {
    pub fn text(&self) -> String {
        let e = self.epochs;
        format!(
            "backend                      {}\n\
             data                         {}\n\
             data load                    {:.3} s\n\
             MLP epoch, training only     {:.2} s   ({}; median of {e} epochs)\n\
             MLP epoch with validation    {:.2} s\n\
             MLP test accuracy            {:.2}%   after {e} epochs\n\
             scratch linear epoch         {:.3} s   (hand gradient, {}; median of {e} epochs)\n\
             scratch linear accuracy      {:.2}%   after {e} epochs\n\
             inference, full test set     {:.0} images/s\n\
             peak RSS                     {}\n",
            self.backend,
            self.data,
            self.load_seconds,
            self.mlp_train_seconds,
            self.mlp_training,
            self.mlp_epoch_seconds,
            100.0 * self.mlp_accuracy,
            self.linear_train_seconds,
            self.linear_training,
            100.0 * self.linear_accuracy,
            self.inference_images_per_second,
            self.peak_rss,
        )
    }
}
