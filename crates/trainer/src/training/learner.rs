//! `trainer = "learner"`: burn's Learner with autodiff, and the bridge from its events to the
//! run's records and the caller's observer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::logger::{EvaluationProgressLogger, InMemoryMetricLogger, TrainingProgressLogger};
use burn::train::metric::{
    AccuracyMetric, LearningRateMetric, LossMetric, MetricDefinition, MetricId, NumericEntry,
};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use burn::train::{Learner, SupervisedTraining};
use mnist_data::{MnistBatch, MnistLoader};
use mnist_models::{Model, ModelConfig};

use crate::Error;
use crate::run::dir::Weights;
use crate::run::metrics::{EpochRecord, Running};
use crate::run::plan::{Optimizer, Scheduler};
use crate::training::evaluate::EVAL_BATCH;
use crate::training::observer::{Phase, Progress};
use crate::training::session::{BatchResult, Recorder, Session, steps_per_epoch, stopped};
use crate::training::stopping::{Patience, Stopper};

/// burn's `AccuracyMetric` reports percent; the project's records hold fractions.
const BURN_PERCENT: f64 = 100.0;
/// The names burn's metrics register under.
const LOSS: &str = "Loss";
const ACCURACY: &str = "Accuracy";
const LEARNING_RATE: &str = "Learning Rate";

/// Trains `model` with `optimizer` (its rate following `scheduler`, if any) from epoch
/// `resume_from + 1`; burn writes the checkpoints, the scheduler's state among them. With early
/// stopping the model returned (and saved as `model.bpk`) is the best epoch's, and the rule's
/// final state comes back with it.
pub(crate) fn train(
    session: Session,
    model: ModelConfig,
    optimizer: Optimizer,
    scheduler: Option<Scheduler>,
) -> Result<(Vec<EpochRecord>, Model, Option<Patience>), Error> {
    let (plan, run, device) = (session.plan, session.run, &session.backend.device);
    let iterations = steps_per_epoch(plan, session.train.len());
    let lr_scheduler = match scheduler {
        Some(s) => s
            .init(optimizer.lr(), plan.epochs(), iterations)
            .map_err(|why| Error::Check(format!("scheduler: {why}")))?,
        None => optimizer.lr().into(),
    };
    // Dropout draws its masks from burn's RNG. Seeded as each epoch begins, on the training
    // thread (burn's renderer events arrive on another), an epoch's masks are a function of
    // (seed, epoch) alone, so a resumed run draws what an uninterrupted one would (on Flex and
    // ndarray, whose RNG is one seeded stream).
    let (seed, rng_device) = (plan.seed(), device.clone());
    let train_loader = session
        .train_loader()
        .on_epoch_start(move |epoch| rng_device.seed(mnist_data::epoch_seed(seed, epoch)));
    let valid_loader = MnistLoader::new(session.valid, EVAL_BATCH, device);
    let train_loader: Arc<dyn DataLoader<MnistBatch>> = Arc::new(train_loader);
    let valid_loader: Arc<dyn DataLoader<MnistBatch>> = Arc::new(valid_loader);

    // Early stopping's state, rebuilt from the epochs a resumed run has already recorded.
    let patience = plan.early_stopping().map(|config| {
        let done = session.recorder.epochs();
        Arc::new(Mutex::new(Patience::after(config, done)))
    });
    let recorder = Arc::new(Mutex::new(session.recorder));
    // Taken from inside burn's training step, where the weights of each step are seen
    // (`mnist_models::tap`).
    let snapshots = session.snapshots.map(|s| Arc::new(Mutex::new(s)));
    let tap = snapshots.clone();
    let bridge = Bridge::new(recorder.clone(), scheduler.is_some());
    let first_error = bridge.first_error.clone();
    let initial = Model::new(&model, plan.seed(), &device.clone().autodiff());
    // burn's checkpointers write `checkpoint/{model,optim,scheduler}-N.bpk` under the directory
    // given here: the layout `RunDir` reads. The in-memory metric logger keeps burn from writing
    // its own per-iteration log files; the bridge records what the run keeps.
    let mut training = SupervisedTraining::new(run.path(), train_loader, valid_loader)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        // The rate each training step used (burn passes it to the metric), per iteration.
        .metric_train_numeric(LearningRateMetric::new())
        .num_epochs(plan.epochs())
        .with_default_checkpointers()
        .with_checkpointing_strategy(KeepLastNCheckpoints::new(usize::MAX))
        .with_metric_logger(InMemoryMetricLogger::new())
        .renderer(Box::new(bridge))
        .with_application_logger(None)
        // Checked after every batch: a stop keeps the checkpoints of the epochs before.
        .with_interrupter(session.stop.interrupter());
    if session.resume_from > 0 {
        training = training.checkpoint(session.resume_from);
    }
    if let Some(patience) = &patience {
        training = training.early_stopping(Stopper {
            patience: patience.clone(),
            recorder: recorder.clone(),
        });
    }
    let learner = Learner::new(initial, optimizer.init(session.backend), lr_scheduler);
    let take = move |model: &Model| {
        if let Some(Ok(mut s)) = tap.as_ref().map(|t| t.lock()) {
            s.before_step(|| model.clone());
        }
    };
    let result = mnist_models::tap::with_tap(take, || training.launch(learner));
    if let Some(e) = &result.error {
        return Err(match &**e {
            // Say what still holds and what to do: the checkpoints before are whole (burn
            // writes each through a temporary file), so the run can go on once there is room.
            burn::train::TrainingError::Checkpoint(why) => {
                let epoch = run.newest_checkpoint_epoch().unwrap_or(1);
                Error::run(
                    &run.checkpoint_dir(),
                    format!(
                        "cannot save the checkpoint of epoch {epoch} ({why}); the checkpoints \
                         before it are whole: free space, then continue with --resume"
                    ),
                )
            }
            other => Error::Training(other.to_string()),
        });
    }
    if let Some(e) = first_error.lock().ok().and_then(|mut e| e.take()) {
        return Err(e);
    }
    if result.interrupted.is_some() {
        // burn stops mid-epoch, or after an epoch's validation but before its checkpoint: the
        // newest checkpoint on disk is where the run goes on.
        let after = run.checkpoint_epochs(plan.trainer().kind()).last().copied();
        return Err(stopped(run, plan, after.unwrap_or(0)));
    }
    let epochs = recorder
        .lock()
        .map(|r| r.epochs().to_vec())
        .unwrap_or_default();
    let patience = patience.and_then(|p| p.lock().ok().map(|p| p.clone()));
    // The best epoch's weights, where early stopping chose an epoch before the last (every
    // epoch's checkpoint is kept, so it is there).
    let last = epochs.last().map_or(0, |e| e.epoch);
    let model = match patience.as_ref().and_then(Patience::best_epoch) {
        Some(best) if best != last => {
            run.load_model(plan, Weights::Checkpoint(best), &device.clone())?
        }
        _ => result.model.clone(),
    };
    run.save_model(&model, Weights::Final)?;
    // The tap is gone with the launch: the snapshots are this function's alone again.
    let snapshots = snapshots.and_then(|s| Arc::try_unwrap(s).ok()?.into_inner().ok());
    if let Some(warning) = snapshots.and_then(|s| s.finish(&result.model, &model))
        && let Ok(recorder) = recorder.lock()
    {
        recorder.observer().warning(&warning);
    }
    Ok((epochs, model, patience))
}

