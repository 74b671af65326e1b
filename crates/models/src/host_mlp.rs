//! The MLP's inference on host memory, for the CPU backends: a prepared image's bytes to its 10
//! logits without tensors, skipping the pixels that are 0.
//!
//! An MNIST image is about 81% zero pixels (150 of 784 inked on average, training set). In the
//! dense product `x·W₁` (`[1, 784] × [784, hidden]`) each zero pixel adds exactly 0 to every
//! hidden unit, so adding only the inked pixels' rows of `W₁` does the same sum with a fifth of
//! the multiply-adds: the hidden layer's product, 70% of a test-set pass through burn's dense
//! product (`infer_profile`), shrinks to what the data needs. On a CPU with AVX-512, a layer of
//! up to 384 units keeps its sums in vector registers for the whole pass over the pixels (one
//! pass over the test set on one thread: 44 ms against 67-92 ms for the loop that reads and
//! writes them back per pixel, `examples/host_mlp.rs`). The activations run on `wide`'s
//! SIMD vectors instead of one libm call per unit. The sums run in another order than the
//! backend's matrix product, so logits agree with [`crate::Mlp::forward`] to float rounding, not
//! to the bit (the tests bound the difference).

use burn::prelude::*;
use mnist_data::{IMAGE_PIXELS, NUM_CLASSES};
use wide::f32x8;

use crate::{Activation, CacheAligned, Mlp, host_values};

/// The most hidden units whose sums [`HostMlp::logits`] keeps in AVX-512 registers: 24 of the
/// 32 vector registers (16 units each), the rest left for the pixel and the row being read.
const UNITS_IN_REGISTERS: usize = 24 * 16;

/// An MLP's weights on the host, laid out for [`HostMlp::logits`].
#[derive(Clone, Debug)]
pub struct HostMlp {
    hidden: usize,
    /// `[784, hidden]` row-major: pixel p's weights into every hidden unit are contiguous.
    w1: Vec<f32>,
    /// `[1 + 784, hidden / 16 rounded up]` vectors of 16 units, zero-padded: `b1` (row 0, as the
    /// course folds the bias in) and `w1` for the AVX-512 kernel, whose rows are whole vectors;
    /// empty when the CPU has no AVX-512 or the layer is wider than [`UNITS_IN_REGISTERS`].
    w1_vectors: Vec<Lanes>,
    /// `[hidden]`
    b1: Vec<f32>,
    /// `[hidden, 10]` row-major.
    w2: Vec<f32>,
    b2: [f32; NUM_CLASSES],
    activation: Activation,
}

