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

/// The predicted class of each image, `[batch]`: the argmax of its logits or probabilities
/// (`[batch, 10]`; softmax keeps the order, so either gives the same classes).
pub fn predicted_classes(scores: Tensor<2>) -> Tensor<1, Int> {
    scores.argmax(1).flatten::<1>(0, 1)
}

/// How many predicted classes (`[batch]`) equal the labels (`[batch]`): the one count behind
/// every accuracy the trainers and evaluation report.
pub fn correct_count(predicted: Tensor<1, Int>, targets: Tensor<1, Int>) -> usize {
    predicted.equal(targets).int().sum().into_scalar::<i64>() as usize
}

impl TrainStep for Model {
    type Input = MnistBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: MnistBatch) -> TrainOutput<ClassificationOutput> {
        crate::tap::before_step(self);
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