/// A burn `MetricsRenderer` that turns the Learner's events into the run's records and the
/// observer's progress.
struct Bridge {
    names: HashMap<MetricId, String>,
    /// Each metric's epoch value (burn's `Final` entry), by (training?, name).
    finals: HashMap<(bool, String), f64>,
    total_epochs: usize,
    /// The epoch in progress, 1-based.
    epoch: usize,
    epoch_start: Instant,
    phase: Phase,
    phase_total: usize,
    train_seconds: f64,
    // The current epoch's training batches, in order.
    batch_loss: Vec<f64>,
    batch_acc: Vec<f64>,
    /// The current epoch's learning rates, one per batch, where the run records them.
    batch_lr: Vec<f64>,
    /// The current epoch's batches handed to the recorder's live files so far.
    batches_live: usize,
    record_lr: bool,
    running_loss: Running,
    running_acc: Running,
    recorder: Arc<Mutex<Recorder>>,
    first_error: Arc<Mutex<Option<Error>>>,
}

impl Bridge {
    fn new(recorder: Arc<Mutex<Recorder>>, record_lr: bool) -> Self {
        Self {
            names: HashMap::new(),
            finals: HashMap::new(),
            total_epochs: 0,
            epoch: 1,
            epoch_start: Instant::now(),
            phase: Phase::Train,
            phase_total: 0,
            train_seconds: f64::NAN,
            batch_loss: Vec::new(),
            batch_acc: Vec::new(),
            batch_lr: Vec::new(),
            batches_live: 0,
            record_lr,
            running_loss: Running::default(),
            running_acc: Running::default(),
            recorder,
            first_error: Arc::new(Mutex::new(None)),
        }
    }

