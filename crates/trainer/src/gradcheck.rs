//! `mnist gradcheck`: the hand-written gradient of the linear classifier against
//! (a) central finite differences of the loss in f64 and (b) burn's autodiff.

use std::path::PathBuf;

use burn::module::Param;
use burn::nn::loss::CrossEntropyLoss;
use burn::prelude::*;
use mnist_data::{IMAGE_PIXELS, NUM_CLASSES, Split};
use mnist_models::{LinearSoftmax, hand_gradient};

use crate::compare::{LengthMismatch, max_abs_difference, max_or_nan};
use crate::config::defaults;
use crate::plan::{Plan, display_path};

/// Step of the central differences. In f64 the truncation error is O(h²) ≈ 1e-10 and the rounding
/// error ≈ 1e-16 / h ≈ 1e-11, both far below what an f32 gradient can resolve.
pub const H: f64 = 1e-5;
/// Tolerances on the hand gradient (computed in f32) against each reference.
pub const MAX_ABS_ERROR: f64 = 1e-5;
pub const MAX_REL_ERROR: f64 = 1e-3;
/// Relative errors are taken where |reference| or |hand| exceeds this, as tiny gradients
/// (pixels that are 0 in every image of the batch have exactly 0) make the ratio meaningless.
pub const REL_FLOOR: f64 = 1e-4;

const ROWS: usize = IMAGE_PIXELS + 1;

/// One comparison of two gradients.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub reference: &'static str,
    /// NaN when either gradient has a NaN (or they cannot be compared), so the check fails.
    pub max_abs: f64,
    pub max_rel: f64,
    /// Weights compared: both gradients' length when they agree.
    pub checked: usize,
    /// Set when the two gradients have different lengths: nothing was compared.
    pub mismatch: Option<LengthMismatch>,
}

impl Comparison {
    /// Within tolerance everywhere; false on NaN (`NaN <= x` is false) and on a length mismatch.
    pub fn passed(&self) -> bool {
        self.mismatch.is_none() && self.max_abs <= MAX_ABS_ERROR && self.max_rel <= MAX_REL_ERROR
    }
}

/// Compares `hand` with `reference`, both `[785, 10]` row-major.
pub fn compare(reference: &'static str, reference_grad: &[f64], hand: &[f32]) -> Comparison {
    let (max_abs, mismatch) = match max_abs_difference(reference_grad, hand) {
        Ok(d) => (d, None),
        Err(m) => (f64::NAN, Some(m)),
    };
    // Relative errors where the gradient is large enough for a ratio to mean something; a NaN
    // on either side makes the ratio NaN, and so the maximum.
    let ratios = reference_grad.iter().zip(hand).filter_map(|(&r, &h)| {
        let h = h as f64;
        let scale = r.abs().max(h.abs());
        (scale.is_nan() || r.is_nan() || h.is_nan() || scale > REL_FLOOR)
            .then(|| (r - h).abs() / scale)
    });
    let max_rel = if mismatch.is_some() {
        f64::NAN
    } else {
        max_or_nan(ratios).unwrap_or(0.0)
    };
    Comparison {
        reference,
        max_abs,
        max_rel,
        checked: if mismatch.is_none() { hand.len() } else { 0 },
        mismatch,
    }
}

/// Mean cross-entropy of weights `w` (`[785, 10]` row-major) on images `x` (`[batch, 784]`,
/// [0, 1]) in f64, with the logits given so that one weight's change can be applied cheaply.
fn loss_from_logits(logits: &[f64], labels: &[u8]) -> f64 {
    let mut total = 0.0;
    for (row, &y) in logits.chunks_exact(NUM_CLASSES).zip(labels) {
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + row.iter().map(|z| (z - max).exp()).sum::<f64>().ln();
        total += lse - row[y as usize];
    }
    total / labels.len() as f64
}

/// Central finite differences of the mean cross-entropy with respect to all 7,850 weights, in f64.
/// Changing W[i][k] by ±h moves only logit k of each image, by ±h·xᵢ (x₀ = 1), so each of the
/// 15,700 loss evaluations reuses the base logits instead of redoing the product.
pub fn finite_differences(w: &[f32], x: &[f32], labels: &[u8]) -> Vec<f64> {
    let batch = labels.len();
    let input = |b: usize, i: usize| {
        if i == 0 {
            1.0
        } else {
            x[b * IMAGE_PIXELS + i - 1] as f64
        }
    };
    let mut logits = vec![0.0f64; batch * NUM_CLASSES];
    for b in 0..batch {
        for i in 0..ROWS {
            let xi = input(b, i);
            if xi != 0.0 {
                for k in 0..NUM_CLASSES {
                    logits[b * NUM_CLASSES + k] += xi * w[i * NUM_CLASSES + k] as f64;
                }
            }
        }
    }
    let mut grad = vec![0.0f64; ROWS * NUM_CLASSES];
    let mut shifted = logits.clone();
    for i in 0..ROWS {
        for k in 0..NUM_CLASSES {
            let mut at = |h: f64| {
                for b in 0..batch {
                    shifted[b * NUM_CLASSES + k] = logits[b * NUM_CLASSES + k] + h * input(b, i);
                }
                let loss = loss_from_logits(&shifted, labels);
                for b in 0..batch {
                    shifted[b * NUM_CLASSES + k] = logits[b * NUM_CLASSES + k];
                }
                loss
            };
            grad[i * NUM_CLASSES + k] = (at(H) - at(-H)) / (2.0 * H);
        }
    }
    grad
}

