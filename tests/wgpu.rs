//! The wgpu backend really runs: training steps of both models, and parity with the CPU.
//!
//! `cargo test --release --features ndarray,wgpu --test wgpu`: the default Flex and ndarray stay
//! on for the parity checks. Without a GPU, Debian's `mesa-vulkan-drivers` (lavapipe) runs it on
//! the CPU.

use burn::prelude::*;
use mnist_models::{Model, ModelConfig};
use mnist_trainer::approx::max_abs_difference;
use mnist_trainer::backend::{self, Backend};
use mnist_trainer::run::dir::Weights;
use mnist_trainer::testing::{TestConfig, mnist_idx};
use mnist_trainer::training::observer::quiet;
use mnist_trainer::training::train::{self, TrainRequest};

fn wgpu() -> Backend {
    backend::compiled()
        .into_iter()
        .find(|b| b.name == "wgpu")
        .expect("built with --features wgpu")
}

/// Every CPU backend compiled in (the default Flex, and ndarray with `--features ndarray`).
fn cpus() -> Vec<Backend> {
    let cpus: Vec<Backend> = backend::compiled()
        .into_iter()
        .filter(|b| b.name != "wgpu")
        .collect();
    assert!(!cpus.is_empty(), "a CPU backend must be compiled in too");
    cpus
}

/// Logits `[100, 10]` of the fixture test images.
fn logits(model: &Model, device: &Device) -> Vec<f32> {
    let test = mnist_data::load(Some(&mnist_idx())).unwrap().test;
    let batch = mnist_data::batch_of(&test, &(0..100).collect::<Vec<_>>(), device);
    let out = model.forward(batch.images).into_data().convert::<f32>();
    out.try_into_vec::<f32>().unwrap()
}

fn argmax(logits: &[f32]) -> Vec<usize> {
    logits
        .chunks(10)
        .map(|row| (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap())
        .collect()
}

/// Largest absolute difference allowed between CPU and GPU logits: float sums in another order
/// and GPU math functions differ in the last bits; logits here are of order 1–10.
const LOGIT_TOLERANCE: f64 = 1e-3;

fn assert_parity(a: &[f32], b: &[f32], what: &str) {
    // NaN-aware and length-checked: NaN logits or a short output fail.
    let max = max_abs_difference(a, b).unwrap_or_else(|e| panic!("{what}: {e}"));
    eprintln!("{what}: max |cpu − wgpu| logit difference {max:e}");
    assert!(max <= LOGIT_TOLERANCE, "{what}: logits differ by {max}");
    assert_eq!(argmax(a), argmax(b), "{what}: predictions differ");
}

#[test]
fn same_weights_give_the_same_logits_on_cpu_and_wgpu() {
    let gpu = wgpu();
    let mlp = ModelConfig::Mlp {
        hidden: 300,
        activation: Default::default(),
        dropout: 0.0,
    };
    // The CNN too: its convolutions, pooling and standardisation run on wgpu's own kernels.
    let cnn = TestConfig::cnn().plan().model();
    for cpu in cpus() {
        for config in [ModelConfig::Linear, mlp.clone(), cnn.clone()] {
            // Initial weights come from a CPU generator: identical on every device.
            let a = logits(&Model::new(&config, 5, &cpu.device), &cpu.device);
            let b = logits(&Model::new(&config, 5, &gpu.device), &gpu.device);
            assert_parity(&a, &b, &format!("{} vs wgpu, {config:?}", cpu.name));
        }
    }
}

#[test]
fn both_models_train_on_wgpu_and_their_weights_load_on_the_cpu() {
    let gpu = wgpu();
    let dir = tempfile::tempdir().unwrap();
    for (name, config) in [
        ("mlp", TestConfig::mlp(64)),
        ("linear", TestConfig::scratch()),
    ] {
        let request = TrainRequest {
            plan: config.artifacts(&dir.path().join("runs")).plan(),
            name: name.into(),
            resume: false,
            force: false,
        };
        let outcome = train::train(&request, &gpu, quiet()).unwrap();
        let last = outcome.epochs.last().unwrap();
        assert!(
            last.train_loss < outcome.epochs[0].train_loss,
            "{name}: {:?}",
            outcome.epochs
        );
        assert!(
            last.valid_acc > 0.3,
            "{name}: test accuracy {}",
            last.valid_acc
        );
        // The weights trained on the GPU, loaded on every device, predict alike.
        let load = |device: &Device| {
            mnist_infer::model::open(&outcome.run, Weights::Final, device)
                .unwrap()
                .1
        };
        let on_gpu = logits(&load(&gpu.device), &gpu.device);
        for cpu in cpus() {
            let on_cpu = logits(&load(&cpu.device), &cpu.device);
            assert_parity(
                &on_cpu,
                &on_gpu,
                &format!("{name} trained on wgpu, on {}", cpu.name),
            );
        }
    }
}
