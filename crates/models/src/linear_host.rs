//! The course's SGD step on the linear classifier in one pass over host memory, for the CPU
//! backends.
//!
//! [`crate::hand_gradient`] and [`crate::LinearSoftmax::sgd_step`] are about twenty tensor
//! operations per step on matrices of 50 × 10: each is cheap, but each allocates and passes over
//! memory, and at 1,200 steps an epoch that overhead, not arithmetic, is where the scratch
//! trainer's time went (README "Speed"). [`HostLinear::step`] computes the same formulas image by
//! image on slices: the logits, the stable softmax, the NLL, the prediction, (P − Y)/B, the
//! gradient, W ← W − lr·∇W.
//!
//! The weights are held class-major (`[10, 784]` and the bias apart) so that each class's logit
//! is a dot product over contiguous pixels, in chunks of 16 pixels (two AVX2 vectors). The images
//! are read as bytes from the split, as the batcher reads them, so no batch tensor is made and
//! read back. A chunk with no ink (every pixel 0; about half of an MNIST image's) is skipped: in the dense product
//! its pixels add exactly 0 to the logits and to the gradient, so skipping it changes only the
//! time. Sums run in another order than the backend's matrix product, so results agree with
//! the tensor version to float rounding, not to the bit (the tests bound the difference).

use mnist_data::{IMAGE_PIXELS, NUM_CLASSES, Split};

use crate::{HostSoftmax, first_largest};

const C: usize = NUM_CLASSES;
/// Pixels per chunk: two 8-lane AVX2 vectors; 784 = 49 × 16.
const LANES: usize = 16;
const CHUNKS: usize = IMAGE_PIXELS / LANES;
const _: () = assert!(CHUNKS * LANES == IMAGE_PIXELS);

/// What one step reports: what the scratch trainer records per iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    /// Mean cross-entropy of the batch (f32 arithmetic, as the tensor version's).
    pub loss: f64,
    /// Images whose largest logit is their label's (the first largest, as `argmax` picks).
    pub correct: usize,
    /// Non-zero entries of the gradient (see [`crate::HandGradient::weights_updated`]).
    pub weights_updated: usize,
}

/// The linear classifier's weights on the host, laid out for [`HostLinear::step`], with the
/// step's scratch buffers (kept, so a step allocates nothing).
#[derive(Clone, Debug)]
pub struct HostLinear {
    bias: [f32; C],
    /// `[10, 49, 16]`: class c's weight of pixel p at `[c][p / 16][p % 16]`.
    weights: Vec<[f32; LANES]>,
    part: Part,
}

/// A step's gradient and counts, and its scratch.
#[derive(Clone, Debug)]
struct Part {
    grad_bias: [f32; C],
    /// Laid out as `HostLinear::weights`.
    grad: Vec<[f32; LANES]>,
    /// The current image's chunks with ink: (chunk, its 16 pixels as floats).
    inked: Vec<(usize, [f32; LANES])>,
    loss_sum: f32,
    correct: usize,
}

impl Part {
    fn new() -> Self {
        Self {
            grad_bias: [0.0; C],
            grad: vec![[0.0; LANES]; C * CHUNKS],
            inked: Vec::with_capacity(CHUNKS),
            loss_sum: 0.0,
            correct: 0,
        }
    }
}

impl HostLinear {
    /// From the course's layout: `[785, 10]` row-major, row 0 the bias.
    pub fn from_weights(w: &[f32]) -> Self {
        assert_eq!(w.len(), (IMAGE_PIXELS + 1) * C, "weights must be [785, 10]");
        let mut weights = vec![[0.0; LANES]; C * CHUNKS];
        for p in 0..IMAGE_PIXELS {
            for c in 0..C {
                weights[c * CHUNKS + p / LANES][p % LANES] = w[(p + 1) * C + c];
            }
        }
        Self {
            bias: w[..C].try_into().expect("10 classes"),
            weights,
            part: Part::new(),
        }
    }

