//! A model on a split: loss, number correct and every prediction. No files, no printing.

use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::prelude::*;
use mnist_data::{MnistLoader, Split};
use mnist_models::{Model, correct_count, loss_and_logits, predicted_classes};

use crate::training::threads::on_compute_pool;

/// Batch size for evaluation: any size gives the same numbers; larger is faster.
pub(crate) const EVAL_BATCH: usize = 500;

/// What a model does on a split.
#[derive(Clone, Debug)]
pub struct SplitEvaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    pub correct: usize,
    pub total: usize,
    /// Predicted class of each image, in the split's order.
    pub predictions: Vec<u8>,
}

impl SplitEvaluation {
    /// Fraction correct, in [0, 1].
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.total.max(1) as f64
    }
}

/// Mean cross-entropy, number correct and predictions of `model` over `split`.
pub fn evaluate_split(model: &Model, split: Arc<Split>, device: &Device) -> SplitEvaluation {
    on_compute_pool(|| evaluate(model, split, device))
}

fn evaluate(model: &Model, split: Arc<Split>, device: &Device) -> SplitEvaluation {
    let total = split.len();
    let loader = MnistLoader::new(split, EVAL_BATCH, device);
    let mut loss_sum = 0.0;
    let mut correct = 0;
    let mut predictions = Vec::with_capacity(total);
    for batch in loader.iter() {
        let batch = batch.expect("in-memory batches cannot fail");
        let n = batch.targets.dims()[0];
        let (loss, logits) = loss_and_logits(model, &batch);
        loss_sum += loss.into_scalar::<f64>() * n as f64;
        let predicted = predicted_classes(logits); // [batch]
        correct += correct_count(predicted.clone(), batch.targets);
        let predicted = predicted.into_data().convert::<i64>();
        predictions.extend(
            predicted
                .as_slice::<i64>()
                .expect("converted to i64")
                .iter()
                .map(|&p| p as u8),
        );
    }
    SplitEvaluation {
        loss: loss_sum / total.max(1) as f64,
        correct,
        total,
        predictions,
    }
}
