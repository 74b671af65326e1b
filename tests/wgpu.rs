//! The wgpu backend really runs: training steps of both models, and parity with the CPU.
//!
//! `cargo test --release --features wgpu --test wgpu` (ndarray, the default, stays on for the
//! parity check). Without a GPU, Debian's `mesa-vulkan-drivers` (lavapipe) runs it on the CPU.

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

fn cpu() -> Backend {
    backend::compiled()
        .into_iter()
        .find(|b| b.name != "wgpu")
        .expect("a CPU backend compiled in too (the default ndarray)")
}

/// Logits `[100, 10]` of the fixture test images.
fn logits(model: &Model, device: &Device) -> Vec<f32> {
    let test = mnist_data::load(Some(&fixtures())).unwrap().test;
    let batch = mnist_data::batch_of(&test, &(0..100).collect::<Vec<_>>(), device);
    model
        .forward(batch.images)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
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
    let (cpu, gpu) = (cpu(), wgpu());
    for config in [
        ModelConfig::Linear,
        ModelConfig::Mlp {
            hidden: 300,
            activation: Default::default(),
        },
    ] {
        // Initial weights come from a CPU generator: identical on both devices.
        let a = logits(&Model::new(&config, 5, &cpu.device), &cpu.device);
        let b = logits(&Model::new(&config, 5, &gpu.device), &gpu.device);
        assert_parity(&a, &b, &format!("{config:?}"));
    }
}

#[test]
fn both_models_train_on_wgpu_and_their_weights_load_on_the_cpu() {
    let (cpu, gpu) = (cpu(), wgpu());
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
        std::fs::write(
            &config,
            format!(
                "trainer = {trainer:?}\nbatch_size = 20\nepochs = 2\ndata = {:?}\nartifacts = {:?}\n\
                 [model]\n{model}\n[optimizer]\n{optimizer}\n",
                fixtures(),
                dir.path().join("runs")
            ),
        )
        .unwrap();
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
        // The weights trained on the GPU, loaded on both devices, predict alike.
        let (_, on_gpu, _) =
            mnist_trainer::eval::load_run_model(&outcome.run_dir, None, &gpu.device).unwrap();
        let (_, on_cpu, _) =
            mnist_trainer::eval::load_run_model(&outcome.run_dir, None, &cpu.device).unwrap();
        assert_parity(
            &logits(&on_cpu, &cpu.device),
            &logits(&on_gpu, &gpu.device),
            name,
        );
    }
}
