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

/// What one hand-computed step needs and reports; all of it from one forward pass.
#[derive(Clone, Debug)]
pub struct HandGradient {
    /// Mean cross-entropy of the batch, `[1]`.
    pub loss: Tensor<1>,
    /// −log p(true class) of each image, `[batch]`.
    pub nll: Tensor<1>,
    /// Softmax probabilities, `[batch, 10]`.
    pub probs: Tensor<2>,
    /// ∂loss/∂W, `[785, 10]`, row 0 the bias.
    pub gradient: Tensor<2>,
}

impl HandGradient {
    /// How many of the 7,850 weights this step changes: the non-zero entries of the gradient
    /// (the course's `count_nonzero(avg_derivative)`). A pixel's row moves only if some image of
    /// the batch has ink there; the bias row always moves.
    pub fn weights_updated(&self) -> usize {
        // Read as stored (f32 here); converting first would copy the 7,850 values once more.
        let data = self.gradient.to_data();
        match data.as_slice::<f32>() {
            Ok(values) => values.iter().filter(|&&g| g != 0.0).count(),
            Err(_) => data.iter::<f64>().filter(|&g| g != 0.0).count(),
        }
    }
}

/// Softmax cross-entropy and its gradient for weights `w` (`[785, 10]`, bias row 0), written out
/// by hand on the plain backend, no autodiff, vectorised over the batch:
///
///   Z = [1, X]·W,  P = softmax(Z) row-wise,  loss = −mean(log P[b, y_b]),
///   ∂loss/∂W = [1, X]ᵀ·(P − Y) / B   (Y one-hot).
///
/// The bias row of the gradient is the column sums of (P − Y) / B: [1, X]ᵀ's first row is ones.
pub fn hand_gradient(w: Tensor<2>, images: Tensor<2>, targets: Tensor<1, Int>) -> HandGradient {
    let [batch, _] = images.dims();
    let bias = w.clone().slice(0..1); // [1, 10]
    let pixels = w.slice(1..IMAGE_PIXELS + 1); // [784, 10]
    let logits = images.clone().matmul(pixels) + bias; // [batch, 10]
    // Stable softmax: subtracting the row max changes nothing mathematically and keeps exp() ≤ 1.
    let shifted = logits.clone() - logits.max_dim(1); // [batch, 10]
    let exp = shifted.clone().exp();
    let sum = exp.clone().sum_dim(1); // [batch, 1]
    let probs = exp / sum.clone(); // [batch, 10]
    // −log P[y] = log Σ exp(shifted) − shifted[y]
    let picked = shifted.gather(1, targets.clone().unsqueeze_dim(1)); // [batch, 1]
    let nll = (sum.log() - picked).flatten::<1>(0, 1); // [batch]
    let loss = nll.clone().mean();
    let one_hot = targets.one_hot::<2>(NUM_CLASSES).float(); // [batch, 10]
    let delta = (probs.clone() - one_hot) / batch as f32; // [batch, 10]
    let grad_bias = delta.clone().sum_dim(0); // [1, 10]
    let grad_pixels = images.transpose().matmul(delta); // [784, 10]
    HandGradient {
        loss,
        nll,
        probs,
        gradient: Tensor::cat(vec![grad_bias, grad_pixels], 0),
    }
}

impl LinearSoftmax {
    /// [`hand_gradient`] at this model's weights.
    pub fn hand_gradient(&self, images: Tensor<2>, targets: Tensor<1, Int>) -> HandGradient {
        hand_gradient(self.weight.val(), images, targets)
    }

    /// One plain SGD step, W ← W − lr·∇W, keeping the parameter's identity (so checkpoints of
    /// the hand-trained and the Learner-trained model are interchangeable).
    pub fn sgd_step(self, gradient: Tensor<2>, lr: f64) -> Self {
        Self {
            weight: self.weight.map(|w| w - gradient * lr),
        }
    }

    /// This parameter (same identity) holding `values`, row-major `[785, 10]`.
    pub fn with_weights(self, values: Vec<f32>, device: &Device) -> Self {
        Self {
            weight: self.weight.map(|_| {
                Tensor::from_data(
                    TensorData::new(values, [IMAGE_PIXELS + 1, NUM_CLASSES]),
                    device,
                )
            }),
        }
    }

    /// The weights as a row-major `[785, 10]` vector.
    pub fn weights_vec(&self) -> Vec<f32> {
        crate::host_values(self.weight.val())
    }
}
