//! The two models of the course project. Both output logits, `[batch, 10]`: softmax belongs to
//! the loss and to prediction.
//!
//! Initial weights are drawn on the CPU from a seeded generator and then uploaded, so the same
//! seed gives the same starting point on every backend (burn's own RNG differs per backend).

mod config;
pub mod gradcheck;
mod init;
mod linear;
mod mlp;
mod step;

use burn::prelude::*;

pub use config::{Activation, ModelConfig};
pub use linear::{HandGradient, LinearSoftmax, hand_gradient};
pub use mlp::Mlp;
pub use step::{correct_count, loss_and_logits, predicted_classes};

/// Either model, so the trainer, evaluation and prediction handle both through one type.
/// (One model exists per run; the size difference between the variants costs nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    Linear(LinearSoftmax),
    Mlp(Mlp),
}

impl Model {
    /// A freshly initialised model as `config` describes, deterministic in `seed`.
    pub fn new(config: &ModelConfig, seed: u64, device: &Device) -> Self {
        match config {
            ModelConfig::Linear => Model::Linear(LinearSoftmax::new(seed, device)),
            ModelConfig::Mlp { hidden, activation } => {
                Model::Mlp(Mlp::new(*hidden, *activation, seed, device))
            }
        }
    }

    /// Logits `[batch, 10]` of images `[batch, 784]` scaled to [0, 1].
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        match self {
            Model::Linear(m) => m.forward(images),
            Model::Mlp(m) => m.forward(images),
        }
    }
}
