//! `mnist bench`: the figures of the speed table, each the median of several runs, on the full
//! data: data loading, an epoch of the course's MLP through burn's Learner, an epoch of the
//! scratch linear loop, full test-set inference, and peak memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::Error;
use crate::backend::Backend;
use crate::config::RunConfig;
use crate::eval::{evaluate_split, load_run_model};
use crate::run::{TrainRequest, train};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchRequest {
    /// Epochs per training measurement (the median is over them).
    pub epochs: usize,
    /// The MLP config (the course's: configs/mlp.toml).
    pub mlp_config: PathBuf,
    /// The scratch linear config (configs/linear-scratch.toml).
    pub linear_config: PathBuf,
    /// Repetitions of the load and inference measurements.
    pub repeats: usize,
}

/// The measured figures.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub backend: String,
    pub load_seconds: f64,
    pub mlp_train_seconds: f64,
    pub mlp_epoch_seconds: f64,
    pub mlp_accuracy: f64,
    pub linear_train_seconds: f64,
    pub linear_accuracy: f64,
    pub inference_images_per_second: f64,
    pub peak_rss: String,
    pub epochs: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Trains `config` for `epochs` epochs into a scratch directory; returns the run directory and
/// the epoch records.
fn timed_run(
    config: &Path,
    epochs: usize,
    scratch: &Path,
    backend: &Backend,
) -> Result<(PathBuf, Vec<crate::progress::EpochRecord>), Error> {
    let mut c = RunConfig::load(config)?;
    c.epochs = epochs;
    c.artifacts = scratch.to_path_buf();
    let name = config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = scratch.join(format!("{name}.toml"));
    std::fs::write(&path, c.to_toml()).map_err(|e| Error::io(&path, "cannot write", e))?;
    let outcome = train(
        &TrainRequest {
            config: path,
            name: Some(name),
            resume: false,
            force: true,
        },
        backend,
    )?;
    Ok((outcome.run_dir, outcome.epochs))
}

pub fn bench(request: &BenchRequest, backend: &Backend) -> Result<BenchReport, Error> {
    let scratch = std::env::temp_dir().join(format!("mnist-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| Error::io(&scratch, "cannot create", e))?;
    let result = measure(request, backend, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn measure(
    request: &BenchRequest,
    backend: &Backend,
    scratch: &Path,
) -> Result<BenchReport, Error> {
    let mut loads = Vec::new();
    let mut data = None;
    for _ in 0..request.repeats.max(1) {
        let start = Instant::now();
        data = Some(mnist_data::load(None)?);
        loads.push(start.elapsed().as_secs_f64());
    }
    let data = data.expect("loaded at least once");

    let (mlp_dir, mlp) = timed_run(&request.mlp_config, request.epochs, scratch, backend)?;
    let (_, linear) = timed_run(&request.linear_config, request.epochs, scratch, backend)?;

    let (_, model, _) = load_run_model(&mlp_dir, None, &backend.device)?;
    let test = Arc::new(data.test);
    let mut rates = Vec::new();
    for _ in 0..request.repeats.max(1) {
        let start = Instant::now();
        let _ = evaluate_split(&model, test.clone(), &backend.device);
        rates.push(test.len() as f64 / start.elapsed().as_secs_f64());
    }
    let last = |r: &[crate::progress::EpochRecord]| r.last().map_or(f64::NAN, |e| e.valid_acc);
    Ok(BenchReport {
        backend: backend.describe(),
        load_seconds: median(loads),
        mlp_train_seconds: median(mlp.iter().map(|e| e.train_seconds).collect()),
        mlp_epoch_seconds: median(mlp.iter().map(|e| e.seconds).collect()),
        mlp_accuracy: last(&mlp),
        linear_train_seconds: median(linear.iter().map(|e| e.train_seconds).collect()),
        linear_accuracy: last(&linear),
        inference_images_per_second: median(rates),
        peak_rss: crate::sys::peak_rss_text(),
        epochs: request.epochs,
    })
}

impl BenchReport {
    pub fn text(&self) -> String {
        format!(
            "backend                      {}\n\
             data load (mnist_all.mat)    {:.3} s\n\
             MLP epoch, training only     {:.2} s   (Learner, batch 50, Adam; median of {} epochs)\n\
             MLP epoch with validation    {:.2} s\n\
             MLP test accuracy            {:.2}%   after {} epochs\n\
             scratch linear epoch         {:.3} s   (hand gradient, batch 50, SGD; median of {} epochs)\n\
             scratch linear accuracy      {:.2}%   after {} epochs\n\
             inference, full test set     {:.0} images/s\n\
             peak RSS                     {}\n",
            self.backend,
            self.load_seconds,
            self.mlp_train_seconds,
            self.epochs,
            self.mlp_epoch_seconds,
            100.0 * self.mlp_accuracy,
            self.epochs,
            self.linear_train_seconds,
            self.epochs,
            100.0 * self.linear_accuracy,
            self.epochs,
            self.inference_images_per_second,
            self.peak_rss,
        )
    }
}
