//! Adam in one pass over memory, for the CPU backends.
//!
//! burn's `Adam` updates a parameter with about a dozen tensor operations (two moment updates, a
//! square, a square root, bias corrections, a division, the step), each a separate pass over the
//! parameter's memory: on the course MLP that was a quarter of a CPU training step (README
//! "Speed"). On a device whose tensors live in host memory, [`FusedAdam`] reads the parameter,
//! its gradient and both moments once, updates them element by element with the same f32
//! operations in the same order, and hands the buffers back to the backend (Flex takes them
//! without a copy). Its state is burn's own [`AdamState`], so checkpoints written by either
//! optimizer resume with the other. On other devices (wgpu) it is burn's `Adam`.

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
}

impl FusedAdam {
    pub fn new(hyper: AdamHyper, host: bool) -> Self {
        Self {
            hyper,
            host,
            reference: config(hyper).build(),
        }
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
            return self.reference.step(lr, tensor, grad, state);
        }
        let device = tensor.device();
        let shape = tensor.shape();
        let (time, moments) = match state {
            Some(s) => (
                s.momentum.time,
                Some((s.momentum.moment_1, s.momentum.moment_2)),
            ),
            None => (0, None),
        };
        let mut param = tensor.into_data();
        let grad = grad.into_data();
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
            slice_mut(&mut param),
            slice(&grad),
            slice_mut(&mut m),
            slice_mut(&mut v),
        );
        let moment = |data: TensorData| Tensor::<D>::from_data(data, &device);
        let state = AdamState::new(AdaptiveMomentumState::new(time, moment(m), moment(v)));
        (Tensor::from_data(param, &device), Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

// The dtype was checked above; a failure here is a bug, not a user error.
fn slice(data: &TensorData) -> &[f32] {
    data.as_slice().expect("f32 tensor data")
}

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
fn update(step: Step, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
    if param.len() <= PARALLEL_CHUNK {
        return kernel(step, param, grad, m, v);
    }
    rayon::scope(|scope| {
        let chunks = param
            .chunks_mut(PARALLEL_CHUNK)
            .zip(grad.chunks(PARALLEL_CHUNK))
            .zip(m.chunks_mut(PARALLEL_CHUNK))
            .zip(v.chunks_mut(PARALLEL_CHUNK));
        for (((p, g), m), v) in chunks {
            scope.spawn(move |_| kernel(step, p, g, m, v));
        }
    });
}

/// The element-wise update, compiled for the widest vector unit the CPU has.
fn kernel(step: Step, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { kernel_avx512(step, param, grad, m, v) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { kernel_avx2(step, param, grad, m, v) };
        }
    }
    elementwise(step, param, grad, m, v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn kernel_avx512(step: Step, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
    elementwise(step, param, grad, m, v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn kernel_avx2(step: Step, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
    elementwise(step, param, grad, m, v)
}

/// burn's operations, element by element and in its order (no fused multiply-add, which would
/// round differently): m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
/// θ ← θ − lr·(m·c)/(√v + ε'), with c and ε' from [`Step`].
#[inline(always)]
fn elementwise(step: Step, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
    let n = param.len();
    let (grad, m, v) = (&grad[..n], &mut m[..n], &mut v[..n]);
    for i in 0..n {
        let g = grad[i];
        let m_i = m[i] * step.beta_1 + g * step.keep_1;
        let v_i = v[i] * step.beta_2 + (g * g) * step.keep_2;
        m[i] = m_i;
        v[i] = v_i;
        let update = (m_i * step.combined) / (v_i.sqrt() + step.epsilon);
        param[i] -= update * step.lr;
    }
}
