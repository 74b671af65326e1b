//! The wgpu backend really runs: training steps of both models, and parity with the CPU.
//!
//! `cargo test --release -p mnist-infer --features ndarray,wgpu --test wgpu`: the CPU backends,
//! Flex and ndarray, are the parity checks' reference. Built from this crate, without the
//! binary's ONNX exporter: burn's `capture` (which the exporter needs) on top of wgpu would make
//! this a far longer Burn build. Without a GPU, Debian's `mesa-vulkan-drivers` (lavapipe) runs it
//! on the CPU; without any Vulkan driver the tests show as ignored (`build.rs` decides). lavapipe
//! has hung before (burn 0.22 notes), so each test runs under a time limit and fails past it.

use std::sync::mpsc;
use std::time::Duration;

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
        .expect("wgpu is compiled in (this test requires the feature)")
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

/// Runs `test` on its own thread and fails if it takes longer than `limit` (a hung driver then
/// fails the test instead of stalling the suite; the harness exits with the thread still stuck).
fn within(limit: Duration, test: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        test();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => worker.join().unwrap(),
        // The sender was dropped: the test panicked; re-raise its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("no result after {limit:?}: the Vulkan driver seems to hang")
        }
    }
}

/// A lavapipe run of these tests takes 1–3 minutes on 2 cores; ten is a hang.
const LIMIT: Duration = Duration::from_secs(600);

#[test]
#[cfg_attr(
    not(has_vulkan),
    ignore = "wgpu not compiled in, or no Vulkan driver (install mesa-vulkan-drivers); see build.rs"
)]
fn same_weights_give_the_same_logits_on_cpu_and_wgpu() {
    within(LIMIT, same_logits);
}

fn same_logits() {
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
#[cfg_attr(
    not(has_vulkan),
    ignore = "wgpu not compiled in, or no Vulkan driver (install mesa-vulkan-drivers); see build.rs"
)]
fn both_models_train_on_wgpu_and_their_weights_load_on_the_cpu() {
    within(LIMIT, train_on_wgpu);
}

fn train_on_wgpu() {
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