    /// Back to the course's layout: `[785, 10]` row-major, row 0 the bias.
    pub fn weights(&self) -> Vec<f32> {
        let mut w = self.bias.to_vec();
        w.resize((IMAGE_PIXELS + 1) * C, 0.0);
        for p in 0..IMAGE_PIXELS {
            for c in 0..C {
                w[(p + 1) * C + c] = self.weights[c * CHUNKS + p / LANES][p % LANES];
            }
        }
        w
    }

    /// One SGD step of softmax regression at rate `lr` on the images `indices` of `split`, their
    /// bytes read as the batcher reads them (`byte / 255` in f32).
    pub fn step(&mut self, split: &Split, indices: &[usize], lr: f32) -> StepReport {
        let batch = indices.len();
        let part = &mut self.part;
        part.accumulate((&self.bias, &self.weights), split, indices, batch);
        // W ← W − lr·∇W everywhere: a zero gradient (±0) leaves its weight exactly as it was.
        let mut weights_updated = 0;
        for (w, &g) in self.bias.iter_mut().zip(&part.grad_bias) {
            *w -= g * lr;
            weights_updated += usize::from(g != 0.0);
        }
        for (w, g) in self.weights.iter_mut().zip(&part.grad) {
            for (w, &g) in w.iter_mut().zip(g) {
                *w -= g * lr;
                weights_updated += usize::from(g != 0.0);
            }
        }
        StepReport {
            loss: f64::from(part.loss_sum / batch.max(1) as f32),
            correct: part.correct,
            weights_updated,
        }
    }
}

type Weights<'a> = (&'a [f32; C], &'a [[f32; LANES]]);

impl Part {
    /// The batch's losses, counts and gradient.
    fn accumulate(&mut self, model: Weights, split: &Split, indices: &[usize], batch: usize) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { self.accumulate_avx2(model, split, indices, batch) };
        }
        self.accumulate_portable(model, split, indices, batch)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn accumulate_avx2(
        &mut self,
        model: Weights,
        split: &Split,
        indices: &[usize],
        batch: usize,
    ) {
        self.accumulate_portable(model, split, indices, batch)
    }

    #[inline(always)]
    fn accumulate_portable(
        &mut self,
        (bias, weights): Weights,
        split: &Split,
        indices: &[usize],
        batch: usize,
    ) {
        self.grad_bias = [0.0; C];
        self.grad.fill([0.0; LANES]);
        self.loss_sum = 0.0;
        self.correct = 0;
        for (n, &i) in indices.iter().enumerate() {
            if let Some(&next) = indices.get(n + 1) {
                prefetch(split.image(next));
            }
            let y = usize::from(split.label(i));
            assert!(y < C, "a label in 0..10");
            let (bytes, _) = split.image(i).as_chunks::<LANES>(); // [49] chunks of 16
            self.inked.clear();
            for (k, chunk) in bytes.iter().enumerate() {
                if u128::from_ne_bytes(*chunk) != 0 {
                    self.inked.push((k, floats(chunk)));
                }
            }
            // z = b + W·x  [10]
            let mut z = *bias;
            for (c, zc) in z.iter_mut().enumerate() {
                let class = &weights[c * CHUNKS..(c + 1) * CHUNKS];
                let mut acc = [0.0f32; LANES];
                for (k, x) in &self.inked {
                    mul_add(&mut acc, &class[*k], x);
                }
                *zc += acc.iter().sum::<f32>();
            }
            let HostSoftmax { exp, sum, nll } = HostSoftmax::new(&z, y);
            self.loss_sum += nll;
            self.correct += usize::from(first_largest(&z) == y);
            // (P − Y) / B  [10]
            let mut delta = exp.map(|e| e / sum);
            delta[y] -= 1.0;
            let delta = delta.map(|d| d / batch as f32);
            // ∇b += delta; ∇W += delta·xᵀ over the inked chunks.
            for (g, d) in self.grad_bias.iter_mut().zip(&delta) {
                *g += d;
            }
            for (c, &d) in delta.iter().enumerate() {
                let class = &mut self.grad[c * CHUNKS..(c + 1) * CHUNKS];
                for (k, x) in &self.inked {
                    axpy(&mut class[*k], d, x);
                }
            }
        }
    }
}

