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
//! The pixels go in chunks of 16 (one AVX-512 vector, two AVX2 ones) and the weights are held
//! chunk-major (`[49, 10, 16]` and the bias apart): one chunk's weights for all ten classes are
//! contiguous, and with AVX-512 the ten classes' sums stay in registers while an image's chunks go
//! by. The images are read as bytes from the split, as the batcher reads them, so no batch
//! tensor is made and read back. A chunk with no ink (every pixel 0; about half of an MNIST
//! image's) is skipped: in the dense product its pixels add exactly 0 to the logits and to the
//! gradient, so skipping it changes only the time; a chunk no image of the batch inks is not
//! updated either. Sums run in another order than the backend's matrix product, so results agree
//! with the tensor version to float rounding, not to the bit (the tests bound the difference);
//! the kernels (portable, AVX2, AVX-512) agree with each other to the bit.

use mnist_data::{IMAGE_PIXELS, NUM_CLASSES, Split};

use crate::{CacheAligned, HostSoftmax, first_largest};

const C: usize = NUM_CLASSES;
/// Pixels per chunk: one 16-lane AVX-512 vector, two 8-lane AVX2 ones; 784 = 49 × 16.
const LANES: usize = 16;
const CHUNKS: usize = IMAGE_PIXELS / LANES;
const _: () = assert!(CHUNKS * LANES == IMAGE_PIXELS);
/// One chunk's weights (or gradient) for the ten classes: `[10, 16]`, 640 contiguous bytes.
type Block = [[f32; LANES]; C];

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

/// The 49 chunks' blocks, each 16-float vector of them in one cache line (host_step, fastest of
/// 12 epochs, 4 rounds alternated: 0.0397-0.0426 s/epoch from a `Vec<Block>`, 0.0366-0.0392
/// aligned).
type Chunks = CacheAligned<[Block; CHUNKS]>;

/// All-zero blocks.
fn zeroed() -> Box<Chunks> {
    Box::new(CacheAligned([[[0.0; LANES]; C]; CHUNKS]))
}

/// The linear classifier's weights on the host, laid out for [`HostLinear::step`], with the
/// step's scratch buffers (kept, so a step allocates nothing).
#[derive(Clone, Debug)]
pub struct HostLinear {
    bias: [f32; C],
    /// `[49, 10, 16]`: class c's weight of pixel p at `[p / 16][c][p % 16]`, so that one chunk's
    /// weights for all ten classes are one contiguous block of 640 bytes.
    weights: Box<Chunks>,
    part: Part,
}

/// A step's gradient and counts, and its scratch.
#[derive(Clone, Debug)]
struct Part {
    grad_bias: [f32; C],
    /// Laid out as `HostLinear::weights`.
    grad: Box<Chunks>,
    /// The current image's chunks with ink: (chunk, its 16 pixels as floats).
    inked: Vec<(usize, [f32; LANES])>,
    loss_sum: f32,
    correct: usize,
}

impl Part {
    fn new() -> Self {
        Self {
            grad_bias: [0.0; C],
            grad: zeroed(),
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
        let mut weights = zeroed();
        for p in 0..IMAGE_PIXELS {
            for c in 0..C {
                weights[p / LANES][c][p % LANES] = w[(p + 1) * C + c];
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
                w[(p + 1) * C + c] = self.weights[p / LANES][c][p % LANES];
            }
        }
        w
    }

    /// One SGD step of softmax regression at rate `lr` on the images `indices` of `split`, their
    /// bytes read as the batcher reads them (`byte / 255` in f32).
    pub fn step(&mut self, split: &Split, indices: &[usize], lr: f32) -> StepReport {
        let model = (&mut self.bias, &mut self.weights[..]);
        let part = &mut self.part;
        #[cfg(target_arch = "x86_64")]
        if let Some(kernel) = avx512::Kernel::detect() {
            // SAFETY: the CPU has AVX-512F: `detect` made a kernel.
            return unsafe { part.step_avx512(kernel, model, split, indices, lr) };
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { part.step_avx2(model, split, indices, lr) };
        }
        part.step_with(Portable, model, split, indices, lr)
    }
}

type Weights<'a> = (&'a mut [f32; C], &'a mut [Block]);

impl Part {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn step_avx512(
        &mut self,
        kernel: avx512::Kernel,
        model: Weights,
        split: &Split,
        indices: &[usize],
        lr: f32,
    ) -> StepReport {
        self.step_with(kernel, model, split, indices, lr)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn step_avx2(
        &mut self,
        model: Weights,
        split: &Split,
        indices: &[usize],
        lr: f32,
    ) -> StepReport {
        self.step_with(Portable, model, split, indices, lr)
    }

    /// The batch's losses, counts and gradient, then the update.
    #[inline(always)]
    fn step_with(
        &mut self,
        kernel: impl Kernel,
        (bias, weights): Weights,
        split: &Split,
        indices: &[usize],
        lr: f32,
    ) -> StepReport {
        let batch = indices.len();
        // The gradient is all zeros here: `Part::new` made it so, and the update below puts
        // back zeros where it read.
        self.grad_bias = [0.0; C];
        self.loss_sum = 0.0;
        self.correct = 0;
        // Bit k: some image of the batch has ink in chunk k. Elsewhere the gradient stays +0,
        // and W − (+0)·lr is W exactly, so those chunks need no update.
        let mut touched = 0u64;
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
                    touched |= 1 << k;
                }
            }
            // z = b + W·x  [10]
            let mut z = *bias;
            kernel.logits(&self.inked, weights, &mut z);
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
            kernel.add_outer(&self.inked, &delta, &mut self.grad[..]);
        }
        // W ← W − lr·∇W, counting the gradient's non-zero entries (a zero, ±0, leaves its
        // weight exactly as it was).
        let mut weights_updated = 0;
        for (w, &g) in bias.iter_mut().zip(&self.grad_bias) {
            *w -= g * lr;
            weights_updated += usize::from(g != 0.0);
        }
        for k in (0..CHUNKS).filter(|k| touched & (1 << k) != 0) {
            for (w, g) in weights[k].iter_mut().zip(&mut self.grad[k]) {
                weights_updated += kernel.descend(w, g, lr);
            }
        }
        StepReport {
            loss: f64::from(self.loss_sum / batch.max(1) as f32),
            correct: self.correct,
            weights_updated,
        }
    }
}

