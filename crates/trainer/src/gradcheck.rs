//! `mnist gradcheck`: the hand-written gradient of the linear classifier against
//! (a) central finite differences of the loss in f64 and (b) burn's autodiff.

use std::path::PathBuf;

use burn::module::Param;
use burn::nn::loss::CrossEntropyLoss;
use burn::prelude::*;
use mnist_data::{IMAGE_PIXELS, NUM_CLASSES, Split};
pub use mnist_models::gradcheck::H;
use mnist_models::gradcheck::{ROWS, finite_differences};
use mnist_models::{LinearSoftmax, hand_gradient};

use crate::approx::{LengthMismatch, max_abs_difference, max_or_nan};
use crate::run::config::defaults;
use crate::run::plan::Plan;

/// Tolerances on the hand gradient (computed in f32) against each reference.
pub const MAX_ABS_ERROR: f64 = 1e-5;
pub const MAX_REL_ERROR: f64 = 1e-3;
/// Relative errors are taken where |reference| or |hand| exceeds this, as tiny gradients
/// (pixels that are 0 in every image of the batch have exactly 0) make the ratio meaningless.
pub const REL_FLOOR: f64 = 1e-4;

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

/// What `mnist gradcheck` found: the batch it checked on and both comparisons.
#[derive(Clone, Debug)]
pub struct GradcheckReport {
    /// The data file the images came from.
    pub data: PathBuf,
    pub images: usize,
    pub seed: u64,
    /// Against finite differences, then against burn's autodiff.
    pub comparisons: [Comparison; 2],
}

impl GradcheckReport {
    /// Both comparisons within tolerance.
    pub fn passed(&self) -> bool {
        self.comparisons.iter().all(Comparison::passed)
    }
}

/// `mnist gradcheck [CONFIG]`: the hand gradient at random weights on a real batch, against both
/// references.
pub fn run(source: &Source, device: &Device) -> Result<GradcheckReport, crate::Error> {
    let mnist = mnist_data::load(Some(&source.data))?;
    let problem = Problem::new(&mnist.train, BATCH, source.seed, device);
    let hand_grad = hand(&problem.w, &problem.x, &problem.labels, device);
    Ok(GradcheckReport {
        data: mnist.path,
        images: problem.labels.len(),
        seed: source.seed,
        comparisons: check(&problem, &hand_grad, device),
    })
}
