//! The course's two models and a convolutional net. All output logits, `[batch, 10]`: softmax
//! belongs to the loss and to prediction.
//!
//! Initial weights are drawn on the CPU from a seeded generator and then uploaded, so the same
//! seed gives the same starting point on every backend (burn's own RNG differs per backend).

mod activation;
pub mod cnn;
mod config;
pub mod conv;
mod dropout;
pub mod fused;
pub mod gradcheck;
pub mod host_mlp;
mod init;
mod linear;
pub mod linear_host;
mod mlp;
pub mod pool;
mod step;
mod summary;
pub mod tap;
#[cfg(test)]
mod testing;

use burn::prelude::*;

pub use cnn::Cnn;
pub use config::{
    Activation, CnnConfig, ConvLayer, DenseLayer, ModelConfig, Normalize, PoolConfig, PoolKind,
};
pub use linear::{HandGradient, LinearSoftmax, hand_gradient};
pub use mlp::{Mlp, split_product, strongest_hidden_units};
pub use step::{HostSoftmax, correct_count, first_largest, loss_and_logits, predicted_classes};
pub use summary::{LayerSummary, ModelSummary, grouped, shape_text};

/// A tensor's values as f32, row-major, on the host: what figures, snapshots, explanations and
/// checks read.
pub fn host_values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32")
}

/// `T` on a 64-byte boundary, the size of a cache line: the host kernels keep their weights in
/// it so that each 16-float AVX-512 vector they load lies in one line (a `Vec` starts wherever
/// the allocator puts it; for the MLP's `W₁` that was 48 bytes past a line in every process
/// tried, and every load spanned two).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
pub(crate) struct CacheAligned<T>(pub(crate) T);

impl<T> std::ops::Deref for CacheAligned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for CacheAligned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// Any of the models, so the trainer, evaluation and prediction handle both through one type.
/// (One model exists per run; the size difference between the variants costs nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    Linear(LinearSoftmax),
    Mlp(Mlp),
    Cnn(Cnn),
}

impl Model {
    /// A freshly initialised model as `config` describes, deterministic in `seed`.
    pub fn new(config: &ModelConfig, seed: u64, device: &Device) -> Self {
        match config {
            ModelConfig::Linear => Model::Linear(LinearSoftmax::new(seed, device)),
            ModelConfig::Mlp {
                hidden,
                activation,
                dropout,
            } => Model::Mlp(Mlp::new(*hidden, *activation, *dropout, seed, device)),
            ModelConfig::Cnn(cnn) => Model::Cnn(Cnn::new(cnn, seed, device)),
        }
    }

    /// Logits `[batch, 10]` of images `[batch, 784]` scaled to [0, 1].
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        match self {
            Model::Linear(m) => m.forward(images),
            Model::Mlp(m) => m.forward(images),
            Model::Cnn(m) => m.forward(images),
        }
    }
}