/// An image's chunks with ink: (chunk, its 16 pixels as floats).
type Inked = [(usize, [f32; LANES])];

/// A step's inner loops: the two products, image by image over its inked chunks, and the
/// update. The kernels do the same float operations in the same order (a multiply, then an add;
/// each lane's sum over the chunks in the image's order, then the 16 lane sums in lane order),
/// so they give the same bits.
trait Kernel: Copy {
    /// `z[c] += Σ_k W[k][c] · x[k]`  [10]
    fn logits(self, inked: &Inked, weights: &[Block], z: &mut [f32; C]);
    /// `∇W[k][c] += delta[c] · x[k]` for each inked chunk k.
    fn add_outer(self, inked: &Inked, delta: &[f32; C], grad: &mut [Block]);
    /// `w ← w − g·lr`, then `g ← 0`; returns how many of `g` were not zero.
    fn descend(self, w: &mut [f32; LANES], g: &mut [f32; LANES], lr: f32) -> usize;
}

/// Class by class, as the compiler vectorises it for any CPU: one class's lanes stay in
/// registers while the chunks go by (two AVX2 vectors; ten classes at once would not fit in
/// sixteen of them).
#[derive(Clone, Copy)]
struct Portable;

impl Kernel for Portable {
    #[inline(always)]
    fn logits(self, inked: &Inked, weights: &[Block], z: &mut [f32; C]) {
        for (c, zc) in z.iter_mut().enumerate() {
            let mut acc = [0.0f32; LANES];
            for (k, x) in inked {
                mul_add(&mut acc, &weights[*k][c], x);
            }
            *zc += acc.iter().sum::<f32>();
        }
    }

    #[inline(always)]
    fn add_outer(self, inked: &Inked, delta: &[f32; C], grad: &mut [Block]) {
        for (c, &d) in delta.iter().enumerate() {
            for (k, x) in inked {
                axpy(&mut grad[*k][c], d, x);
            }
        }
    }

    #[inline(always)]
    fn descend(self, w: &mut [f32; LANES], g: &mut [f32; LANES], lr: f32) -> usize {
        let mut nonzero = 0;
        for (w, &g) in w.iter_mut().zip(g.iter()) {
            *w -= g * lr;
            nonzero += usize::from(g != 0.0);
        }
        *g = [0.0; LANES];
        nonzero
    }
}

