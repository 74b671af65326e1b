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
    write_config_named(dir, "run", "learner", model, optimizer, epochs)
}

fn write_config_named(
    dir: &Path,
    file: &str,
    trainer: &str,
    model: &str,
    optimizer: &str,
    epochs: usize,
) -> PathBuf {
    let text = format!(
        "trainer = {trainer:?}\nbatch_size = 20\nepochs = {epochs}\nseed = 7\ndata = {:?}\n\
         artifacts = {:?}\n[model]\n{model}\n[optimizer]\n{optimizer}\n",
        fixtures().join("mnist-idx"),
        dir.join("runs"),
    );
    let path = dir.join(format!("{file}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

const MLP: &str = "kind = \"mlp\"\nhidden = 64";
const ADAM: &str = "kind = \"adam\"\nlr = 0.005";
const LINEAR: &str = "kind = \"linear\"";
const SGD: &str = "kind = \"sgd\"\nlr = 0.05";

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
        run::checkpoint_epochs(
            &outcome.run_dir,
            mnist_trainer::config::TrainerKind::Learner
        ),
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
    for (trainer, model, optimizer, kinds) in [
        ("learner", MLP, ADAM, &["model", "optim", "scheduler"][..]),
        ("scratch", LINEAR, SGD, &["model"][..]),
    ] {
        let config = write_config_named(dir.path(), trainer, trainer, model, optimizer, 3);
        let full = train(&config, &format!("{trainer}-full"), false);
        let uninterrupted = logits_of_run(&full.run_dir);

        for stop_after in [1, 2] {
            let name = format!("{trainer}-stopped-{stop_after}");
            let stopped = train(&config, &name, false);
            // What a run killed after epoch `stop_after` leaves behind: no later checkpoints and
            // no final model.
            for epoch in stop_after + 1..=3 {
                for kind in kinds {
                    let file = stopped
                        .run_dir
                        .join(format!("checkpoint/{kind}-{epoch}.bpk"));
                    std::fs::remove_file(file).unwrap();
                }
            }
            std::fs::remove_file(stopped.run_dir.join("model.bpk")).unwrap();
            let resumed = train(&config, &name, true);
            assert_eq!(resumed.epochs.len(), 3);
            // Timings differ; everything else must not.
            let untimed = |r: &mnist_trainer::progress::EpochRecord| {
                (
                    r.epoch,
                    r.train_loss,
                    r.train_acc,
                    r.valid_loss,
                    r.valid_acc,
                )
            };
            assert_eq!(
                resumed.epochs.iter().map(untimed).collect::<Vec<_>>(),
                full.epochs.iter().map(untimed).collect::<Vec<_>>(),
                "{trainer}, stopped after {stop_after}"
            );
            assert_eq!(
                logits_of_run(&resumed.run_dir),
                uninterrupted,
                "{trainer}, stopped after {stop_after}"
            );
        }
    }
}

#[test]
fn hand_trained_and_learner_trained_linear_models_agree() {
    let dir = tempfile::tempdir().unwrap();
    let by_hand = train(
        &write_config_named(dir.path(), "scratch", "scratch", LINEAR, SGD, 3),
        "scratch",
        false,
    );
    let by_learner = train(
        &write_config_named(dir.path(), "learner", "learner", LINEAR, SGD, 3),
        "learner",
        false,
    );
    let (a, b) = (
        logits_of_run(&by_hand.run_dir),
        logits_of_run(&by_learner.run_dir),
    );
    let max_diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(max_diff < 1e-3, "logits differ by up to {max_diff}");
    for (h, l) in by_hand.epochs.iter().zip(&by_learner.epochs) {
        assert!((h.valid_acc - l.valid_acc).abs() <= 0.003, "{h:?} vs {l:?}");
        assert!((h.train_loss - l.train_loss).abs() < 1e-4, "{h:?} vs {l:?}");
    }
}

#[test]
fn gradient_check_passes_and_catches_wrong_gradients() {
    use mnist_trainer::gradcheck::{Problem, check, hand};
    let device = backend::select().device;
    let train = mnist_data::load(Some(&fixtures().join("mnist-idx")))
        .unwrap()
        .train;
    let problem = Problem::new(&train, 50, 3, &device);
    let good = hand(&problem.w, &problem.x, &problem.labels, &device);
    let results = check(&problem, &good, &device);
    assert!(
        results.iter().all(|c| c.passed() && c.checked == 7850),
        "{results:?}"
    );

    // One weight's gradient with the wrong sign: the one of median magnitude, not the largest.
    let mut order: Vec<usize> = (0..good.len()).filter(|&i| good[i].abs() > 1e-3).collect();
    order.sort_by(|&i, &j| good[i].abs().total_cmp(&good[j].abs()));
    let mut flipped = good.clone();
    flipped[order[order.len() / 2]] *= -1.0;
    assert!(
        check(&problem, &flipped, &device)
            .iter()
            .all(|c| !c.passed())
    );
    // The bias row (row 0) dropped.
    let mut no_bias = good.clone();
    no_bias[..10].iter_mut().for_each(|g| *g = 0.0);
    assert!(
        check(&problem, &no_bias, &device)
            .iter()
            .all(|c| !c.passed())
    );
    // Not divided by the batch size.
    let summed: Vec<f32> = good.iter().map(|g| g * 50.0).collect();
    assert!(
        check(&problem, &summed, &device)
            .iter()
            .all(|c| !c.passed())
    );
}

/// The PNG exists, has `size` pixels and is not blank.
fn assert_figure(path: &Path, size: (u32, u32)) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_luma8();
    assert_eq!(img.dimensions(), size, "{}", path.display());
    let n = img.len() as f64;
    let mean = img.iter().map(|&p| p as f64).sum::<f64>() / n;
    let var = img.iter().map(|&p| (p as f64 - mean).powi(2)).sum::<f64>() / n;
    // A blank (single-colour) image has variance 0; drawn figures have hundreds.
    assert!(var > 100.0, "{}: pixel variance {var}", path.display());
}

/// Every `src="..."` and `href="..."` of an HTML page.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            out.push(part.split('"').next().unwrap().to_string());
        }
    }
    out
}

