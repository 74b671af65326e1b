//! Adam in one pass over memory, for the CPU backends.
//!
//! burn's `Adam` updates a parameter with about a dozen tensor operations (two moment updates, a
//! square, a square root, bias corrections, a division, the step), each a separate pass over the
//! parameter's memory: on the course MLP that was a quarter of a CPU training step (README
//! "Speed"). On a device whose tensors live in host memory, [`FusedAdam`] reads the parameter,
//! its gradient and both moments once, updates them element by element with the same f32
//! operations in the same order, and hands the buffers back to the backend (Flex takes them
//! without a copy). Its state is burn's own [`AdamState`], so checkpoints written by either
//! optimizer resume with the other. On other devices (wgpu) it is burn's `Adam`;
//! [`FusedAdam::paths`] counts which path each update took, so tests can tell the two apart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::optim::{Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

/// Elements per parallel chunk: below this a thread hand-off costs more than it saves (the MLP's
/// biases and output layer stay on one thread; its 784×300 hidden weights are split).
const PARALLEL_CHUNK: usize = 1 << 15;

/// Adam's constants, in the form [`AdamConfig`] takes them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamHyper {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
}

/// Adam with a fused update on host-memory devices; burn's `Adam` elsewhere.
#[derive(Clone)]
pub struct FusedAdam {
    hyper: AdamHyper,
    /// Whether parameters live in host memory (Flex, ndarray): only then is reading them free.
    host: bool,
    /// burn's Adam with the same constants: the path for other devices and dtypes.
    reference: Adam,
    paths: PathCounts,
}

impl FusedAdam {
    pub fn new(hyper: AdamHyper, host: bool) -> Self {
        Self {
            hyper,
            host,
            reference: config(hyper).build(),
            paths: PathCounts::default(),
        }
    }

    /// The counts of parameter updates by path, shared with this optimizer and its clones (a
    /// `ModuleOptimizer` made from it included): keep it before handing the optimizer over.
    pub fn paths(&self) -> PathCounts {
        self.paths.clone()
    }
}

/// How many parameter updates a [`FusedAdam`] made on each path (one relaxed atomic increment
/// per parameter and step).
#[derive(Clone, Debug, Default)]
pub struct PathCounts(Arc<[AtomicU64; 2]>);

impl PathCounts {
    const FUSED: usize = 0;
    const REFERENCE: usize = 1;

    /// Updates made by the fused kernel.
    pub fn fused(&self) -> u64 {
        self.0[Self::FUSED].load(Ordering::Relaxed)
    }

    /// Updates handed to burn's `Adam`.
    pub fn reference(&self) -> u64 {
        self.0[Self::REFERENCE].load(Ordering::Relaxed)
    }

    fn count(&self, path: usize) {
        self.0[path].fetch_add(1, Ordering::Relaxed);
    }
}

