//! The wgpu backend really runs: training steps of both models, and parity with the CPU.
//!
//! `cargo test --release --features ndarray,wgpu --test wgpu`: the default Flex and ndarray stay
//! on for the parity checks. Without a GPU, Debian's `mesa-vulkan-drivers` (lavapipe) runs it on
//! the CPU.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use mnist_models::{Model, ModelConfig};
use mnist_trainer::backend::{self, Backend};
use mnist_trainer::run::{self, TrainRequest};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mnist-idx")
}

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
    let test = mnist_data::load(Some(&fixtures())).unwrap().test;
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
const LOGIT_TOLERANCE: f32 = 1e-3;

fn assert_parity(a: &[f32], b: &[f32], what: &str) {
    let max = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
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
    };
    for cpu in cpus() {
        for config in [ModelConfig::Linear, mlp] {
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
    for (name, trainer, model, optimizer) in [
        (
            "mlp",
            "learner",
            "kind = \"mlp\"\nhidden = 64",
            "kind = \"adam\"\nlr = 0.005",
        ),
        (
            "linear",
            "scratch",
            "kind = \"linear\"",
            "kind = \"sgd\"\nlr = 0.05",
        ),
    ] {
        let config = dir.path().join(format!("{name}.toml"));
        let text = format!(
            "trainer = {trainer:?}\nbatch_size = 20\nepochs = 2\ndata = {:?}\nartifacts = {:?}\n\
             [model]\n{model}\n[optimizer]\n{optimizer}\n",
            fixtures(),
            dir.path().join("runs")
        );
        std::fs::write(&config, text).unwrap();
        let outcome = run::train(
            &TrainRequest {
                config,
                ..Default::default()
            },
            &gpu,
        )
        .unwrap();
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
            mnist_trainer::eval::load_run_model(&outcome.run_dir, None, device)
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