/// 16 floats in one cache line: one AVX-512 vector. With `W₁`'s rows in a plain `Vec<f32>`,
/// every load spanned two lines: the test set on one thread (`examples/host_mlp.rs`, best of 5
/// passes, 4 rounds alternated) took 33.0-33.5 ms that way, 29.9-31.6 ms aligned, the same bits.
type Lanes = CacheAligned<[f32; 16]>;

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
        let w1 = host_values(mlp.hidden.weight.val());
        let b1 = bias(&mlp.hidden.bias, hidden);
        let w1_vectors = if registers_hold(hidden) {
            let vectors = hidden.div_ceil(16);
            let mut padded = vec![Lanes::default(); (1 + IMAGE_PIXELS) * vectors];
            let rows = std::iter::once(&b1[..]).chain(w1.chunks_exact(hidden));
            for (to, from) in padded.chunks_exact_mut(vectors).zip(rows) {
                for (to, from) in to.iter_mut().zip(from.chunks(16)) {
                    to[..from.len()].copy_from_slice(from);
                }
            }
            padded
        } else {
            Vec::new()
        };
        Self {
            hidden,
            w1,
            w1_vectors,
            b1,
            w2: host_values(mlp.output.weight.val()),
            b2: b2.try_into().expect("10 outputs"),
            activation: mlp.activation,
        }
    }

    /// The 10 logits of one image's 784 bytes, read as the batcher reads them (`byte / 255`).
    pub fn logits(&self, pixels: &[u8], scratch: &mut Scratch) -> [f32; NUM_CLASSES] {
        assert_eq!(pixels.len(), IMAGE_PIXELS, "an image is 784 bytes");
        #[cfg(target_arch = "x86_64")]
        if !self.w1_vectors.is_empty() {
            // SAFETY: `w1_vectors` is made only when the CPU has AVX-512F (`registers_hold`).
            return unsafe { self.logits_in_registers(pixels, scratch) };
        }
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

    /// [`Self::logits_portable`] with the hidden sums held in AVX-512 registers for the whole
    /// pass over the pixels, instead of read and written back for every inked pixel: the same
    /// multiplies and adds in the same order, so the same bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn logits_in_registers(
        &self,
        pixels: &[u8],
        scratch: &mut Scratch,
    ) -> [f32; NUM_CLASSES] {
        // One copy of the kernel per register count, so that each keeps its sums in registers
        // (a loop over a run-time count would keep them in memory).
        macro_rules! by_vectors {
            ($($v:literal)*) => {
                match self.hidden.div_ceil(16) {
                    $($v => self.hidden_sums::<$v>(pixels, scratch),)*
                    _ => unreachable!("w1_vectors is made for at most 24 vectors"),
                }
            };
        }
        by_vectors!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24);
        self.output(scratch)
    }

    /// h = b₁ + Σ over inked pixels p of (byte / 255) · W₁[p] into `scratch.hidden`, `V` vectors
    /// of 16 units held in registers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn hidden_sums<const V: usize>(&self, pixels: &[u8], scratch: &mut Scratch) {
        use std::arch::x86_64::{__m512, _mm512_add_ps, _mm512_load_ps, _mm512_mul_ps};
        use std::arch::x86_64::{_mm512_set1_ps, _mm512_storeu_ps};
        let (bias, rows) = self.w1_vectors.split_at(V);
        // SAFETY (all loads): each reads one `Lanes`, 16 floats on a 64-byte boundary.
        let mut h: [__m512; V] =
            std::array::from_fn(|j| unsafe { _mm512_load_ps(bias[j].as_ptr()) });
        for (row, &byte) in rows.chunks_exact(V).zip(pixels) {
            if byte != 0 {
                let x = _mm512_set1_ps(f32::from(byte) / 255.0);
                for (h, w) in h.iter_mut().zip(row) {
                    let w = unsafe { _mm512_load_ps(w.as_ptr()) };
                    *h = _mm512_add_ps(*h, _mm512_mul_ps(x, w));
                }
            }
        }
        let out = &mut scratch.hidden;
        out.clear();
        out.resize(V * 16, 0.0);
        for (j, h) in h.iter().enumerate() {
            // SAFETY: 16 floats at 16 · j, j < V, inside `out`'s 16 · V.
            unsafe { _mm512_storeu_ps(out[16 * j..].as_mut_ptr(), *h) };
        }
        out.truncate(self.hidden);
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
        self.output(scratch)
    }

    /// The activation of `scratch.hidden` and the output layer.
    #[inline(always)]
    fn output(&self, scratch: &mut Scratch) -> [f32; NUM_CLASSES] {
        let h = &mut scratch.hidden;
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

/// Whether [`HostMlp::logits`] can keep `hidden` sums in registers on this CPU.
fn registers_hold(hidden: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        return hidden <= UNITS_IN_REGISTERS;
    }
    false
}

/// The activation in place, eight units at a time.
#[inline(always)]
pub(crate) fn activate(activation: Activation, h: &mut [f32]) {
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

    /// The kernel `logits` picks on this CPU (on AVX-512, the sums in registers up to 384
    /// units) gives the portable loop's bits, at widths around the vector and register limits.
    #[test]
    fn the_dispatched_kernel_is_the_portable_one_to_the_bit() {
        let device = Device::default();
        let data = mnist_data::Split::synthetic(6, 9);
        for hidden in [1, 16, 37, 300, 384, 385] {
            let mlp = Mlp::new(hidden, Activation::Tanh, 0.0, 2, &device);
            let host = HostMlp::new(&mlp);
            assert_eq!(host.w1_vectors.is_empty(), !registers_hold(hidden));
            let mut scratch = Scratch::default();
            for i in 0..data.len() {
                let fast = host.logits(data.image(i), &mut scratch);
                let plain = host.logits_portable(data.image(i), &mut scratch);
                assert_eq!(
                    fast.map(f32::to_bits),
                    plain.map(f32::to_bits),
                    "hidden {hidden}, image {i}"
                );
            }
        }
    }

    /// The host logits are the tensor forward's, for each activation and a hidden size that is
    /// not a multiple of the vector width.
    #[test]
    fn host_logits_are_the_forward_pass() {
        let device = Device::default();
        let data = mnist_data::Split::synthetic(8, 3);
        let images: Vec<&[u8]> = (0..data.len()).map(|i| data.image(i)).collect();
        for activation in [Activation::Tanh, Activation::Relu, Activation::Sigmoid] {
            let mlp = Mlp::new(37, activation, 0.0, 5, &device);
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