/// burn's Adam configuration for the same constants.
pub fn config(hyper: AdamHyper) -> AdamConfig {
    AdamConfig::new()
        .with_beta_1(hyper.beta_1)
        .with_beta_2(hyper.beta_2)
        .with_epsilon(hyper.epsilon)
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let moments = state
            .iter()
            .flat_map(|s| [&s.momentum.moment_1, &s.momentum.moment_2]);
        let f32_only = [&tensor, &grad]
            .into_iter()
            .chain(moments)
            .all(|t| t.dtype() == DType::F32);
        let amsgrad = state
            .as_ref()
            .is_some_and(|s| s.momentum.max_moment_2.is_some());
        if !self.host || !f32_only || amsgrad {
            self.paths.count(PathCounts::REFERENCE);
            return self.reference.step(lr, tensor, grad, state);
        }
        self.paths.count(PathCounts::FUSED);
        let device = tensor.device();
        let shape = tensor.shape();
        let (time, moments) = match state {
            Some(s) => (
                s.momentum.time,
                Some((s.momentum.moment_1, s.momentum.moment_2)),
            ),
            None => (0, None),
        };
        // The parameter is only read: burn's Learner keeps the current model while the optimizer
        // makes the next one, so the parameter's buffer is shared, and taking it out as data
        // would copy it twice (Flex's `into_data` of a shared buffer, then cubecl's alignment
        // copy of that Vec: 6.5% of an MLP epoch in `perf`). The gradient's buffer,
        // which nothing else holds, receives lr·update instead, and θ − lr·update is one
        // subtraction into a new buffer: the same f32 operations as updating θ in place.
        let param_len = shape.num_elements();
        let mut grad = grad.into_data();
        // burn's first step is m = (1 − β₁)·g, v = (1 − β₂)·g²: the same as from zero moments.
        let (mut m, mut v) = match moments {
            Some((m, v)) => (m.into_data(), v.into_data()),
            None => (
                TensorData::zeros::<f32, _>(shape.clone()),
                TensorData::zeros::<f32, _>(shape),
            ),
        };
        let time = time + 1;
        let step = Step::new(self.hyper, time, lr);
        update(
            step,
            param_len,
            slice_mut(&mut grad),
            slice_mut(&mut m),
            slice_mut(&mut v),
        );
        let on_device = |data: TensorData| Tensor::<D>::from_data(data, &device);
        let delta = on_device(grad);
        let state = AdamState::new(AdaptiveMomentumState::new(time, on_device(m), on_device(v)));
        (tensor - delta, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

// The dtype was checked above; a failure here is a bug, not a user error.
fn slice_mut(data: &mut TensorData) -> &mut [f32] {
    data.as_mut_slice().expect("f32 tensor data")
}

/// The per-step scalars of burn's `AdaptiveMomentum::transform`, computed as it does (f32).
#[derive(Clone, Copy, Debug)]
struct Step {
    beta_1: f32,
    beta_2: f32,
    /// 1 − β₁ and 1 − β₂.
    keep_1: f32,
    keep_2: f32,
    /// √(1 − β₂ᵗ) / (1 − β₁ᵗ)
    combined: f32,
    /// ε·√(1 − β₂ᵗ)
    epsilon: f32,
    lr: f32,
}

impl Step {
    fn new(hyper: AdamHyper, time: usize, lr: LearningRate) -> Self {
        let t = time as i32;
        let bias_correction_2 = (1.0 - hyper.beta_2.powi(t)).sqrt();
        Self {
            beta_1: hyper.beta_1,
            beta_2: hyper.beta_2,
            keep_1: 1.0 - hyper.beta_1,
            keep_2: 1.0 - hyper.beta_2,
            combined: bias_correction_2 / (1.0 - hyper.beta_1.powi(t)),
            epsilon: hyper.epsilon * bias_correction_2,
            // burn multiplies an f32 tensor by the f64 rate converted to f32.
            lr: lr as f32,
        }
    }
}

/// One Adam step over whole buffers, split across threads when they are large.
///
/// # Panics
///
/// `grad` holds the gradient on entry and lr·update on return, to be subtracted from the
/// parameter (of `param_len` elements); the moments are updated in place.
///
/// # Panics
///
/// If the four lengths differ (a state from a parameter of another shape, say): both the
/// one-thread and the chunked path would otherwise update only the common prefix.
fn update(step: Step, param_len: usize, grad: &mut [f32], m: &mut [f32], v: &mut [f32]) {
    let lengths = [param_len, grad.len(), m.len(), v.len()];
    assert!(
        lengths.iter().all(|&n| n == lengths[0]),
        "FusedAdam: the parameter has {} elements, its gradient {}, its first moment {} and its \
         second moment {}; they must be equal",
        lengths[0],
        lengths[1],
        lengths[2],
        lengths[3],
    );
    if grad.len() <= PARALLEL_CHUNK {
        return kernel(step, grad, m, v);
    }
    rayon::scope(|scope| {
        let chunks = grad
            .chunks_mut(PARALLEL_CHUNK)
            .zip(m.chunks_mut(PARALLEL_CHUNK))
            .zip(v.chunks_mut(PARALLEL_CHUNK));
        for ((g, m), v) in chunks {
            scope.spawn(move |_| kernel(step, g, m, v));
        }
    });
}

/// The element-wise update, compiled for the widest vector unit the CPU has.
fn kernel(step: Step, grad: &mut [f32], m: &mut [f32], v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { kernel_avx512(step, grad, m, v) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { kernel_avx2(step, grad, m, v) };
        }
    }
    elementwise(step, grad, m, v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn kernel_avx512(step: Step, grad: &mut [f32], m: &mut [f32], v: &mut [f32]) {
    elementwise(step, grad, m, v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn kernel_avx2(step: Step, grad: &mut [f32], m: &mut [f32], v: &mut [f32]) {
    elementwise(step, grad, m, v)
}

/// burn's operations, element by element and in its order (no fused multiply-add, which would
/// round differently): m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; g ← lr·(m·c)/(√v + ε'), with c
/// and ε' from [`Step`], which the caller subtracts from θ.
#[inline(always)]
fn elementwise(step: Step, grad: &mut [f32], m: &mut [f32], v: &mut [f32]) {
    let n = grad.len();
    // Equal lengths were checked in `update`; re-slicing lets the compiler drop bounds checks.
    let (m, v) = (&mut m[..n], &mut v[..n]);
    for i in 0..n {
        let g = grad[i];
        let m_i = m[i] * step.beta_1 + g * step.keep_1;
        let v_i = v[i] * step.beta_2 + (g * g) * step.keep_2;
        m[i] = m_i;
        v[i] = v_i;
        let update = (m_i * step.combined) / (v_i.sqrt() + step.epsilon);
        grad[i] = update * step.lr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step() -> Step {
        let hyper = AdamHyper {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
        };
        Step::new(hyper, 1, 1e-3)
    }

    /// `update` on buffers of `n` elements where buffer `odd` (0 param, 1 grad, 2 m, 3 v) has
    /// `n + delta`; the panic message if it panics.
    fn mismatch(n: usize, odd: usize, delta: isize) -> Option<String> {
        let len = |i: usize| {
            if i == odd {
                n.checked_add_signed(delta).unwrap()
            } else {
                n
            }
        };
        let (mut g, mut m, mut v) = (vec![0.5; len(1)], vec![0.0; len(2)], vec![0.0; len(3)]);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            update(step(), len(0), &mut g, &mut m, &mut v)
        }));
        caught.err().map(|e| match e.downcast::<String>() {
            Ok(s) => *s,
            Err(_) => "a panic without a message".into(),
        })
    }

    #[test]
    fn buffers_of_unequal_lengths_are_refused_on_both_paths() {
        // One thread (small) and rayon chunks (large, and a multiple of the chunk size so that
        // the zip of chunks would have stopped silently at a shorter buffer).
        for n in [10, 4 * PARALLEL_CHUNK] {
            for odd in 0..4 {
                for delta in [-1, 1] {
                    let message = mismatch(n, odd, delta).unwrap_or_else(|| {
                        panic!("{n} elements, buffer {odd} {delta:+}: no panic")
                    });
                    assert!(
                        message.starts_with("FusedAdam: the parameter has"),
                        "{n}, {odd}, {delta}: {message}"
                    );
                }
            }
        }
    }

    #[test]
    fn buffers_of_equal_lengths_are_updated_everywhere() {
        for n in [10, 4 * PARALLEL_CHUNK + 3] {
            let (mut g, mut m, mut v) = (vec![0.5; n], vec![0.0; n], vec![0.0; n]);
            update(step(), n, &mut g, &mut m, &mut v);
            // A positive gradient gives a positive step, which is not the gradient itself.
            assert!(
                g.iter().all(|&x| x > 0.0 && x != 0.5),
                "{n}: a parameter's step was not computed"
            );
            assert!(
                m.iter().chain(&v).all(|&x| x > 0.0),
                "{n}: a moment was not updated"
            );
        }
    }
}