/// burn's autodiff gradient of the same loss (CrossEntropyLoss, as the Learner path uses).
pub fn autodiff_gradient(w: &[f32], x: &[f32], labels: &[u8], device: &Device) -> Vec<f64> {
    let ad = device.clone().autodiff();
    let batch = labels.len();
    let model = LinearSoftmax {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(w.to_vec(), [ROWS, NUM_CLASSES]),
            &ad,
        )),
    };
    let images = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [batch, IMAGE_PIXELS]), &ad);
    let labels: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), &ad);
    let loss = CrossEntropyLoss::new(None, &ad).forward(model.forward(images), targets);
    let grads = loss.backward();
    let g = model
        .weight
        .val()
        .grad(&grads)
        .expect("the weight is tracked");
    tensor_to_f64(g)
}

/// The hand-written gradient ([`mnist_models::hand_gradient`]) on `device`.
pub fn hand(w: &[f32], x: &[f32], labels: &[u8], device: &Device) -> Vec<f32> {
    let batch = labels.len();
    let weight = Tensor::<2>::from_data(TensorData::new(w.to_vec(), [ROWS, NUM_CLASSES]), device);
    let images = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [batch, IMAGE_PIXELS]), device);
    let labels: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), device);
    let g = hand_gradient(weight, images, targets).gradient;
    tensor_to_f64(g).into_iter().map(|v| v as f32).collect()
}

fn tensor_to_f64(t: Tensor<2>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .expect("converted to f64")
}

/// The inputs of a check: random weights (all 7,850, bias row included, drawn N(0, 0.1²), so no
/// weight sits at a special point) and a random batch of `batch` training images.
pub struct Problem {
    pub w: Vec<f32>,
    pub x: Vec<f32>,
    pub labels: Vec<u8>,
}

impl Problem {
    pub fn new(train: &Split, batch: usize, seed: u64, device: &Device) -> Self {
        use rand::SeedableRng;
        use rand::seq::index::sample;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let picks = sample(&mut rng, train.len(), batch.min(train.len())).into_vec();
        let x = picks
            .iter()
            .flat_map(|&i| train.image(i).iter().map(|&p| p as f32 / 255.0))
            .collect();
        let labels = picks.iter().map(|&i| train.label(i)).collect();
        // LinearSoftmax's own initialiser leaves the bias at 0; shift it by N(0, 0.1²) too.
        let model = LinearSoftmax::new(seed, device);
        let mut w = model.weights_vec();
        let bias = LinearSoftmax::new(seed.wrapping_add(1), device).weights_vec();
        w[..NUM_CLASSES].copy_from_slice(&bias[NUM_CLASSES..2 * NUM_CLASSES]);
        Self { w, x, labels }
    }
}

/// Both comparisons for `hand_grad` (the gradient under test).
pub fn check(problem: &Problem, hand_grad: &[f32], device: &Device) -> [Comparison; 2] {
    let fd = finite_differences(&problem.w, &problem.x, &problem.labels);
    let ad = autodiff_gradient(&problem.w, &problem.x, &problem.labels, device);
    [
        compare("finite differences (f64)", &fd, hand_grad),
        compare("burn autodiff", &ad, hand_grad),
    ]
}

/// Images per checked batch: the course's batch size.
pub const BATCH: usize = 50;

/// Where a check takes its images from and how it draws its weights.
#[derive(Clone, Debug)]
pub struct Source {
    pub data: PathBuf,
    pub seed: u64,
}

impl Source {
    /// A run config's data and seed.
    pub fn of_plan(plan: &Plan) -> Self {
        Self {
            data: plan.data().to_path_buf(),
            seed: plan.seed(),
        }
    }
}

impl Default for Source {
    /// What a config without `data` and `seed` would use.
    fn default() -> Self {
        Self {
            data: mnist_data::default_path(),
            seed: defaults::SEED,
        }
    }
}

/// `mnist gradcheck [CONFIG]`: the report, and whether both comparisons passed.
pub fn run(source: &Source, device: &Device) -> Result<(String, bool), crate::Error> {
    let seed = source.seed;
    let mnist = mnist_data::load(Some(&source.data))?;
    let problem = Problem::new(&mnist.train, BATCH, seed, device);
    let hand_grad = hand(&problem.w, &problem.x, &problem.labels, device);
    let results = check(&problem, &hand_grad, device);
    let mut out = format!(
        "gradient check of the hand-written gradient: linear softmax, 785×10 weights at random \
         values, {} training images from {} (seed {seed}), central differences with h = {H:e} in f64\n",
        problem.labels.len(),
        display_path(&mnist.path)
    );
    out.push_str(&format!(
        "{:<26}{:>8}{:>15}{:>15}   tolerance\n",
        "reference", "weights", "max abs error", "max rel error"
    ));
    for c in &results {
        let verdict = match &c.mismatch {
            Some(m) => format!("FAILED ({m})"),
            None if c.passed() => "ok".to_string(),
            None => "FAILED".to_string(),
        };
        out.push_str(&format!(
            "{:<26}{:>8}{:>15.2e}{:>15.2e}   abs ≤ {MAX_ABS_ERROR:.0e}, rel ≤ {MAX_REL_ERROR:.0e} (where |g| > {REL_FLOOR:.0e})  {verdict}\n",
            c.reference, c.checked, c.max_abs, c.max_rel,
        ));
    }
    Ok((out, results.iter().all(Comparison::passed)))
}