/// Chunk by chunk with AVX-512: a chunk is one 16-lane register, and the ten classes' sums fit
/// in ten of the 32, so each chunk's pixels are loaded once for all classes and the ten sums
/// are independent (class by class, each chunk waited on the previous chunk's add).
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512, _CMP_NEQ_UQ, _mm512_add_ps, _mm512_cmp_ps_mask, _mm512_loadu_ps, _mm512_mul_ps,
        _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_sub_ps,
    };

    use super::{Block, C, Inked, LANES};

    /// Made only where the CPU has AVX-512F, so holding one is the proof its methods need.
    #[derive(Clone, Copy)]
    pub(super) struct Kernel(());

    impl Kernel {
        pub(super) fn detect() -> Option<Self> {
            std::is_x86_feature_detected!("avx512f").then_some(Self(()))
        }
    }

    impl super::Kernel for Kernel {
        #[inline(always)]
        fn logits(self, inked: &Inked, weights: &[Block], z: &mut [f32; C]) {
            // SAFETY: `self` exists, so the CPU has AVX-512F.
            unsafe { logits(inked, weights, z) }
        }

        #[inline(always)]
        fn add_outer(self, inked: &Inked, delta: &[f32; C], grad: &mut [Block]) {
            // SAFETY: `self` exists, so the CPU has AVX-512F.
            unsafe { add_outer(inked, delta, grad) }
        }

        #[inline(always)]
        fn descend(self, w: &mut [f32; LANES], g: &mut [f32; LANES], lr: f32) -> usize {
            // SAFETY: `self` exists, so the CPU has AVX-512F.
            unsafe { descend(w, g, lr) }
        }
    }

    #[inline(always)]
    fn load(x: &[f32; LANES]) -> __m512 {
        // SAFETY: 16 floats, read unaligned.
        unsafe { _mm512_loadu_ps(x.as_ptr()) }
    }

    #[inline(always)]
    fn store(x: &mut [f32; LANES], v: __m512) {
        // SAFETY: 16 floats, written unaligned.
        unsafe { _mm512_storeu_ps(x.as_mut_ptr(), v) }
    }

    #[target_feature(enable = "avx512f")]
    fn logits(inked: &Inked, weights: &[Block], z: &mut [f32; C]) {
        let mut acc = [_mm512_setzero_ps(); C];
        for (k, x) in inked {
            let x = load(x);
            for (acc, w) in acc.iter_mut().zip(&weights[*k]) {
                // A multiply, then an add (not a fused multiply-add), as `mul_add` does.
                *acc = _mm512_add_ps(*acc, _mm512_mul_ps(load(w), x));
            }
        }
        for (zc, acc) in z.iter_mut().zip(acc) {
            let mut lanes = [0.0f32; LANES];
            store(&mut lanes, acc);
            *zc += lanes.iter().sum::<f32>();
        }
    }

    #[target_feature(enable = "avx512f")]
    fn descend(w: &mut [f32; LANES], g: &mut [f32; LANES], lr: f32) -> usize {
        let grad = load(g);
        store(
            w,
            _mm512_sub_ps(load(w), _mm512_mul_ps(grad, _mm512_set1_ps(lr))),
        );
        store(g, _mm512_setzero_ps());
        // Unordered-or-unequal, as `!=` is: a NaN counts as non-zero.
        _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(grad, _mm512_setzero_ps()).count_ones() as usize
    }

    #[target_feature(enable = "avx512f")]
    fn add_outer(inked: &Inked, delta: &[f32; C], grad: &mut [Block]) {
        for (k, x) in inked {
            let x = load(x);
            for (g, &d) in grad[*k].iter_mut().zip(delta) {
                let sum = _mm512_add_ps(load(g), _mm512_mul_ps(_mm512_set1_ps(d), x));
                store(g, sum);
            }
        }
    }
}

/// 16 pixels' bytes as the batcher makes them floats: `byte / 255`.
#[inline(always)]
fn floats(bytes: &[u8; LANES]) -> [f32; LANES] {
    bytes.map(|b| f32::from(b) / 255.0)
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

    /// Each kernel this CPU can run (the portable one always; AVX2's and AVX-512's where the
    /// CPU has them) takes the same steps to the bit: the same reports, the same weights.
    #[test]
    fn every_kernel_takes_the_same_steps() {
        type Stepper = Box<dyn Fn(&mut Part, Weights, &Split, &[usize]) -> StepReport>;
        // Not a power of two, so that g·lr rounds and a fused multiply-add would show.
        const LR: f32 = 0.3;
        let data = Split::synthetic(300, 3);
        let start: Vec<f32> = (0..(IMAGE_PIXELS + 1) * C)
            .map(|i| ((i * 7919) % 201) as f32 * 1e-3 - 0.1)
            .collect();
        let mut kernels: Vec<(&str, Stepper)> = vec![(
            "portable",
            Box::new(|part, model, data, indices| {
                part.step_with(Portable, model, data, indices, LR)
            }),
        )];
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            kernels.push((
                "avx2",
                Box::new(|part, model, data, indices| {
                    // SAFETY: the CPU has AVX2, checked just above.
                    unsafe { part.step_avx2(model, data, indices, LR) }
                }),
            ));
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(kernel) = avx512::Kernel::detect() {
            kernels.push((
                "avx512",
                Box::new(move |part, model, data, indices| {
                    // SAFETY: `detect` made a kernel, so the CPU has AVX-512F.
                    unsafe { part.step_avx512(kernel, model, data, indices, LR) }
                }),
            ));
        }
        let runs: Vec<_> = kernels
            .iter()
            .map(|(name, step)| {
                let mut host = HostLinear::from_weights(&start);
                let reports: Vec<StepReport> = [50, 50, 17, 1]
                    .into_iter()
                    .enumerate()
                    .map(|(k, n)| {
                        let indices: Vec<usize> =
                            (0..n).map(|i| (i * 37 + k * 11) % data.len()).collect();
                        let HostLinear {
                            bias,
                            weights,
                            part,
                        } = &mut host;
                        step(part, (bias, &mut weights[..]), &data, &indices)
                    })
                    .collect();
                (name, reports, host_bits(&host.weights()))
            })
            .collect();
        let (first, reports, bits) = &runs[0];
        assert_ne!(host_bits(&start), *bits, "the steps moved the weights");
        for (name, other_reports, other_bits) in &runs[1..] {
            assert_eq!(reports, other_reports, "{first} and {name}: reports");
            assert!(bits == other_bits, "{first} and {name}: weights differ");
        }
    }

    fn host_bits(w: &[f32]) -> Vec<u32> {
        w.iter().map(|w| w.to_bits()).collect()
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
