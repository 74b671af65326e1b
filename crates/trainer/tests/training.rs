//! Training on the real fixture images (200 train, 100 test): both trainers, checkpoints, resume,
//! the records, and the checks that compare numbers.

use std::path::Path;
use std::sync::{Arc, Mutex};

use burn::module::Module;
use burn::prelude::*;
use mnist_models::{Model, ModelConfig, host_values};
use mnist_trainer::approx::{all_close, max_abs_difference};
use mnist_trainer::backend::default_backend;
use mnist_trainer::gradcheck::{Problem, autodiff_gradient, check, compare, hand};
use mnist_trainer::run::config::{
    AugmentConfig, EarlyStoppingConfig, SchedulerConfig, StopMetric, TrainerKind, Validation,
};
use mnist_trainer::run::dir::{CheckpointPart, RunDir, Weights};
use mnist_trainer::run::metrics::{EpochRecord, METRICS_HEADER};
use mnist_trainer::run::plan::Plan;
use mnist_trainer::testing::{TestConfig, mnist_idx};
use mnist_trainer::training::observer::{Observer, Progress, RunStart, TrainObserver, quiet};
use mnist_trainer::training::stop::StopFlag;
use mnist_trainer::training::train::{self, TrainOutcome, TrainRequest};

fn request(config: &TestConfig, dir: &Path, name: &str, resume: bool) -> TrainRequest {
    TrainRequest {
        plan: config.clone().artifacts(&dir.join("runs")).plan(),
        name: name.into(),
        resume,
        force: false,
    }
}

/// burn's CPU RNG (dropout's masks) is one stream per process, and every Learner run reseeds it
/// as each epoch begins: two trainings on parallel test threads would draw from each other's
/// stream. `mnist train` trains one run per process; these tests take turns.
static ONE_TRAINING_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_TRAINING_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Trains `request` on the default backend, in its turn, with `observer` watching.
fn try_train(
    request: &TrainRequest,
    observer: Observer,
) -> Result<TrainOutcome, mnist_trainer::Error> {
    let _turn = one_at_a_time();
    train::train(request, &default_backend(), observer)
}

/// Stops training once the progress of epoch `epoch` reaches `items` images.
struct StopAt {
    epoch: usize,
    items: usize,
    stop: StopFlag,
}

impl TrainObserver for StopAt {
    fn progress(&self, p: &Progress) {
        if p.epoch == self.epoch && p.items_done >= self.items {
            self.stop.stop();
        }
    }
}

/// Trains `config` as run `name`, with a stop asked for once epoch 2 has trained 100 images.
fn train_stopped_in_epoch_2(
    config: &TestConfig,
    dir: &Path,
    name: &str,
) -> Result<TrainOutcome, mnist_trainer::Error> {
    let stop = StopFlag::new();
    let observer = Arc::new(StopAt {
        epoch: 2,
        items: 100,
        stop: stop.clone(),
    });
    let _turn = one_at_a_time();
    train::train_until(
        &request(config, dir, name, false),
        &default_backend(),
        observer,
        &stop,
    )
}

fn train(config: &TestConfig, dir: &Path, name: &str, resume: bool) -> TrainOutcome {
    try_train(&request(config, dir, name, resume), quiet()).unwrap()
}

/// Logits of the first 50 test fixture images under a run's final model.
fn logits_of_run(run: &RunDir) -> Vec<f32> {
    let device = default_backend().device;
    let model = run
        .load_model(&run.plan().unwrap(), Weights::Final, &device)
        .unwrap();
    logits(&model, &device)
}

