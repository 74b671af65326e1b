//! Training through burn's Learner on the real fixture images (200 train, 100 test).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use mnist_data::MnistBatch;
use mnist_models::{Model, ModelConfig};
use mnist_trainer::backend;
use mnist_trainer::config::RunConfig;
use mnist_trainer::eval;
use mnist_trainer::metrics;
use mnist_trainer::run::{self, TrainRequest};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// A config file in `dir` training `model` on the fixture images.
fn write_config(dir: &Path, model: &str, optimizer: &str, epochs: usize) -> PathBuf {
    let text = format!(
        "batch_size = 20\nepochs = {epochs}\nseed = 7\ndata = {:?}\nartifacts = {:?}\n\
         [model]\n{model}\n[optimizer]\n{optimizer}\n",
        fixtures().join("mnist-idx"),
        dir.join("runs"),
    );
    let path = dir.join("run.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const MLP: &str = "kind = \"mlp\"\nhidden = 64";
const ADAM: &str = "kind = \"adam\"\nlr = 0.005";

fn train(config: &Path, name: &str, resume: bool) -> run::TrainOutcome {
    let request = TrainRequest {
        config: config.to_path_buf(),
        name: Some(name.into()),
        resume,
        force: false,
    };
    run::train(&request, &backend::select()).unwrap()
}

/// Logits of the first 50 test fixture images under a run's final model.
fn logits_of_run(run_dir: &Path) -> Vec<f32> {
    let device = backend::select().device;
    let (_, model, _) = eval::load_run_model(run_dir, None, &device).unwrap();
    logits(&model, &device)
}

fn logits(model: &Model, device: &Device) -> Vec<f32> {
    let test = mnist_data::load(Some(&fixtures().join("mnist-idx")))
        .unwrap()
        .test;
    let batch: MnistBatch = mnist_data::batch_of(&test, &(0..50).collect::<Vec<_>>(), device);
    model
        .forward(batch.images)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

#[test]
fn short_training_beats_chance_by_far() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), MLP, ADAM, 5);
    let outcome = train(&config, "mlp", false);
    let last = outcome.epochs.last().unwrap();
    assert_eq!(last.epoch, 5);
    // 10 classes: chance is 10%. 200 training images get a small MLP well past 60%.
    assert!(last.valid_acc > 0.6, "test accuracy {}", last.valid_acc);
    assert!(last.train_loss < outcome.epochs[0].train_loss);
    // The run directory holds everything.
    for file in ["config.toml", "metrics.csv", "epochs.csv", "model.bpk"] {
        assert!(outcome.run_dir.join(file).exists(), "{file}");
    }
    assert_eq!(
        run::checkpoint_epochs(&outcome.run_dir),
        vec![1, 2, 3, 4, 5]
    );
    // metrics.csv: 2 epoch rows per epoch, one row per iteration (10 batches of 20 per epoch).
    let csv = std::fs::read_to_string(outcome.run_dir.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some(metrics::METRICS_HEADER));
    assert_eq!(csv.lines().filter(|l| l.starts_with("epoch,")).count(), 10);
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("iteration,")).count(),
        50
    );
    // The resolved config is the one we gave.
    let stored = RunConfig::load(&outcome.run_dir.join("config.toml")).unwrap();
    assert_eq!(stored, RunConfig::load(&config).unwrap());
    // eval rebuilds the model from the run's config and reproduces the last validation epoch.
    let e = eval::eval(&outcome.run_dir, None, None, &backend::select()).unwrap();
    assert_eq!(e.total, 100);
    assert!(
        (e.accuracy() - last.valid_acc).abs() < 1e-9,
        "{} vs {}",
        e.accuracy(),
        last.valid_acc
    );
    assert!(
        (e.loss - last.valid_loss).abs() < 1e-4,
        "{} vs {}",
        e.loss,
        last.valid_loss
    );
}

#[test]
fn save_then_load_gives_identical_logits() {
    let device = backend::select().device;
    let dir = tempfile::tempdir().unwrap();
    for (i, config) in [
        ModelConfig::Linear,
        ModelConfig::Mlp {
            hidden: 40,
            activation: Default::default(),
        },
    ]
    .iter()
    .enumerate()
    {
        let model = Model::new(config, 1, &device);
        let before = logits(&model, &device);
        let path = dir.path().join(format!("m{i}.bpk"));
        model.save_file(&path).unwrap();
        // A differently initialised model takes the saved weights.
        let other = Model::new(config, 2, &device);
        assert_ne!(logits(&other, &device), before);
        let loaded = other.try_load_file(&path).unwrap();
        assert_eq!(logits(&loaded, &device), before, "{config:?}");
    }
}

#[test]
fn loading_weights_of_another_model_is_an_error() {
    let device = backend::select().device;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mlp.bpk");
    Model::new(
        &ModelConfig::Mlp {
            hidden: 40,
            activation: Default::default(),
        },
        1,
        &device,
    )
    .save_file(&path)
    .unwrap();
    let wider = Model::new(
        &ModelConfig::Mlp {
            hidden: 41,
            activation: Default::default(),
        },
        1,
        &device,
    );
    assert!(wider.try_load_file(&path).is_err());
    let linear = Model::new(&ModelConfig::Linear, 1, &device);
    assert!(linear.try_load_file(&path).is_err());
}

#[test]
fn resume_after_stopping_ends_where_the_uninterrupted_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), MLP, ADAM, 3);
    let full = train(&config, "full", false);
    let uninterrupted = logits_of_run(&full.run_dir);

    for stop_after in [1, 2] {
        let name = format!("stopped-{stop_after}");
        let stopped = train(&config, &name, false);
        // What a run killed after epoch `stop_after` leaves behind: no later checkpoints and no
        // final model.
        for epoch in stop_after + 1..=3 {
            for kind in ["model", "optim", "scheduler"] {
                std::fs::remove_file(
                    stopped
                        .run_dir
                        .join(format!("checkpoint/{kind}-{epoch}.bpk")),
                )
                .unwrap();
            }
        }
        std::fs::remove_file(stopped.run_dir.join("model.bpk")).unwrap();
        let resumed = train(&config, &name, true);
        assert_eq!(resumed.epochs.len(), 3);
        assert_eq!(
            resumed.epochs,
            full.epochs
                .iter()
                .map(|r| {
                    // Timings differ; everything else must not.
                    let mut r = r.clone();
                    r.seconds = resumed.epochs[r.epoch - 1].seconds;
                    r
                })
                .collect::<Vec<_>>()
        );
        assert_eq!(
            logits_of_run(&resumed.run_dir),
            uninterrupted,
            "stopped after {stop_after}"
        );
    }
}