#[test]
fn every_run_gets_its_figures_confusion_matrix_and_report() {
    use mnist_trainer::figures::*;
    let dir = tempfile::tempdir().unwrap();
    let linear = train(
        &write_config_named(dir.path(), "s", "scratch", LINEAR, SGD, 2),
        "s",
        false,
    );
    let mlp = train(&write_config(dir.path(), MLP, ADAM, 2), "m", false);
    let common = [
        (SAMPLES_PNG, SAMPLES_SIZE),
        (PREDICTIONS_PNG, PREDICTIONS_SIZE),
        (CURVES_PNG, CURVES_SIZE),
        (EPOCHS_PNG, EPOCHS_SIZE),
        (CONFUSION_PNG, CONFUSION_SIZE),
    ];
    for (run, own) in [
        (&linear.run_dir, (WEIGHTS_PNG, WEIGHTS_SIZE)),
        (&mlp.run_dir, (HIDDEN_PNG, WEIGHTS_SIZE)),
    ] {
        for (file, size) in common.iter().chain([&own]) {
            assert_figure(&run.join(file), *size);
        }
        // 100 fixture test images: two test batches of 50.
        let batches = std::fs::read_to_string(run.join("test_batches.csv")).unwrap();
        assert_eq!(batches.lines().count(), 3, "{batches}");

        // The confusion matrix covers the test set and its trace is the number correct.
        let csv = std::fs::read_to_string(run.join("confusion.csv")).unwrap();
        let m: Vec<Vec<usize>> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect())
            .collect();
        assert_eq!(m.len(), 10);
        assert_eq!(m.iter().flatten().sum::<usize>(), 100);
        let e = eval::eval(run, None, None, &backend::select()).unwrap();
        assert_eq!((0..10).map(|i| m[i][i]).sum::<usize>(), e.correct);
        assert_figure(&e.confusion, CONFUSION_SIZE);

        // report.html links only files that exist, and every figure of the run.
        let html = std::fs::read_to_string(run.join("report.html")).unwrap();
        let refs = references(&html);
        assert!(refs.len() >= 6, "{refs:?}");
        for r in &refs {
            assert!(run.join(r).is_file(), "report.html references missing {r}");
        }
        for (file, _) in common.iter().chain([&own]) {
            assert!(refs.iter().any(|r| r == file), "{file} not in the report");
        }
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "report needs the network"
        );
    }
    // `mnist report` redoes them from the saved files.
    for (file, _) in common {
        std::fs::remove_file(mlp.run_dir.join(file)).unwrap();
    }
    std::fs::remove_file(mlp.run_dir.join("report.html")).unwrap();
    mnist_trainer::report::regenerate(&mlp.run_dir, &backend::select()).unwrap();
    for (file, size) in common {
        assert_figure(&mlp.run_dir.join(file), size);
    }
    assert!(mlp.run_dir.join("report.html").is_file());
}

#[test]
fn hidden_unit_selection_picks_the_largest_weight_into_each_digit() {
    use mnist_trainer::figures::strongest_hidden_units;
    let hidden = 7;
    // Small noise everywhere, then one planted winner per digit (negative weights elsewhere
    // larger in magnitude, to catch an |w| instead of w).
    let mut w: Vec<f32> = (0..hidden * 10)
        .map(|k| ((k * 37 % 11) as f32 - 5.0) * 0.01)
        .collect();
    let planted = [3, 0, 6, 6, 1, 2, 5, 4, 0, 3];
    for (d, &h) in planted.iter().enumerate() {
        w[h * 10 + d] = 1.0 + d as f32;
        w[((h + 1) % hidden) * 10 + d] = -5.0;
    }
    let picked = strongest_hidden_units(&w, hidden);
    for (d, &(h, v)) in picked.iter().enumerate() {
        assert_eq!(h, planted[d], "digit {d}");
        assert_eq!(v, 1.0 + d as f32);
    }
}

#[test]
fn prediction_panel_selects_only_wrong_predictions_as_wrong() {
    use mnist_trainer::figures::{N_WRONG, select_examples};
    let labels: Vec<u8> = (0..300).map(|i| (i % 10) as u8).collect();
    // Every 7th prediction is wrong (shifted by one class).
    let predictions: Vec<u8> = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| if i % 7 == 0 { (l + 1) % 10 } else { l })
        .collect();
    let (correct, wrong) = select_examples(&labels, &predictions);
    assert_eq!((correct.len(), wrong.len()), (20, N_WRONG));
    assert!(wrong.iter().all(|&i| predictions[i] != labels[i]));
    assert!(correct.iter().all(|&i| predictions[i] == labels[i]));
    // Two correct examples of each digit.
    for d in 0..10u8 {
        assert_eq!(correct.iter().filter(|&&i| labels[i] == d).count(), 2);
    }
}