fn logits(model: &Model, device: &Device) -> Vec<f32> {
    let test = mnist_data::load(Some(&mnist_idx())).unwrap().test;
    let batch = mnist_data::batch_of(&test, &(0..50).collect::<Vec<_>>(), device);
    model
        .forward(batch.images)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

/// Everything an observer is told, in order.
#[derive(Default)]
struct Recorded {
    started: Vec<RunStart>,
    progress: usize,
    epochs: Vec<EpochRecord>,
}

struct Recording(Mutex<Recorded>);

impl TrainObserver for Recording {
    fn started(&self, start: &RunStart) {
        self.0.lock().unwrap().started.push(start.clone());
    }
    fn progress(&self, _: &Progress) {
        self.0.lock().unwrap().progress += 1;
    }
    fn epoch(&self, record: &EpochRecord, _: usize) {
        self.0.lock().unwrap().epochs.push(record.clone());
    }
}

/// An epoch's record without its timings, which differ from run to run.
fn untimed(r: &EpochRecord) -> (usize, f64, f64, f64, f64) {
    (
        r.epoch,
        r.train_loss,
        r.train_acc,
        r.valid_loss,
        r.valid_acc,
    )
}

#[test]
fn short_training_beats_chance_by_far_and_keeps_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let recording = Arc::new(Recording(Mutex::default()));
    let observer: Observer = recording.clone();
    let config = TestConfig::mlp(64).epochs(5);
    let outcome = try_train(&request(&config, dir.path(), "mlp", false), observer).unwrap();
    let last = outcome.epochs.last().unwrap();
    assert_eq!(last.epoch, 5);
    // 10 classes: chance is 10%. 200 training images get a small MLP well past 60%.
    assert!(last.valid_acc > 0.6, "test accuracy {}", last.valid_acc);
    assert!(last.train_loss < outcome.epochs[0].train_loss);
    // The observer saw the start, each batch and each epoch (as the outcome has them).
    let seen = recording.0.lock().unwrap();
    assert_eq!(seen.started.len(), 1);
    assert_eq!(seen.started[0].train_images, 200);
    assert_eq!(seen.epochs, outcome.epochs);
    assert!(seen.progress >= 5 * 10, "{} progress events", seen.progress);

    let run = &outcome.run;
    assert!(run.weights_file(Weights::Final).is_file());
    assert_eq!(
        run.checkpoint_epochs(TrainerKind::Learner),
        vec![1, 2, 3, 4, 5]
    );
    // The records on disk are the outcome's (seconds rounded to ms there): 2 rows per epoch and
    // one per iteration (10 batches of 20 per epoch), numbered over the run.
    let on_disk = run.epochs().unwrap();
    assert_eq!(on_disk.len(), outcome.epochs.len());
    for (a, b) in on_disk.iter().zip(&outcome.epochs) {
        assert_eq!(untimed(a), untimed(b));
        assert!((a.seconds - b.seconds).abs() <= 5e-4);
    }
    let iterations = run.iterations().unwrap();
    assert_eq!(iterations.len(), 50);
    assert!(
        iterations
            .iter()
            .enumerate()
            .all(|(i, it)| it.iteration == i + 1)
    );
    assert!(
        iterations
            .iter()
            .all(|it| (0.0..=1.0).contains(&it.accuracy))
    );
    // The Learner does not count the weights a step changes; the scratch trainer does.
    assert!(iterations.iter().all(|it| it.weights_updated.is_none()));
    let csv = std::fs::read_to_string(run.path().join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some(METRICS_HEADER));
    // The mean of an epoch's batch accuracies (equal batches) is the epoch's accuracy.
    let first: Vec<f64> = iterations[..10].iter().map(|it| it.accuracy).collect();
    let mean = first.iter().sum::<f64>() / 10.0;
    assert!((mean - outcome.epochs[0].train_acc).abs() < 1e-9);
    // The stored config is the same plan, its paths relative to the run directory.
    assert_eq!(run.plan().unwrap(), outcome.plan);
    let stored = std::fs::read_to_string(run.config_file()).unwrap();
    assert!(
        !stored.contains(&dir.path().display().to_string()),
        "{stored}"
    );
}

#[test]
fn a_small_cnn_learns_and_reports_its_layers() {
    let dir = tempfile::tempdir().unwrap();
    let recording = Arc::new(Recording(Mutex::default()));
    let observer: Observer = recording.clone();
    let config = TestConfig::cnn().epochs(4);
    let outcome = try_train(&request(&config, dir.path(), "cnn", false), observer).unwrap();
    let (first, last) = (&outcome.epochs[0], outcome.epochs.last().unwrap());
    // Chance is 10%; 200 images take this CNN far past it in 4 epochs.
    assert!(last.valid_acc > 0.5, "test accuracy {}", last.valid_acc);
    assert!(last.train_loss < first.train_loss);
    // The run's start names the model and lists its layers with their parameters.
    let seen = recording.0.lock().unwrap();
    let start = &seen.started[0];
    assert_eq!(start.model_name, "cnn 4c5-mp2-16");
    let params: usize = start.model.layers.iter().map(|l| l.params).sum();
    // conv (5·5 + 1)·4, dense (4·12·12 + 1)·16, output (16 + 1)·10
    assert_eq!(params, 104 + 9232 + 170);
    let Model::Cnn(cnn) = &outcome.model else {
        panic!("not a CNN: {:?}", outcome.model);
    };
    assert_eq!(cnn.num_params(), params);
}

