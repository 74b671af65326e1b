//! How burn's Learner trains and validates a [`Model`].

use burn::nn::loss::CrossEntropyLoss;
use burn::prelude::*;
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use mnist_data::MnistBatch;

use crate::Model;

/// Mean cross-entropy `[1]` and logits `[batch, 10]` of a batch: softmax + NLL of the true class,
/// the course's sparse categorical cross-entropy.
pub fn loss_and_logits(model: &Model, batch: &MnistBatch) -> (Tensor<1>, Tensor<2>) {
    let logits = model.forward(batch.images.clone());
    let loss = CrossEntropyLoss::new(None, &logits.device())
        .forward(logits.clone(), batch.targets.clone());
    (loss, logits)
}

impl TrainStep for Model {
    type Input = MnistBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: MnistBatch) -> TrainOutput<ClassificationOutput> {
        let (loss, logits) = loss_and_logits(self, &batch);
        let grads = loss.backward();
        TrainOutput::new(
            self,
            grads,
            ClassificationOutput::new(loss, logits, batch.targets),
        )
    }
}

impl InferenceStep for Model {
    type Input = MnistBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: MnistBatch) -> ClassificationOutput {
        let (loss, logits) = loss_and_logits(self, &batch);
        ClassificationOutput::new(loss, logits, batch.targets)
    }
}
