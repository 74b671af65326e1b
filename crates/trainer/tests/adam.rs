//! The fused Adam against burn's: the same parameters after 200 steps on the same batches (the
//! fused kernel made every update, not burn's Adam behind it), optimizer states that either one
//! can resume from, and a state of the wrong size refused rather than half applied.

use burn::optim::{AdamState, AdaptiveMomentumState, GradientsParams, ModuleOptimizer, Optimizer};
use burn::prelude::*;
use mnist_data::Split;
use mnist_models::{Activation, Mlp, Model, ModelConfig, loss_and_logits};
use mnist_trainer::approx::max_or_nan;
use mnist_trainer::backend::default_backend;
use mnist_trainer::testing::mnist_idx;
use mnist_trainer::training::adam::{self, AdamHyper, FusedAdam, PathCounts};

/// configs/mlp.toml's constants (Keras' defaults, which the course used).
const KERAS: AdamHyper = AdamHyper {
    beta_1: 0.9,
    beta_2: 0.999,
    epsilon: 1e-7,
};
const BATCH: usize = 50;
/// An MLP's parameter tensors: hidden weight and bias, output weight and bias.
const TENSORS: u64 = 4;

fn train_split() -> Split {
    mnist_data::load(Some(&mnist_idx())).unwrap().train
}

fn mlp(seed: u64, device: &Device) -> Model {
    let config = ModelConfig::Mlp {
        hidden: 64,
        activation: Activation::Tanh,
        dropout: 0.0,
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

/// A fused Adam on the default backend (Flex, host memory), and its counts of updates by path.
fn fused_counted(hyper: AdamHyper) -> (ModuleOptimizer, PathCounts) {
    let backend = default_backend();
    assert!(
        backend.host_memory(),
        "the default backend, {}, is not a host-memory one: the fused path cannot be tested",
        backend.name
    );
    let optim = FusedAdam::new(hyper, true);
    let paths = optim.paths();
    (optim.into(), paths)
}

fn fused(hyper: AdamHyper) -> ModuleOptimizer {
    fused_counted(hyper).0
}

/// Every one of `steps` steps went through the fused kernel, none through burn's Adam.
fn assert_all_fused(paths: &PathCounts, steps: u64, what: &str) {
    assert_eq!(
        (paths.fused(), paths.reference()),
        (steps * TENSORS, 0),
        "{what}: (fused, burn's) updates after {steps} steps of {TENSORS} tensors"
    );
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
        let (mut optim, paths) = fused_counted(hyper);
        let ours = run(start, &mut optim, lr, &split, 0..200);
        // Otherwise this would compare burn's Adam with itself.
        assert_all_fused(&paths, 200, &format!("{hyper:?}, lr {lr}"));
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
    // burn's Adam (no counts) or the fused one (counts of its updates by path).
    let make = |fused: bool| match fused {
        false => (burn_adam(KERAS), None),
        true => {
            let (optim, paths) = fused_counted(KERAS);
            (optim, Some(paths))
        }
    };
    for (first, then) in [(false, true), (true, false)] {
        let (mut optim, first_paths) = make(first);
        let halfway = run(start.clone(), &mut optim, lr, &split, 0..15);
        // Through bytes, as a checkpoint goes through a file.
        let bytes = optim.into_bytes().unwrap();
        let (resumed, then_paths) = make(then);
        let mut resumed = resumed.from_bytes(bytes).unwrap();
        let finished = run(halfway, &mut resumed, lr, &split, 15..30);
        for paths in first_paths.iter().chain(&then_paths) {
            assert_all_fused(paths, 15, &format!("fused {first} then fused {then}"));
        }
        let difference = max_relative_difference(&straight, &finished);
        assert!(
            difference <= 1e-6,
            "optimizer {first} then {then}: {difference:e}"
        );
    }
}

#[test]
fn a_state_of_another_size_is_refused_not_half_applied() {
    // A moment one element longer or shorter than its parameter (a state saved for another
    // model, say), on the one-thread path (10 elements) and the chunked one (2^17 elements).
    let device = default_backend().device;
    let optim = FusedAdam::new(KERAS, true);
    let paths = optim.paths();
    for n in [10usize, 1 << 17] {
        for delta in [-1isize, 1] {
            let wrong = n.checked_add_signed(delta).unwrap();
            let tensor = Tensor::<1>::ones([n], &device);
            let grad = Tensor::<1>::ones([n], &device);
            let state = AdamState::new(AdaptiveMomentumState::new(
                3,
                Tensor::<1>::zeros([wrong], &device),
                Tensor::<1>::zeros([n], &device),
            ));
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                optim.step(1e-3, tensor, grad, Some(state))
            }));
            let message = match caught {
                Ok(_) => panic!("{n} elements, a first moment of {wrong}: the step went through"),
                Err(e) => e.downcast::<String>().map(|s| *s).unwrap_or_default(),
            };
            assert!(
                message.contains(&format!("first moment {wrong}")),
                "{n} elements, a first moment of {wrong}: {message:?}"
            );
        }
    }
    // The refusals were on the fused path, the one that checks lengths itself.
    assert_eq!((paths.fused(), paths.reference()), (4, 0));
}