#[test]
fn save_then_load_gives_identical_logits() {
    let device = default_backend().device;
    let dir = tempfile::tempdir().unwrap();
    let mlp = ModelConfig::Mlp {
        hidden: 40,
        activation: Default::default(),
        dropout: 0.0,
    };
    let cnn = TestConfig::cnn().plan().model();
    for (i, config) in [ModelConfig::Linear, mlp, cnn].iter().enumerate() {
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
    let device = default_backend().device;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mlp.bpk");
    let mlp = |hidden| ModelConfig::Mlp {
        hidden,
        activation: Default::default(),
        dropout: 0.0,
    };
    Model::new(&mlp(40), 1, &device).save_file(&path).unwrap();
    assert!(
        Model::new(&mlp(41), 1, &device)
            .try_load_file(&path)
            .is_err()
    );
    let linear = Model::new(&ModelConfig::Linear, 1, &device);
    assert!(linear.try_load_file(&path).is_err());
}

#[test]
fn resume_after_stopping_ends_where_the_uninterrupted_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    // The CNN has dropout: its masks must be redrawn on resume as the uninterrupted run drew
    // them. The scheduled runs must continue their schedule (its state is in the checkpoint).
    let cosine = SchedulerConfig::Cosine {
        min_lr: 1e-4,
        warmup_epochs: 0.5,
    };
    let step = SchedulerConfig::Step {
        every_epochs: 1,
        gamma: 0.5,
    };
    for (n, config) in [
        TestConfig::mlp(64).epochs(3),
        TestConfig::scratch().epochs(3),
        TestConfig::cnn().epochs(3),
        TestConfig::cnn().epochs(3).scheduler(cosine),
        TestConfig::mlp(64).epochs(3).scheduler(step),
        // Everything at once: scheduled, augmented, validated on a hold-out, watched by early
        // stopping (whose state a resumed run rebuilds from its records).
        TestConfig::cnn()
            .epochs(3)
            .scheduler(cosine)
            .augment(AUGMENT)
            .validation(Validation::Holdout(40))
            .early_stopping(EarlyStoppingConfig {
                metric: StopMetric::ValidLoss,
                patience: 5,
                min_delta: 0.0,
            }),
    ]
    .into_iter()
    .enumerate()
    {
        let plan = config.plan();
        let (kind, model) = (plan.trainer().kind(), plan.model().kind());
        let scheduled = plan.trainer().scheduler().is_some();
        let full = train(
            &config,
            dir.path(),
            &format!("{n}-{model}-{kind:?}-full"),
            false,
        );
        let full_rates = full.run.rates().unwrap();
        // Every iteration's rate is recorded where there is a schedule, none where there is not.
        assert_eq!(
            full_rates.len(),
            if scheduled {
                full.run.iterations().unwrap().len()
            } else {
                0
            },
            "{n}"
        );
        let uninterrupted = logits_of_run(&full.run);
        for stop_after in [1, 2] {
            let name = format!("{n}-{model}-{kind:?}-stopped-{stop_after}");
            let stopped = train(&config, dir.path(), &name, false);
            // What a run killed after epoch `stop_after` leaves behind: no later checkpoints
            // and no final model.
            for epoch in stop_after + 1..=3 {
                for &part in CheckpointPart::of(kind) {
                    std::fs::remove_file(stopped.run.checkpoint_file(part, epoch)).unwrap();
                }
            }
            std::fs::remove_file(stopped.run.weights_file(Weights::Final)).unwrap();
            let resumed = train(&config, dir.path(), &name, true);
            // Timings differ; everything else must not, epoch for epoch.
            assert_eq!(resumed.epochs.len(), full.epochs.len());
            assert_eq!(
                resumed.epochs.iter().map(untimed).collect::<Vec<_>>(),
                full.epochs.iter().map(untimed).collect::<Vec<_>>(),
                "{model} {kind:?}, stopped after {stop_after}"
            );
            assert_eq!(
                resumed.run.iterations().unwrap(),
                full.run.iterations().unwrap()
            );
            assert_eq!(resumed.run.rates().unwrap(), full_rates, "{n}");
            assert_eq!(
                logits_of_run(&resumed.run),
                uninterrupted,
                "{model} {kind:?}, stopped after {stop_after}"
            );
            // A finished MLP's snapshots hold only the 10 units it shows, so this simulated
            // kill (a finished run with its later files deleted) cannot give an MLP back its
            // earlier ones: the real stop of the next test checks those.
            if plan.model() == ModelConfig::Linear {
                assert_eq!(
                    snapshot_files(&resumed.run),
                    snapshot_files(&full.run),
                    "{model} {kind:?}, stopped after {stop_after}: the weight snapshots"
                );
            }
            assert_eq!(resumed.outcome, full.outcome, "{n}");
        }
    }
}

#[test]
fn a_stop_request_stops_at_a_clean_point_and_the_run_resumes_to_the_same_end() {
    let dir = tempfile::tempdir().unwrap();
    // Batches of 5: 40 steps an epoch, so that the stop (at step 60) comes after a weight
    // snapshot of epoch 2 (step 50), which the resumed run must take again.
    for config in [
        TestConfig::mlp(64).epochs(3).batch_size(5),
        TestConfig::scratch().epochs(3).batch_size(5),
    ] {
        let kind = config.plan().trainer().kind();
        let full = train(&config, dir.path(), &format!("{kind:?}-full"), false);
        let name = format!("{kind:?}-stopped");
        // Mid-way through epoch 2's training batches (200 fixture images: step 60 of 80).
        let stopped = train_stopped_in_epoch_2(&config, dir.path(), &name);
        let run = RunDir::new(dir.path().join("runs").join(&name));
        match stopped {
            Err(mnist_trainer::Error::Stopped {
                after_epoch,
                epochs,
                ..
            }) => assert_eq!((after_epoch, epochs), (1, 3), "{kind:?}"),
            Err(e) => panic!("{kind:?}: expected a stop, got the error {e}"),
            Ok(_) => panic!("{kind:?}: trained to the end despite the stop"),
        }
        // A clean point: epoch 1 whole, nothing of a final model, the stop recorded.
        assert_eq!(run.checkpoint_epochs(kind), vec![1], "{kind:?}");
        assert!(!run.weights_file(Weights::Final).exists(), "{kind:?}");
        let info = run.info();
        assert_eq!(info.stopped.map(|s| s.after_epoch), Some(1), "{kind:?}");
        assert!(info.outcome.is_none());
        assert!(!run.is_training(), "{kind:?}: the lock is released");
        let taken = run.snapshots().index().unwrap().unwrap().steps;
        assert_eq!(taken, [0, 1, 2, 5, 10, 20, 40, 50], "{kind:?}");

        let resumed = train(&config, dir.path(), &name, true);
        assert_eq!(
            resumed.epochs.iter().map(untimed).collect::<Vec<_>>(),
            full.epochs.iter().map(untimed).collect::<Vec<_>>(),
            "{kind:?}"
        );
        assert_eq!(
            resumed.run.iterations().unwrap(),
            full.run.iterations().unwrap()
        );
        assert_eq!(logits_of_run(&resumed.run), logits_of_run(&full.run));
        // The snapshots taken in the stopped epoch were dropped and taken again.
        let files = snapshot_files(&full.run);
        assert!(files.len() > 5, "{kind:?}: {} snapshot files", files.len());
        assert_eq!(snapshot_files(&resumed.run), files, "{kind:?}");
        // Trained to its end, it no longer says it was stopped.
        assert_eq!(resumed.run.info().stopped, None, "{kind:?}");
        assert_eq!(resumed.outcome, full.outcome, "{kind:?}");
    }
}

