//! The speed table: the figures of the speed table, each the median of several runs, on the data
//! the configs name: data loading, an epoch of the MLP config beside the floor the machine's
//! matrix-product rate puts under it, an epoch of the scratch linear config, full test-set
//! inference, single-image latency, and peak memory. And one config timed alone
//! ([`time_config`]), what `benches/compare/alternate.py` sets beside PyTorch and numpy.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::prelude::Device;
use mnist_data::Split;
use mnist_models::{Model, ModelConfig};
use mnist_trainer::Error;
use mnist_trainer::backend::Backend;
use mnist_trainer::run::dir::Weights;
use mnist_trainer::run::metrics::{EpochRecord, median};
use mnist_trainer::run::plan::{Plan, display_path};
use mnist_trainer::sys::peak_rss_bytes;
use mnist_trainer::training::evaluate::evaluate_split;
use mnist_trainer::training::observer::Observer;
use mnist_trainer::training::threads;
use mnist_trainer::training::train::{TrainOutcome, TrainRequest, train};
use serde::{Deserialize, Serialize};

use crate::gemm::{self, GemmFigures};

/// Images predicted one at a time for the single-image latency (the web app's case).
pub const SINGLES: usize = 500;

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
    /// Median seconds to predict one image alone: its bytes to its 10 probabilities.
    pub single_image_seconds: f64,
    /// The matrix-product rate and the MLP epoch's floor; `None` where the MLP config is not
    /// an MLP.
    pub gemm: Option<GemmFigures>,
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
    let inference_images_per_second =
        images_per_second(&model, &mlp.test, &backend.device, request.repeats);
    let single_image_seconds = single_image_seconds(&model, &mlp.test, &backend.device);
    let gemm = match request.mlp.model() {
        ModelConfig::Mlp { hidden, .. } => Some(gemm::measure(
            hidden,
            request.mlp.batch_size(),
            mlp.train.len(),
            &backend.device,
        )),
        _ => None,
    };
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
        inference_images_per_second,
        single_image_seconds,
        gemm,
        peak_rss_bytes: peak_rss_bytes(),
        epochs: request.epochs.get(),
    })
}

/// Images per second of `model` over `test` (bytes to floats, logits, loss, predictions, number
/// correct: what `mnist eval` does), the median of `repeats` passes after a warm-up pass.
fn images_per_second(
    model: &Model,
    test: &Arc<Split>,
    device: &Device,
    repeats: NonZeroUsize,
) -> f64 {
    let _ = evaluate_split(model, Arc::clone(test), device);
    let rates: Vec<f64> = (0..repeats.get())
        .map(|_| {
            let start = Instant::now();
            let _ = evaluate_split(model, Arc::clone(test), device);
            test.len() as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    median(&rates)
}

/// Median seconds to predict one image alone, as the web app's draw panel does: its bytes to its
/// 10 probabilities (`mnist_infer::predict::probabilities`), over the first `SINGLES` test
/// images after ten warm-up calls.
fn single_image_seconds(model: &Model, test: &Split, device: &Device) -> f64 {
    let n = SINGLES.min(test.len());
    let seconds: Vec<f64> = (0..n + 10)
        .map(|i| {
            let image = vec![test.image(i % n).to_vec()];
            let start = Instant::now();
            let probabilities = mnist_infer::predict::probabilities(model, &image, device);
            std::hint::black_box(probabilities);
            start.elapsed().as_secs_f64()
        })
        .skip(10)
        .collect();
    median(&seconds)
}

/// One implementation at one point: what a point's process prints, as one JSON line (this
/// project's and `torch_mlp.py --json`'s alike).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Median training seconds per epoch (no validation pass).
    pub seconds_per_epoch: f64,
    /// Test accuracy after the epochs, a fraction.
    pub accuracy: f64,
    /// Peak resident memory of the whole process.
    pub peak_rss_bytes: u64,
    /// What ran: backend or library version, threads.
    pub implementation: String,
}

impl Timing {
    /// A timed run's figures: the median training seconds of its epochs (no validation pass),
    /// its validation accuracy after the last, this process's peak memory, the backend, the
    /// threads its training loop ran on and the pool's.
    pub(crate) fn of(outcome: &TrainOutcome, backend: &Backend) -> Self {
        Self {
            seconds_per_epoch: median(
                &outcome
                    .epochs
                    .iter()
                    .map(|e| e.train_seconds)
                    .collect::<Vec<_>>(),
            ),
            accuracy: outcome.epochs.last().map_or(f64::NAN, |e| e.valid_acc),
            peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
            implementation: format!(
                "{} ({} of {})",
                backend.name,
                threads::counted(
                    threads::training_threads(&outcome.plan, backend),
                    "training thread"
                ),
                rayon::current_num_threads()
            ),
        }
    }
}

/// One config timed alone in this process: its training epochs ([`Timing`]), then
/// inference with the trained weights; what `mnist bench --only FILE` prints, beside which
/// `benches/compare/` sets PyTorch's and numpy's.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigTiming {
    #[serde(flatten)]
    pub training: Timing,
    /// Median images per second over the test set.
    pub images_per_second: f64,
    /// Median seconds to predict one image alone.
    pub single_image_seconds: f64,
}

/// Trains `plan` for `epochs` into a temporary folder, then times its inference.
pub fn time_config(
    plan: &Plan,
    epochs: NonZeroUsize,
    repeats: NonZeroUsize,
    backend: &Backend,
    observer: Observer,
) -> Result<ConfigTiming, Error> {
    in_scratch_dir(|dir| {
        let outcome = timed_run(plan, "only", epochs, dir, backend, observer)?;
        let device = &backend.device;
        // The saved weights, as `mnist eval` would use them (no autodiff bookkeeping).
        let model = outcome
            .run
            .load_model(&outcome.plan, Weights::Final, device)?;
        Ok(ConfigTiming {
            images_per_second: images_per_second(&model, &outcome.test, device, repeats),
            single_image_seconds: single_image_seconds(&model, &outcome.test, device),
            // Last, so that its peak memory includes inference.
            training: Timing::of(&outcome, backend),
        })
    })
}
