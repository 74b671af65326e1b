//! How burn's Learner trains and validates a [`Model`].

use burn::nn::loss::CrossEntropyLoss;
use burn::prelude::*;
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use mnist_data::{MnistBatch, NUM_CLASSES};

use crate::{Model, fused};

/// Mean cross-entropy `[1]` and logits `[batch, 10]` of a batch: softmax + NLL of the true class,
/// the course's sparse categorical cross-entropy.
pub fn loss_and_logits(model: &Model, batch: &MnistBatch) -> (Tensor<1>, Tensor<2>) {
    let logits = model.forward(batch.images.clone());
    let targets = batch.targets.clone();
    // One operation each way on Flex (`fused.rs`); burn's loss elsewhere.
    let loss = if fused::cross_entropy_takes(&logits, &targets) {
        fused::cross_entropy(logits.clone(), targets)
    } else {
        CrossEntropyLoss::new(None, &logits.device()).forward(logits.clone(), targets)
    };
    (loss, logits)
}

/// The predicted class of each image, `[batch]`: the argmax of its logits or probabilities
/// (`[batch, 10]`; softmax keeps the order, so either gives the same classes).
pub fn predicted_classes(scores: Tensor<2>) -> Tensor<1, Int> {
    scores.argmax(1).flatten::<1>(0, 1)
}

/// One image's logits in host memory (the host kernels, `linear_host` and `host_mlp`) through the
/// stable softmax: its numerators exp(z − max z), their sum, and the cross-entropy of class
/// `y`, −log p(y) = ln Σ − (z_y − max z), what [`loss_and_logits`] computes in tensors.
#[derive(Clone, Copy, Debug)]
pub struct HostSoftmax {
    pub exp: [f32; NUM_CLASSES],
    pub sum: f32,
    pub nll: f32,
}

impl HostSoftmax {
    pub fn new(z: &[f32; NUM_CLASSES], y: usize) -> Self {
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let shifted = z.map(|zc| zc - max);
        let exp = shifted.map(f32::exp);
        let sum: f32 = exp.iter().sum();
        Self {
            exp,
            sum,
            nll: sum.ln() - shifted[y],
        }
    }
}

/// The predicted class of one image's logits in host memory: the first largest, as
/// [`predicted_classes`]' `argmax` picks.
pub fn first_largest(z: &[f32; NUM_CLASSES]) -> usize {
    (1..NUM_CLASSES).fold(0, |best, c| if z[c] > z[best] { c } else { best })
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