const AUGMENT: AugmentConfig = AugmentConfig {
    rotation: 10.0,
    scale: 0.1,
    shift: 2.0,
    shear: 5.0,
};

#[test]
fn early_stopping_stops_when_patience_runs_out_and_keeps_the_best_epoch() {
    let dir = tempfile::tempdir().unwrap();
    // No epoch can beat epoch 1's accuracy by more than 100%: patience 2 ends the run after
    // epoch 3 of 6, and model.bpk is epoch 1's weights.
    let never_better = EarlyStoppingConfig {
        metric: StopMetric::ValidAccuracy,
        patience: 2,
        min_delta: 1.0,
    };
    let config = TestConfig::mlp(32).epochs(6).early_stopping(never_better);
    let stopped = train(&config, dir.path(), "stops", false);
    assert_eq!(stopped.epochs.len(), 3);
    assert_eq!(stopped.run.epochs().unwrap().len(), 3);
    let outcome = stopped.run.info().outcome.expect("run.toml has an outcome");
    assert_eq!((outcome.epochs_trained, outcome.model_epoch), (3, 1));
    assert!(
        outcome
            .stopped
            .starts_with("early stopping: valid_accuracy"),
        "{outcome:?}"
    );
    let device = default_backend().device;
    let plan = stopped.run.plan().unwrap();
    let epoch_1 = stopped
        .run
        .load_model(&plan, Weights::Checkpoint(1), &device)
        .unwrap();
    let epoch_3 = stopped
        .run
        .load_model(&plan, Weights::Checkpoint(3), &device)
        .unwrap();
    let kept = logits_of_run(&stopped.run);
    assert_eq!(kept, logits(&epoch_1, &device));
    assert_ne!(kept, logits(&epoch_3, &device));
    // On the test set, the outcome's test numbers are the kept epoch's validation numbers.
    assert_eq!(outcome.test_accuracy, stopped.epochs[0].valid_acc);
    // Nothing is left to resume once the rule has stopped the run.
    let again = try_train(&request(&config, dir.path(), "stops", true), quiet());
    let message = again.err().expect("refused").to_string();
    assert!(
        message.contains("nothing to resume: early stopping"),
        "{message}"
    );

    // With patience to spare the run goes on to the end and keeps the epoch of lowest loss.
    let patient = EarlyStoppingConfig {
        metric: StopMetric::ValidLoss,
        patience: 10,
        min_delta: 0.0,
    };
    let config = TestConfig::mlp(32)
        .epochs(4)
        .optimizer(mnist_trainer::testing::adam(0.05))
        .early_stopping(patient);
    let done = train(&config, dir.path(), "best", false);
    assert_eq!(done.epochs.len(), 4);
    let best = done
        .epochs
        .iter()
        .min_by(|a, b| a.valid_loss.total_cmp(&b.valid_loss))
        .unwrap()
        .epoch;
    assert_eq!(done.outcome.model_epoch, best);
    let best_model = done
        .run
        .load_model(
            &done.run.plan().unwrap(),
            Weights::Checkpoint(best),
            &device,
        )
        .unwrap();
    assert_eq!(logits_of_run(&done.run), logits(&best_model, &device));
}

