//! `mnist eval`: a run's model, rebuilt from its own `config.toml`, on the test set.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::module::Module;
use burn::prelude::*;
use mnist_data::{MnistLoader, Split};
use mnist_models::{Model, loss_and_logits};

use crate::Error;
use crate::backend::Backend;
use crate::config::RunConfig;
use crate::run::{CONFIG_FILE, EVAL_BATCH, FINAL_MODEL, checkpoint_epochs};

/// Test-set figures of one set of weights.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub weights: PathBuf,
    /// The confusion-matrix figure written for this evaluation (a CSV beside it).
    pub confusion: PathBuf,
    pub loss: f64,
    pub correct: usize,
    pub total: usize,
    /// Predicted class of each test image, in the split's order.
    pub predictions: Vec<u8>,
}

impl Evaluation {
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.total.max(1) as f64
    }
}

/// The run's config and the model with the chosen weights (final, or checkpoint `epoch`).
pub fn load_run_model(
    run_dir: &Path,
    checkpoint: Option<usize>,
    device: &Device,
) -> Result<(RunConfig, Model, PathBuf), Error> {
    let config_path = run_dir.join(CONFIG_FILE);
    if !config_path.exists() {
        return Err(Error::run(
            run_dir,
            format!("no {CONFIG_FILE}: not a run directory (runs are made by `mnist train`)"),
        ));
    }
    let config = RunConfig::load(&config_path)?;
    let weights = match checkpoint {
        Some(n) => run_dir.join("checkpoint").join(format!("model-{n}.bpk")),
        None => run_dir.join(FINAL_MODEL),
    };
    if !weights.exists() {
        let available = checkpoint_epochs(run_dir, config.trainer);
        let hint = if available.is_empty() {
            "the run has no checkpoints yet".to_string()
        } else {
            format!("checkpoints exist for epochs {available:?}; pass --checkpoint N")
        };
        return Err(Error::run(
            &weights,
            format!("no such weights file; {hint}"),
        ));
    }
    let model = Model::new(&config.model, config.seed, device)
        .try_load_file(&weights)
        .map_err(|e| {
            Error::run(
                &weights,
                format!("does not fit the run's model ({:?}): {e}", config.model),
            )
        })?;
    Ok((config, model, weights))
}

/// Mean cross-entropy, number correct and predictions of `model` over `split`.
pub fn evaluate_split(model: &Model, split: Arc<Split>, device: &Device) -> (f64, usize, Vec<u8>) {
    let total = split.len();
    let loader = MnistLoader::new(split, EVAL_BATCH, device);
    let mut loss_sum = 0.0;
    let mut correct = 0;
    let mut predictions = Vec::with_capacity(total);
    for batch in burn::data::dataloader::DataLoader::iter(&loader) {
        let batch = batch.expect("in-memory batches cannot fail");
        let n = batch.targets.dims()[0];
        let (loss, logits) = loss_and_logits(model, &batch);
        loss_sum += loss.into_scalar::<f64>() * n as f64;
        let predicted = logits.argmax(1).flatten::<1>(0, 1); // [batch]
        correct += predicted
            .clone()
            .equal(batch.targets)
            .int()
            .sum()
            .into_scalar::<i64>() as usize;
        let predicted = predicted.into_data().convert::<i64>();
        predictions.extend(
            predicted
                .as_slice::<i64>()
                .expect("converted to i64")
                .iter()
                .map(|&p| p as u8),
        );
    }
    (loss_sum / total.max(1) as f64, correct, predictions)
}

/// `mnist eval RUN [--checkpoint N] [--data PATH]`.
pub fn eval(
    run_dir: &Path,
    checkpoint: Option<usize>,
    data: Option<&Path>,
    backend: &Backend,
) -> Result<Evaluation, Error> {
    let (config, model, weights) = load_run_model(run_dir, checkpoint, &backend.device)?;
    let mnist = mnist_data::load(Some(data.unwrap_or(&config.data)))?;
    let total = mnist.test.len();
    let labels = mnist.test.labels().to_vec();
    let (loss, correct, predictions) =
        evaluate_split(&model, Arc::new(mnist.test), &backend.device);
    // The confusion matrix of exactly these weights on exactly this data, beside the run's own.
    let which = checkpoint.map_or("final".to_string(), |n| format!("epoch-{n}"));
    let png = format!("confusion-{which}.png");
    let title = format!(
        "Confusion matrix, {} on {}",
        weights.display(),
        mnist.path.display()
    );
    crate::report::write_confusion(run_dir, &labels, &predictions, &title, &png)?;
    Ok(Evaluation {
        confusion: run_dir.join(png),
        weights,
        loss,
        correct,
        total,
        predictions,
    })
}
