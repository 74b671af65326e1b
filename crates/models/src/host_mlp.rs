//! The MLP's inference on host memory, for the CPU backends: a prepared image's bytes to its 10
//! logits without tensors, skipping the pixels that are 0.
//!
//! An MNIST image is about 81% zero pixels (150 of 784 inked on average, training set). In the
//! dense product `x·W₁` (`[1, 784] × [784, hidden]`) each zero pixel adds exactly 0 to every
//! hidden unit, so adding only the inked pixels' rows of `W₁` does the same sum with a fifth of
//! the multiply-adds: the hidden layer's product, 70% of a test-set pass through burn's dense
//! product (`infer_profile`), shrinks to what the data needs. The activations run on `wide`'s
//! SIMD vectors instead of one libm call per unit. The sums run in another order than the
//! backend's matrix product, so logits agree with [`crate::Mlp::forward`] to float rounding, not
//! to the bit (the tests bound the difference).

use burn::prelude::*;
use mnist_data::{IMAGE_PIXELS, NUM_CLASSES};
use wide::f32x8;

use crate::{Activation, Mlp, host_values};

/// An MLP's weights on the host, laid out for [`HostMlp::logits`].
#[derive(Clone, Debug)]
pub struct HostMlp {
    hidden: usize,
    /// `[784, hidden]` row-major: pixel p's weights into every hidden unit are contiguous.
    w1: Vec<f32>,
    /// `[hidden]`
    b1: Vec<f32>,
    /// `[hidden, 10]` row-major.
    w2: Vec<f32>,
    b2: [f32; NUM_CLASSES],
    activation: Activation,
}

/// A thread's hidden-layer buffer for [`HostMlp::logits`], kept so that an image allocates
/// nothing.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    hidden: Vec<f32>,
}

impl HostMlp {
    /// A copy of `mlp`'s weights (dropout plays no part in inference).
    pub fn new(mlp: &Mlp) -> Self {
        let hidden = mlp.hidden.weight.dims()[1];
        let bias = |b: &Option<burn::module::Param<Tensor<1>>>, n: usize| {
            b.as_ref()
                .map_or_else(|| vec![0.0; n], |b| host_values(b.val()))
        };
        let b2 = bias(&mlp.output.bias, NUM_CLASSES);
        Self {
            hidden,
            w1: host_values(mlp.hidden.weight.val()),
            b1: bias(&mlp.hidden.bias, hidden),
            w2: host_values(mlp.output.weight.val()),
            b2: b2.try_into().expect("10 outputs"),
            activation: mlp.activation,
        }
    }

    /// The 10 logits of one image's 784 bytes, read as the batcher reads them (`byte / 255`).
    pub fn logits(&self, pixels: &[u8], scratch: &mut Scratch) -> [f32; NUM_CLASSES] {
        assert_eq!(pixels.len(), IMAGE_PIXELS, "an image is 784 bytes");
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { self.logits_avx512(pixels, scratch) };
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { self.logits_avx2(pixels, scratch) };
        }
        self.logits_portable(pixels, scratch)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn logits_avx512(&self, pixels: &[u8], scratch: &mut Scratch) -> [f32; NUM_CLASSES] {
        self.logits_portable(pixels, scratch)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn logits_avx2(&self, pixels: &[u8], scratch: &mut Scratch) -> [f32; NUM_CLASSES] {
        self.logits_portable(pixels, scratch)
    }

    #[inline(always)]
    fn logits_portable(&self, pixels: &[u8], scratch: &mut Scratch) -> [f32; NUM_CLASSES] {
        let h = &mut scratch.hidden;
        // h = b₁ + Σ over inked pixels p of (byte / 255) · W₁[p]  [hidden]: whole rows, which
        // the prefetchers stream (blocks of a row at a time were slower, `examples/host_mlp.rs`).
        h.clear();
        h.extend_from_slice(&self.b1);
        for (row, &byte) in self.w1.chunks_exact(self.hidden).zip(pixels) {
            if byte != 0 {
                let x = f32::from(byte) / 255.0;
                for (h, &w) in h.iter_mut().zip(row) {
                    *h += x * w;
                }
            }
        }
        activate(self.activation, h);
        // z = b₂ + h·W₂  [10]
        let mut z = self.b2;
        for (&a, row) in h.iter().zip(self.w2.chunks_exact(NUM_CLASSES)) {
            for (z, &w) in z.iter_mut().zip(row) {
                *z += a * w;
            }
        }
        z
    }
}

/// The activation in place, eight units at a time.
#[inline(always)]
fn activate(activation: Activation, h: &mut [f32]) {
    let (lanes, rest) = h.as_chunks_mut::<8>();
    for lane in lanes {
        *lane = activate8(activation, f32x8::from(*lane)).to_array();
    }
    if !rest.is_empty() {
        let mut last = [0.0; 8];
        last[..rest.len()].copy_from_slice(rest);
        let done = activate8(activation, f32x8::from(last)).to_array();
        rest.copy_from_slice(&done[..rest.len()]);
    }
}

#[inline(always)]
fn activate8(activation: Activation, x: f32x8) -> f32x8 {
    let one = f32x8::splat(1.0);
    let sigmoid = |x: f32x8| one / (one + (-x).exp());
    match activation {
        // As the model computes it (`activation.rs`): tanh(x) = 2·σ(2x) − 1.
        Activation::Tanh => sigmoid(x * 2.0) * 2.0 - one,
        Activation::Relu => x.max(f32x8::splat(0.0)),
        Activation::Sigmoid => sigmoid(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Model, ModelConfig};

    /// The host logits are the tensor forward's, for each activation and a hidden size that is
    /// not a multiple of the vector width.
    #[test]
    fn host_logits_are_the_forward_pass() {
        let device = Device::default();
        let data = mnist_data::Split::synthetic(8, 3);
        let images: Vec<&[u8]> = (0..data.len()).map(|i| data.image(i)).collect();
        for activation in [Activation::Tanh, Activation::Relu, Activation::Sigmoid] {
            let config = ModelConfig::Mlp {
                hidden: 37,
                activation,
                dropout: 0.0,
            };
            let Model::Mlp(mlp) = Model::new(&config, 5, &device) else {
                unreachable!("an MLP config")
            };
            let host = HostMlp::new(&mlp);
            let labels = std::iter::repeat_n(0u8, images.len());
            let batch =
                mnist_data::MnistBatch::from_pixels(images.iter().copied(), labels, &device);
            let expected = host_values(mlp.forward(batch.images)); // [8, 10]
            let mut scratch = Scratch::default();
            for (i, pixels) in images.iter().enumerate() {
                let got = host.logits(pixels, &mut scratch);
                for (c, (g, e)) in got.iter().zip(&expected[i * 10..]).enumerate() {
                    assert!(
                        (g - e).abs() < 1e-5,
                        "{activation:?}, image {i}, class {c}: {g} vs {e}"
                    );
                }
            }
        }
    }
}
