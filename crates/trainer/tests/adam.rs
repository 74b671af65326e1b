//! The fused Adam against burn's: the same parameters after 200 steps on the same batches, and
//! optimizer states that either one can resume from.

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use mnist_data::Split;
use mnist_models::{Activation, Mlp, Model, ModelConfig, loss_and_logits};
use mnist_trainer::adam::{self, AdamHyper, FusedAdam};
use mnist_trainer::backend::default_backend;
use mnist_trainer::compare::max_or_nan;
use mnist_trainer::testing::mnist_idx;

/// configs/mlp.toml's constants (Keras' defaults, which the course used).
const KERAS: AdamHyper = AdamHyper {
    beta_1: 0.9,
    beta_2: 0.999,
    epsilon: 1e-7,
};
const BATCH: usize = 50;

fn train_split() -> Split {
    mnist_data::load(Some(&mnist_idx())).unwrap().train
}

fn mlp(seed: u64, device: &Device) -> Model {
    let config = ModelConfig::Mlp {
        hidden: 64,
        activation: Activation::Tanh,
    };
    Model::new(&config, seed, device)
}

/// Runs `steps` steps from `start`, the batches cycling through the fixture images in order.
fn run(
    mut model: Model,
    optim: &mut ModuleOptimizer,
    lr: f64,
    split: &Split,
    steps: std::ops::Range<usize>,
) -> Model {
    let device = model.devices()[0].clone();
    let batches = split.len() / BATCH;
    for step in steps {
        let first = (step % batches) * BATCH;
        let indices: Vec<usize> = (first..first + BATCH).collect();
        let batch = mnist_data::batch_of(split, &indices, &device);
        let (loss, _) = loss_and_logits(&model, &batch);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
    }
    model
}

/// Every parameter of an MLP, flattened, in a fixed order.
fn parameters(model: &Model) -> Vec<Vec<f32>> {
    let Model::Mlp(Mlp { hidden, output, .. }) = model else {
        panic!("an MLP");
    };
    let flat = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    let flat1 = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
    vec![
        flat(hidden.weight.val()),
        flat1(hidden.bias.as_ref().unwrap().val()),
        flat(output.weight.val()),
        flat1(output.bias.as_ref().unwrap().val()),
    ]
}

/// The largest |a − b| / max(|a|, |b|) over all parameters (NaN if any value is NaN).
fn max_relative_difference(a: &Model, b: &Model) -> f64 {
    let (a, b) = (parameters(a), parameters(b));
    assert_eq!(a.len(), b.len());
    max_or_nan(a.iter().zip(&b).flat_map(|(a, b)| {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(&x, &y)| {
            let scale = x.abs().max(y.abs()).max(f32::MIN_POSITIVE);
            f64::from((x - y).abs() / scale)
        })
    }))
    .unwrap()
}

fn burn_adam(hyper: AdamHyper) -> ModuleOptimizer {
    adam::config(hyper).init()
}

fn fused(hyper: AdamHyper) -> ModuleOptimizer {
    FusedAdam::new(hyper, default_backend().host_memory()).into()
}

#[test]
fn fused_adam_equals_burns_adam_over_200_steps() {
    let device = default_backend().device.autodiff();
    let split = train_split();
    let other = AdamHyper {
        beta_1: 0.8,
        beta_2: 0.99,
        epsilon: 1e-3,
    };
    for (hyper, lr) in [(KERAS, 1e-3), (KERAS, 1e-2), (other, 5e-3)] {
        let start = mlp(7, &device);
        let before = parameters(&start);
        let reference = run(start.clone(), &mut burn_adam(hyper), lr, &split, 0..200);
        let ours = run(start, &mut fused(hyper), lr, &split, 0..200);
        let difference = max_relative_difference(&reference, &ours);
        assert!(
            difference <= 1e-6,
            "{hyper:?}, lr {lr}: parameters differ by {difference:e} (relative) after 200 steps"
        );
        // The comparison means something only if the steps moved the weights.
        let moved = max_or_nan(before.iter().zip(parameters(&ours)).flat_map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(x, y)| f64::from((x - y).abs()))
                .collect::<Vec<_>>()
        }))
        .unwrap();
        assert!(
            moved > 10.0 * lr,
            "{hyper:?}, lr {lr}: weights moved only {moved}"
        );
    }
}

#[test]
fn a_wrong_update_is_caught() {
    // The tolerance is tight enough to see an Adam that differs from burn's only in ε: the
    // comparison above can fail.
    let device = default_backend().device.autodiff();
    let split = train_split();
    let start = mlp(7, &device);
    let reference = run(start.clone(), &mut burn_adam(KERAS), 1e-3, &split, 0..20);
    let off = AdamHyper {
        epsilon: 1e-6,
        ..KERAS
    };
    let ours = run(start, &mut fused(off), 1e-3, &split, 0..20);
    assert!(max_relative_difference(&reference, &ours) > 1e-6);
}

#[test]
fn either_adam_resumes_from_the_others_state() {
    let device = default_backend().device.autodiff();
    let split = train_split();
    let lr = 1e-3;
    let start = mlp(3, &device);
    let straight = run(start.clone(), &mut burn_adam(KERAS), lr, &split, 0..30);
    let makers: [fn(AdamHyper) -> ModuleOptimizer; 2] = [burn_adam, fused];
    for (first, then) in [(0, 1), (1, 0)] {
        let mut optim = makers[first](KERAS);
        let halfway = run(start.clone(), &mut optim, lr, &split, 0..15);
        // Through bytes, as a checkpoint goes through a file.
        let bytes = optim.into_bytes().unwrap();
        let mut resumed = makers[then](KERAS).from_bytes(bytes).unwrap();
        let finished = run(halfway, &mut resumed, lr, &split, 15..30);
        let difference = max_relative_difference(&straight, &finished);
        assert!(
            difference <= 1e-6,
            "optimizer {first} then {then}: {difference:e}"
        );
    }
}