    fn record(&mut self, state: MetricState, train: bool) {
        let MetricState::Numeric(entry, Some(value)) = state else {
            return;
        };
        let Some(name) = self.names.get(&entry.metric_id).cloned() else {
            return;
        };
        match value {
            NumericEntry::Final(v) => {
                self.finals.insert((train, name), v);
            }
            // One per training batch: the batch's value and size.
            NumericEntry::Aggregated {
                aggregated_value,
                count,
            } if train => match name.as_str() {
                LOSS => {
                    self.batch_loss.push(aggregated_value);
                    self.running_loss.add(aggregated_value, count);
                }
                ACCURACY => {
                    let fraction = aggregated_value / BURN_PERCENT;
                    self.batch_acc.push(fraction);
                    self.running_acc.add(fraction, count);
                }
                LEARNING_RATE if self.record_lr => self.batch_lr.push(aggregated_value),
                _ => {}
            },
            _ => {}
        }
    }

    fn final_value(&self, train: bool, name: &str) -> f64 {
        self.finals
            .get(&(train, name.to_string()))
            .copied()
            .unwrap_or(f64::NAN)
    }

    fn fail(&self, e: Error) {
        if let Ok(recorder) = self.recorder.lock() {
            recorder.observer().warning(&e.to_string());
        }
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert(e);
        }
    }
}

impl MetricsRendererTraining for Bridge {
    fn update_train(&mut self, state: MetricState) {
        self.record(state, true);
    }
    fn update_valid(&mut self, state: MetricState) {
        self.record(state, false);
    }
    fn on_train_end(
        &mut self,
        _summary: Option<burn::train::LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

impl TrainingProgressLogger for Bridge {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _: Option<usize>,
        _: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch;
    }

    fn update_epoch(&mut self, epoch: usize) {
        let record = EpochRecord {
            epoch,
            train_loss: self.final_value(true, LOSS),
            train_acc: self.final_value(true, ACCURACY) / BURN_PERCENT,
            valid_loss: self.final_value(false, LOSS),
            valid_acc: self.final_value(false, ACCURACY) / BURN_PERCENT,
            seconds: self.epoch_start.elapsed().as_secs_f64(),
            train_seconds: self.train_seconds,
        };
        // Empty where the run records no rates: every batch then has `lr: None`.
        let mut rates = std::mem::take(&mut self.batch_lr).into_iter();
        let batches: Vec<BatchResult> = self
            .batch_loss
            .drain(..)
            .zip(self.batch_acc.drain(..))
            .map(|(loss, accuracy)| BatchResult {
                loss,
                accuracy,
                weights_updated: None,
                lr: rates.next(),
            })
            .collect();
        let done = self
            .recorder
            .lock()
            .map_err(|_| Error::Training("the run's records are poisoned".into()))
            .and_then(|mut r| r.epoch_done(record, &batches));
        if let Err(e) = done {
            self.fail(e);
        }
        self.finals.clear();
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        if split == Phase::Train.name() {
            self.phase = Phase::Train;
            self.epoch_start = Instant::now();
            self.running_loss = Running::default();
            self.running_acc = Running::default();
            self.batch_loss.clear();
            self.batch_acc.clear();
            self.batch_lr.clear();
            self.batches_live = 0;
            if let Ok(mut recorder) = self.recorder.lock() {
                recorder.start_epoch(self.epoch);
            }
        } else {
            self.phase = Phase::Valid;
            self.train_seconds = self.epoch_start.elapsed().as_secs_f64();
        }
        self.phase_total = total_items;
    }

    fn update_split(&mut self, items_processed: usize) {
        let progress = Progress {
            epoch: self.epoch,
            epochs: self.total_epochs,
            phase: self.phase,
            items_done: items_processed,
            items_total: self.phase_total,
            loss: self.running_loss.mean(),
            accuracy: self.running_acc.mean(),
        };
        let Ok(mut recorder) = self.recorder.lock() else {
            return;
        };
        if self.phase == Phase::Train {
            // burn updates every metric of a batch before its progress: the batch's loss and
            // accuracy (and rate) are in by now.
            let complete = self.batch_loss.len().min(self.batch_acc.len());
            for k in self.batches_live..complete {
                recorder.iteration(&BatchResult {
                    loss: self.batch_loss[k],
                    accuracy: self.batch_acc[k],
                    weights_updated: None,
                    lr: self.batch_lr.get(k).copied(),
                });
            }
            self.batches_live = self.batches_live.max(complete);
        }
        recorder.progress(&progress);
    }

    fn end_split(&mut self) {}

    fn end(&mut self) {}

    fn log_event_training(&mut self, _event: String) {}
}

impl MetricsRendererEvaluation for Bridge {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl EvaluationProgressLogger for Bridge {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for Bridge {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
    }
}
