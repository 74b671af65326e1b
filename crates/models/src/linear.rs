//! The course's softmax regression, in its own parameterisation.

use burn::module::Param;
use burn::prelude::*;
use mnist_data::{IMAGE_PIXELS, NUM_CLASSES};

use crate::init;

/// logits = [1, x]·W with W of shape `[785, 10]`: row 0 is the bias, rows 1..=784 the pixel
/// weights. One matrix, exactly as the course wrote it, so the hand-written gradient
/// ([1, X]ᵀ·(P − Y) / B) and burn's autodiff train the very same parameters.
#[derive(Module, Debug)]
pub struct LinearSoftmax {
    /// `[785, 10]`
    pub weight: Param<Tensor<2>>,
}

/// Standard deviation of the initial pixel weights (the course drew them from N(0, 0.1²)).
pub const INIT_STD: f32 = 0.1;

impl LinearSoftmax {
    pub fn new(seed: u64, device: &Device) -> Self {
        let mut rng = init::rng(seed);
        // Row 0 (bias) starts at 0; the 784 pixel rows at N(0, 0.1²).
        let mut w = vec![0.0f32; NUM_CLASSES];
        w.extend(init::normal(&mut rng, IMAGE_PIXELS * NUM_CLASSES, INIT_STD));
        Self {
            weight: init::param2(w, [IMAGE_PIXELS + 1, NUM_CLASSES], device),
        }
    }

    /// Logits `[batch, 10]` of `[batch, 784]` images.
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        let w = self.weight.val();
        // [1, x]·W = x·W[1..] + W[0]: the same product without materialising the ones column.
        let bias = w.clone().slice(0..1); // [1, 10], broadcast over the batch
        let pixels = w.slice(1..IMAGE_PIXELS + 1); // [784, 10]
        images.matmul(pixels) + bias
    }
}
