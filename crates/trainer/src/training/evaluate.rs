//! A model on a split: loss, number correct and every prediction. No files, no printing.

use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::prelude::*;
use mnist_data::{MnistLoader, Split};
use mnist_models::host_mlp::{HostMlp, Scratch};
use mnist_models::{
    HostSoftmax, Model, correct_count, first_largest, loss_and_logits, predicted_classes,
};
use rayon::prelude::*;

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
    if let Model::Mlp(mlp) = model
        && crate::backend::in_host_memory(device)
    {
        return evaluate_on_host(&HostMlp::new(mlp), &split);
    }
    evaluate_tensors(model, split, device)
}

/// [`evaluate`] through the model's tensor forward pass, in batches.
fn evaluate_tensors(model: &Model, split: Arc<Split>, device: &Device) -> SplitEvaluation {
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

/// [`evaluate`] for an MLP on a CPU backend: each image's logits by the host kernel (skipping
/// its zero pixels), the images shared among the compute pool's threads. The same loss (the
/// mean of −log softmax(z)_y) and the same predictions (the first largest logit) as the tensor
/// path, to float rounding.
fn evaluate_on_host(mlp: &HostMlp, split: &Split) -> SplitEvaluation {
    let total = split.len();
    let per_image: Vec<(f64, u8)> = (0..total)
        .into_par_iter()
        .map_init(Scratch::default, |scratch, i| {
            let z = mlp.logits(split.image(i), scratch); // [10]
            let nll = HostSoftmax::new(&z, usize::from(split.label(i))).nll;
            (f64::from(nll), first_largest(&z) as u8)
        })
        .collect();
    let loss_sum: f64 = per_image.iter().map(|(loss, _)| loss).sum();
    let predictions: Vec<u8> = per_image.into_iter().map(|(_, p)| p).collect();
    let correct = predictions
        .iter()
        .zip(split.labels())
        .filter(|(p, y)| p == y)
        .count();
    SplitEvaluation {
        loss: loss_sum / total.max(1) as f64,
        correct,
        total,
        predictions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mnist_models::{Activation, Mlp};

    /// The host path's loss, count and predictions are the tensor path's, on MNIST-like images.
    #[test]
    fn the_host_evaluation_is_the_tensor_evaluation() {
        let device = crate::backend::default_backend().device;
        // More than one batch of EVAL_BATCH.
        let split = Arc::new(Split::synthetic(700, 9));
        let mlp = Mlp::new(300, Activation::Tanh, 0.0, 4, &device);
        let host = evaluate_on_host(&HostMlp::new(&mlp), &split);
        let model = Model::Mlp(mlp);
        let tensors = evaluate_tensors(&model, Arc::clone(&split), &device);
        assert!(
            (host.loss - tensors.loss).abs() < 1e-5,
            "loss {} vs {}",
            host.loss,
            tensors.loss
        );
        assert_eq!(host.correct, tensors.correct);
        assert_eq!(host.predictions, tensors.predictions);
    }
}