#[test]
fn a_holdout_run_validates_on_the_holdout_and_tests_once_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let recording = Arc::new(Recording(Mutex::default()));
    let observer: Observer = recording.clone();
    let config = TestConfig::mlp(32)
        .epochs(2)
        .validation(Validation::Holdout(50));
    let outcome = try_train(&request(&config, dir.path(), "holdout", false), observer).unwrap();
    // 200 fixture training images, 50 held out: 150 trained on, in batches of 20.
    assert_eq!(outcome.train.len(), 150);
    let started = &recording.0.lock().unwrap().started[0];
    assert_eq!(started.train_images, 150);
    assert!(
        started.validation.contains("hold-out of 50"),
        "{}",
        started.validation
    );
    assert_eq!(
        outcome.run.iterations().unwrap().len(),
        2 * 150usize.div_ceil(20)
    );
    // The test number is the final model on the 100 test images, not a validation number.
    let device = default_backend().device;
    let test = mnist_trainer::training::evaluate::evaluate_split(
        &outcome.model,
        outcome.test.clone(),
        &device,
    );
    assert_eq!(outcome.outcome.test_accuracy, test.accuracy());
    assert_eq!(
        outcome.run.test_accuracy(&outcome.epochs),
        Some(test.accuracy())
    );
    assert!(outcome.outcome.validated_on.contains("hold-out"));
    // The validation numbers are the final model's on the seed's 50 held-out images.
    let train_set = mnist_data::load(Some(&mnist_idx())).unwrap().train;
    let (_, held) = train_set.hold_out(50, config.plan().seed());
    let on_held =
        mnist_trainer::training::evaluate::evaluate_split(&outcome.model, Arc::new(held), &device);
    let last = outcome.epochs.last().unwrap();
    assert!(
        (last.valid_acc - on_held.accuracy()).abs() < 1e-9,
        "{last:?}"
    );
    assert!((last.valid_loss - on_held.loss).abs() < 1e-4, "{last:?}");

    // A hold-out that leaves nothing to train on is refused before any work, naming the key.
    let file = config
        .clone()
        .validation(Validation::Holdout(200))
        .artifacts(&dir.path().join("runs"))
        .write(&dir.path().join("too-big.toml"));
    let plan = Plan::load(&file).unwrap();
    let request = TrainRequest {
        plan,
        name: "too-big".into(),
        resume: false,
        force: false,
    };
    let err = try_train(&request, quiet()).err().unwrap();
    let message = err.to_string();
    assert!(message.contains("too-big.toml: line "), "{message}");
    assert!(
        message.contains("validation.holdout = 200 leaves nothing to train on"),
        "{message}"
    );
    assert!(!dir.path().join("runs/too-big/config.toml").exists());
}

#[test]
fn resume_refuses_a_different_config_and_a_missing_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::scratch().epochs(1);
    train(&config, dir.path(), "s", false);
    let other = request(&config.clone().seed(8), dir.path(), "s", true);
    let e = train::train(&other, &default_backend(), quiet())
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("differs from this run's own config"),
        "{e}"
    );
    let missing = request(&config, dir.path(), "nothing", true);
    let e = train::train(&missing, &default_backend(), quiet())
        .err()
        .unwrap();
    assert!(e.to_string().contains("no such run to resume"), "{e}");
}

#[test]
fn hand_trained_and_learner_trained_linear_models_agree() {
    let dir = tempfile::tempdir().unwrap();
    let by_hand = train(
        &TestConfig::scratch().epochs(3),
        dir.path(),
        "scratch",
        false,
    );
    let by_learner = train(
        &TestConfig::linear().epochs(3),
        dir.path(),
        "learner",
        false,
    );
    let (a, b) = (logits_of_run(&by_hand.run), logits_of_run(&by_learner.run));
    let max_diff = max_abs_difference(&a, &b).unwrap();
    assert!(max_diff < 1e-3, "logits differ by up to {max_diff}");
    assert_eq!(by_hand.epochs.len(), 3);
    assert_eq!(by_learner.epochs.len(), 3);
    for (h, l) in by_hand.epochs.iter().zip(&by_learner.epochs) {
        assert!(
            all_close(&[h.valid_acc], &[l.valid_acc], 0.003),
            "{h:?} vs {l:?}"
        );
        assert!(
            all_close(&[h.train_loss], &[l.train_loss], 1e-4),
            "{h:?} vs {l:?}"
        );
    }
}

#[test]
fn gradient_check_passes_and_catches_wrong_gradients() {
    let device = default_backend().device;
    let train = mnist_data::load(Some(&mnist_idx())).unwrap().train;
    let problem = Problem::new(&train, 50, 3, &device);
    let good = hand(&problem.w, &problem.x, &problem.labels, &device);
    let results = check(&problem, &good, &device);
    assert!(
        results.iter().all(|c| c.passed() && c.checked == 7850),
        "{results:?}"
    );
    let fails = |g: &[f32]| check(&problem, g, &device).iter().all(|c| !c.passed());

    // One weight's gradient with the wrong sign: the one of median magnitude, not the largest.
    let mut order: Vec<usize> = (0..good.len()).filter(|&i| good[i].abs() > 1e-3).collect();
    order.sort_by(|&i, &j| good[i].abs().total_cmp(&good[j].abs()));
    let mut flipped = good.clone();
    flipped[order[order.len() / 2]] *= -1.0;
    assert!(fails(&flipped));
    // The bias row (row 0) dropped.
    let mut no_bias = good.clone();
    no_bias[..10].iter_mut().for_each(|g| *g = 0.0);
    assert!(fails(&no_bias));
    // Not divided by the batch size.
    assert!(fails(&good.iter().map(|g| g * 50.0).collect::<Vec<_>>()));
    // NaN, everywhere or in one weight.
    assert!(fails(&vec![f32::NAN; good.len()]));
    let mut one_nan = good.clone();
    one_nan[123] = f32::NAN;
    assert!(fails(&one_nan));
    // A gradient that is too short (the bias row missing) or too long.
    assert!(fails(&good[10..]));
    let mut long = good.clone();
    long.extend([0.0; 10]);
    assert!(fails(&long));
}