/// Asks the CPU to bring `bytes` into its cache while the current image is computed: in a
/// shuffled epoch each image lies somewhere else in a buffer larger than the cache (47 MB), and
/// waiting for its first lines was the step's largest single cost (`perf`).
#[inline(always)]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint: it changes no memory and cannot fault.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
}

/// 16 pixels' bytes as the batcher makes them floats: `byte / 255`.
#[inline(always)]
fn floats(bytes: &[u8; LANES]) -> [f32; LANES] {
    let mut x = [0.0; LANES];
    for l in 0..LANES {
        x[l] = f32::from(bytes[l]) / 255.0;
    }
    x
}

/// `acc += w ⊙ x`, lane by lane. (Separate functions, so the compiler knows the arrays do not
/// overlap and keeps each of them in two vector registers.)
#[inline(always)]
fn mul_add(acc: &mut [f32; LANES], w: &[f32; LANES], x: &[f32; LANES]) {
    for l in 0..LANES {
        acc[l] += w[l] * x[l];
    }
}

/// `g += d·x`, lane by lane (computed in a local copy, which the compiler keeps in vector
/// registers; updated in place it wrote one lane at a time).
#[inline(always)]
fn axpy(g: &mut [f32; LANES], d: f32, x: &[f32; LANES]) {
    let mut sum = *g;
    for l in 0..LANES {
        sum[l] += d * x[l];
    }
    *g = sum;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LinearSoftmax, correct_count, predicted_classes};
    use burn::prelude::*;

    fn assert_close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len());
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{what}: largest difference {worst}");
    }

    /// Steps of the fused host kernel and of the tensor version (`hand_gradient`, `sgd_step`)
    /// from the same weights on the same batches: the same losses, counts and weights.
    #[test]
    fn the_fused_step_is_the_tensor_step() {
        let device = Device::default();
        let mut model = LinearSoftmax::new(7, &device);
        let mut host = HostLinear::from_weights(&model.weights_vec());
        let lr = 0.5; // large, so that a wrong gradient shows in the weights at once
        let data = Split::synthetic(200, 1);
        for (k, n) in [50, 50, 17, 1].into_iter().enumerate() {
            // Shuffled, as the loader draws them.
            let indices: Vec<usize> = (0..n).map(|i| (i * 37 + k * 11) % data.len()).collect();
            let batch = mnist_data::batch_of(&data, &indices, &device);
            let targets = batch.targets;
            let reference = model.hand_gradient(batch.images, targets.clone());
            let report = host.step(&data, &indices, lr);
            let loss = reference.loss.clone().into_scalar::<f64>();
            assert!(
                (report.loss - loss).abs() < 1e-5,
                "step {k}: loss {} vs {loss}",
                report.loss
            );
            assert_eq!(
                report.weights_updated,
                reference.weights_updated(),
                "step {k}"
            );
            let right = correct_count(predicted_classes(reference.probs), targets);
            assert_eq!(report.correct, right, "step {k}");
            model = model.sgd_step(reference.gradient, f64::from(lr));
            assert_close(
                &host.weights(),
                &model.weights_vec(),
                &format!("weights after step {k}"),
            );
        }
    }

    /// Rows of pixels no image of the batch inks stay exactly as they were; the bias row and
    /// the inked rows move; the layout goes there and back unchanged.
    #[test]
    fn only_the_bias_and_inked_rows_move() {
        const ROWS: usize = IMAGE_PIXELS + 1;
        let before: Vec<f32> = (0..ROWS * C).map(|i| (i % 13) as f32 * 0.01).collect();
        let mut host = HostLinear::from_weights(&before);
        assert_eq!(host.weights(), before);
        let mut pixels = vec![0; 2 * IMAGE_PIXELS];
        pixels[100] = 255; // image 0, pixel 100: row 101
        pixels[IMAGE_PIXELS + 5] = 128; // image 1, pixel 5: row 6
        let report = host.step(&Split::new(pixels, vec![3, 8]), &[0, 1], 0.1);
        let after = host.weights();
        for r in 0..ROWS {
            let moved = after[r * C..(r + 1) * C] != before[r * C..(r + 1) * C];
            assert_eq!(moved, [0, 6, 101].contains(&r), "row {r}");
        }
        assert_eq!(report.weights_updated, 3 * C);
    }
}