#[test]
fn nan_and_short_gradients_fail_the_comparison_itself() {
    let reference = vec![0.5f64; 7850];
    let good = vec![0.5f32; 7850];
    assert!(compare("fd", &reference, &good).passed());
    assert!(!compare("fd", &reference, &vec![f32::NAN; 7850]).passed());
    let mut one = good.clone();
    one[17] = f32::NAN;
    assert!(!compare("fd", &reference, &one).passed());
    let short = compare("fd", &reference, &good[..7840]);
    assert!(!short.passed());
    assert!(short.mismatch.is_some());
}

#[test]
fn a_plan_from_a_file_resolves_paths_against_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("configs")).unwrap();
    let file = TestConfig::scratch()
        .artifacts(Path::new("../out"))
        .write(&dir.path().join("configs/c.toml"));
    let plan = Plan::load(&file).unwrap();
    let root = dir.path().canonicalize().unwrap();
    assert_eq!(plan.artifacts(), root.join("out"));
    assert_eq!(plan.data(), mnist_idx().canonicalize().unwrap());
}

#[test]
fn weights_updated_counts_the_non_zero_entries_of_the_gradient() {
    let device = default_backend().device;
    let train = mnist_data::load(Some(&mnist_idx())).unwrap().train;
    let problem = Problem::new(&train, 50, 3, &device);
    let tensor = |values: &[f32], shape: [usize; 2]| {
        Tensor::<2>::from_data(TensorData::new(values.to_vec(), shape), &device)
    };
    let targets: Vec<i64> = problem.labels.iter().map(|&l| l as i64).collect();
    let step = mnist_models::hand_gradient(
        tensor(&problem.w, [785, 10]),
        tensor(&problem.x, [50, 784]),
        Tensor::<1, Int>::from_data(TensorData::new(targets, [50]), &device),
    );
    let counted = step.weights_updated();
    // Independently 1: burn's autodiff gradient of the same loss (f64 on the host).
    let autodiff = autodiff_gradient(&problem.w, &problem.x, &problem.labels, &device);
    assert_eq!(autodiff.len(), 7850);
    assert_eq!(counted, autodiff.iter().filter(|&&g| g != 0.0).count());
    // Independently 2: a pixel's row moves iff some image of the batch has ink there, the bias
    // row always; each row has 10 weights.
    let inked = (0..784)
        .filter(|&j| (0..50).any(|i| problem.x[i * 784 + j] != 0.0))
        .count();
    assert_eq!(counted, 10 * (inked + 1));
    // A real batch leaves the corners blank: fewer than all weights move.
    assert!(counted < 7850 && counted > 10, "{counted}");
}

#[test]
fn the_scratch_trainer_records_the_weights_each_step_changed() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = train(&TestConfig::scratch().epochs(1), dir.path(), "s", false);
    let iterations = outcome.run.iterations().unwrap();
    // 200 fixture images in batches of 20.
    assert_eq!(iterations.len(), 10);
    for it in &iterations {
        let u = it.weights_updated.expect("counted");
        assert!(u % 10 == 0 && (20..7850).contains(&u), "{it:?}");
    }
}

/// Holds training in `progress` once epoch `epoch`'s training pass reaches `items` images: says
/// so on `reached`, then waits for `go` (a minute at most, so that a test that fails while it
/// waits does not hang the run).
struct Pause {
    epoch: usize,
    items: usize,
    reached: Mutex<std::sync::mpsc::Sender<Progress>>,
    go: Mutex<std::sync::mpsc::Receiver<()>>,
    held: std::sync::atomic::AtomicBool,
}

impl TrainObserver for Pause {
    fn progress(&self, p: &Progress) {
        use mnist_trainer::training::observer::Phase;
        let here = p.epoch == self.epoch && p.phase == Phase::Train && p.items_done >= self.items;
        if here && !self.held.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let _ = self.reached.lock().unwrap().send(*p);
            let _ = self
                .go
                .lock()
                .unwrap()
                .recv_timeout(std::time::Duration::from_secs(60));
        }
    }
}

/// The names and bytes of a run's snapshot files (`snapshots/`), by name.
fn snapshot_files(run: &RunDir) -> Vec<(String, Vec<u8>)> {
    let dir = run.snapshots().dir().to_path_buf();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn weight_snapshots_follow_their_schedule_and_end_as_the_models_weights() {
    use mnist_trainer::run::snapshots::{Layout, schedule};
    let dir = tempfile::tempdir().unwrap();
    let device = default_backend().device;
    // 200 fixture images in batches of 20: 10 steps an epoch, 30 in all.
    let expected = [0, 1, 2, 5, 10, 20, 30];
    assert_eq!(schedule(3, 10, 31_400), expected);
    for config in [
        TestConfig::scratch().epochs(3),
        TestConfig::mlp(64).epochs(3),
    ] {
        let plan = config.plan();
        let kind = plan.trainer().kind();
        let trained = train(&config, dir.path(), &format!("{kind:?}-snapshots"), false);
        let snapshots = trained.run.snapshots();
        let index = snapshots.index().unwrap().expect("an index");
        assert_eq!(index.steps, expected, "{kind:?}");
        assert_eq!(index.steps_per_epoch, 10);
        let files = snapshot_files(&trained.run);
        // The index and one file per step, of the layout's size: the bound holds.
        assert_eq!(files.len(), expected.len() + 1, "{kind:?}: {files:?}");
        let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
        assert!(
            bytes < expected.len() * 31_400 + 4096,
            "{kind:?}: {bytes} bytes"
        );
        let frames = snapshots.frames().unwrap().expect("frames");
        let (first, last) = (&frames[0], &frames[frames.len() - 1]);
        assert_eq!((first.step, last.step, last.epoch), (0, 30, 3));
        assert!(last.epoch_end && !frames[2].epoch_end);
        // The first frame is the seeded initial weights, the last the final model's.
        let initial = Model::new(&plan.model(), plan.seed(), &device);
        match (&trained.model, &initial) {
            (Model::Linear(m), Model::Linear(init)) => {
                assert_eq!(index.layout, Layout::Linear);
                let column = |w: &[f32], d: usize| -> Vec<f32> {
                    (1..=784).map(|r| w[r * 10 + d]).collect()
                };
                let (w, w0) = (m.weights_vec(), init.weights_vec());
                for d in 0..10 {
                    assert_eq!(last.templates[d], column(&w, d), "digit {d}");
                    assert_eq!(first.templates[d], column(&w0, d), "digit {d}");
                }
                assert_eq!(last.bias.as_deref(), Some(&w[..10]));
            }
            (Model::Mlp(m), Model::Mlp(init)) => {
                // Cut to the 10 units hidden_units.png shows, once the run ended.
                assert_eq!(index.layout, Layout::Units);
                let units: Vec<usize> =
                    mnist_models::strongest_hidden_units(&host_values(m.output.weight.val()), 64)
                        .into_iter()
                        .map(|(h, _)| h)
                        .collect();
                assert_eq!(index.units, units);
                let column =
                    |w: &[f32], h: usize| -> Vec<f32> { (0..784).map(|p| w[p * 64 + h]).collect() };
                let (w, w0) = (
                    host_values(m.hidden.weight.val()),
                    host_values(init.hidden.weight.val()),
                );
                for (d, &h) in units.iter().enumerate() {
                    assert_eq!(last.templates[d], column(&w, h), "digit {d}, unit {h}");
                    assert_eq!(first.templates[d], column(&w0, h), "digit {d}, unit {h}");
                }
            }
            _ => unreachable!(),
        }
        // The frames in between are neither: the weights moved step by step.
        assert_ne!(frames[1].templates, first.templates, "{kind:?}");
        assert_ne!(frames[1].templates, last.templates, "{kind:?}");
    }
    // A CNN has none; nor has a run from before snapshots (its folder removed): both read as
    // "no snapshots", not as an error.
    let cnn = train(&TestConfig::cnn().epochs(1), dir.path(), "cnn", false);
    assert!(!cnn.run.snapshots().dir().exists());
    assert_eq!(cnn.run.snapshots().frames().unwrap(), None);
}

/// The run's files that only an epoch in progress has.
fn live_files(run: &RunDir) -> Vec<String> {
    std::fs::read_dir(run.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n == "live_iterations.csv" || n == "progress.toml")
        .collect()
}

/// What a reader sees of a run held in epoch 2's training pass, and how the training ended.
struct Paused {
    progress: Progress,
    /// metrics.csv's iterations, the live ones, and the live progress, as read while held.
    recorded: Vec<mnist_trainer::run::metrics::IterationRecord>,
    live: mnist_trainer::run::live::LiveRecords,
    live_progress: Option<mnist_trainer::run::live::LiveProgress>,
    trained: Result<TrainOutcome, mnist_trainer::Error>,
}

/// Trains `request` on a thread, held at epoch 2 after 100 images while the run's files are
/// read through `RunDir`'s readers (the live files first, as the web app reads them).
fn train_paused_in_epoch_2(request: TrainRequest) -> Paused {
    use std::sync::mpsc::channel;
    let (reached, reached_rx) = channel();
    let (go, go_rx) = channel();
    let observer = Arc::new(Pause {
        epoch: 2,
        items: 100,
        reached: Mutex::new(reached),
        go: Mutex::new(go_rx),
        held: Default::default(),
    });
    let run = RunDir::new(request.plan.artifacts().join(&request.name));
    let trainer = std::thread::spawn(move || try_train(&request, observer));
    // Training the fixture data takes seconds; a test that waits longer has failed.
    let progress = match reached_rx.recv_timeout(std::time::Duration::from_secs(300)) {
        Ok(p) => p,
        Err(e) => {
            let ended = trainer.join().map(|r| r.err().map(|e| e.to_string()));
            panic!("training never reached epoch 2's 100th image ({e}): {ended:?}");
        }
    };
    assert!(run.is_training());
    let live = run.live_iterations();
    let live_progress = run.live_progress();
    let recorded = run.iterations().unwrap();
    go.send(()).unwrap();
    Paused {
        progress,
        recorded,
        live,
        live_progress,
        trained: trainer.join().expect("the training thread panicked"),
    }
}

#[test]
fn the_epoch_in_progress_is_live_and_continues_metrics_csv() {
    // The fixture's epochs take milliseconds: flush after every batch.
    mnist_trainer::testing::flush_live_every(std::time::Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let step = SchedulerConfig::Step {
        every_epochs: 1,
        gamma: 0.5,
    };
    // Batches of 20 of the 200 fixture images: 10 iterations an epoch.
    for config in [
        TestConfig::mlp(32).epochs(3).scheduler(step),
        TestConfig::scratch().epochs(3),
    ] {
        let kind = config.plan().trainer().kind();
        let held = train_paused_in_epoch_2(request(&config, dir.path(), "held", false));
        let run = RunDir::new(dir.path().join("runs/held"));
        let outcome = held.trained.unwrap();
        // Held after 100 images (5 batches) or, should burn report coarser steps, the first
        // report past them.
        let done = held.progress.items_done;
        assert!(
            (100..200).contains(&done) && done.is_multiple_of(20),
            "{done}"
        );
        let batches = done / 20;
        // While held, metrics.csv has epoch 1 and the live file epoch 2's first iterations,
        // numbered on from it.
        assert_eq!(held.recorded.len(), 10, "{kind:?}");
        let numbers: Vec<(usize, usize)> = held
            .live
            .iterations
            .iter()
            .map(|r| (r.epoch, r.iteration))
            .collect();
        let expected: Vec<(usize, usize)> = (11..=10 + batches).map(|i| (2, i)).collect();
        assert_eq!(numbers, expected, "{kind:?}");
        // Exactly what metrics.csv says of them once the epoch is over.
        let all = run.iterations().unwrap();
        assert_eq!(all.len(), 30);
        assert_eq!(held.recorded, all[..10]);
        assert_eq!(held.live.iterations, all[10..10 + batches], "{kind:?}");
        // The rates too, where the run records them.
        let rates = run.rates().unwrap();
        let live_rates = &held.live.rates;
        match kind {
            TrainerKind::Learner => assert_eq!(live_rates[..], rates[10..10 + batches]),
            TrainerKind::Scratch => assert!(live_rates.is_empty() && rates.is_empty()),
        }
        let p = held.live_progress.expect("a progress file while training");
        assert_eq!(
            (
                p.epoch,
                p.epochs,
                p.phase.as_str(),
                p.items_done,
                p.items_total
            ),
            (2, 3, "train", done, 200),
            "{kind:?}"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            p.epoch_started <= now && p.epoch_started > now - 300.0,
            "{p:?}"
        );
        // Training over: no live file, nor progress, is left.
        assert_eq!(live_files(&run), Vec::<String>::new(), "{kind:?}");
        assert_eq!(outcome.epochs.len(), 3);
        std::fs::remove_dir_all(run.path()).unwrap();
    }
}

#[test]
fn leftovers_of_a_stopped_run_are_ignored_and_removed_when_it_resumes() {
    mnist_trainer::testing::flush_live_every(std::time::Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::scratch().epochs(3);
    let stopped = train_stopped_in_epoch_2(&config, dir.path(), "stopped");
    assert!(matches!(stopped, Err(mnist_trainer::Error::Stopped { .. })));
    let run = RunDir::new(dir.path().join("runs/stopped"));
    // Stopped mid-epoch, the trainer took its live files away with it.
    assert_eq!(live_files(&run), Vec::<String>::new());
    // What a killed trainer would leave: live files of an epoch it never finished.
    let mut stale = run.live_writer();
    stale.push(
        &mnist_trainer::run::metrics::IterationRecord {
            epoch: 2,
            iteration: 11,
            loss: 99.0,
            accuracy: 0.0,
            weights_updated: None,
        },
        None,
    );
    stale
        .flush(&mnist_trainer::run::live::LiveProgress {
            epoch: 2,
            epochs: 3,
            phase: "train".into(),
            items_done: 20,
            items_total: 200,
            epoch_started: 0.0,
        })
        .unwrap();
    // Not training: the readers pass over them.
    assert_eq!(run.live_iterations().iterations.len(), 0);
    assert!(run.live_progress().is_none());
    assert_eq!(live_files(&run).len(), 2, "the files are there");
    {
        let _held = run.lock().unwrap();
        assert_eq!(run.live_iterations().iterations.len(), 1);
        assert_eq!(run.live_progress().map(|p| p.items_done), Some(20));
    }
    // Resumed: epoch 2 numbered on from epoch 1, none of the stale rows.
    let held = train_paused_in_epoch_2(request(&config, dir.path(), "stopped", true));
    held.trained.unwrap();
    let all = run.iterations().unwrap();
    let batches = held.progress.items_done / 20;
    assert!(batches >= 5);
    assert_eq!(held.live.iterations, all[10..10 + batches]);
    assert!(held.live.iterations.iter().all(|r| r.loss != 99.0));
    assert_eq!(
        held.live_progress.map(|p| p.items_done),
        Some(held.progress.items_done)
    );
}
