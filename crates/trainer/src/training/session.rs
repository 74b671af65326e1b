//! What both trainers share: the training set's loader and the records of the run, persisted as
//! each epoch ends so that a killed run keeps its history.

use std::sync::Arc;

use burn::prelude::Device;
use mnist_data::{MnistLoader, Split};

use crate::Error;
use crate::backend::Backend;
use crate::run::dir::RunDir;
use crate::run::metrics::{EpochRecord, IterationRecord, RateRecord};
use crate::run::plan::Plan;
use crate::training::observer::Observer;
use crate::training::stop::StopFlag;

/// What a trainer is given: the run, its data, where to start, and where to record.
pub(crate) struct Session<'a> {
    pub plan: &'a Plan,
    pub run: &'a RunDir,
    /// The images trained on (without the hold-out, where there is one).
    pub train: Arc<Split>,
    /// The images each epoch is validated on: the test set or the hold-out.
    pub valid: Arc<Split>,
    /// Epochs already done: training starts with epoch `resume_from + 1`.
    pub resume_from: usize,
    pub backend: &'a Backend,
    pub recorder: Recorder,
    /// Checked after every batch.
    pub stop: StopFlag,
}

/// What a trainer answers when a stop was requested: the run goes on after epoch
/// `after_epoch`, the last whose checkpoint is whole.
pub(crate) fn stopped(run: &RunDir, plan: &Plan, after_epoch: usize) -> Error {
    Error::Stopped {
        run: run.path().to_path_buf(),
        after_epoch,
        epochs: plan.epochs(),
    }
}

impl Session<'_> {
    /// The training set's loader, serving epoch `resume_from + 1` first.
    pub(crate) fn train_loader(&self) -> MnistLoader {
        train_loader(
            self.plan,
            self.train.clone(),
            self.resume_from,
            &self.backend.device,
        )
    }
}

/// The training set's loader as the plan asks (batch size, workers, shuffle), serving epoch
/// `resume_from + 1` first, so both trainers see the same order.
fn train_loader(
    plan: &Plan,
    train: Arc<Split>,
    resume_from: usize,
    device: &Device,
) -> MnistLoader {
    let mut loader = MnistLoader::new(train, plan.batch_size(), device)
        .starting_after_epoch(resume_from)
        .prefetch(plan.num_workers());
    if let Some(augment) = plan.augment() {
        loader = loader.augment(augment, plan.seed());
    }
    if plan.shuffle() {
        loader.shuffle(plan.seed())
    } else {
        loader
    }
}

/// One iteration's results, before it is numbered.
pub(crate) struct BatchResult {
    pub loss: f64,
    /// A fraction.
    pub accuracy: f64,
    /// Weights the step changed, where the trainer counts them.
    pub weights_updated: Option<usize>,
    /// The learning rate the step used, where the run has a schedule.
    pub lr: Option<f64>,
}

/// The run's epoch and iteration records, written to the run directory as each epoch ends.
pub(crate) struct Recorder {
    run: RunDir,
    epochs: Vec<EpochRecord>,
    iterations: Vec<IterationRecord>,
    rates: Vec<RateRecord>,
    total_epochs: usize,
    observer: Observer,
}

impl Recorder {
    /// The records of the epochs up to `resume_from` (later ones are redone), with the files
    /// rewritten to match.
    pub fn new(
        run: RunDir,
        resume_from: usize,
        total_epochs: usize,
        observer: Observer,
    ) -> Result<Self, Error> {
        let mut epochs = run.epochs()?;
        epochs.retain(|r| r.epoch <= resume_from);
        let mut iterations = run.iterations()?;
        iterations.retain(|r| r.epoch <= resume_from);
        let mut rates = run.rates()?;
        rates.retain(|r| r.epoch <= resume_from);
        run.write_records(&epochs, &iterations, &rates)?;
        Ok(Self {
            run,
            epochs,
            iterations,
            rates,
            total_epochs,
            observer,
        })
    }

    /// Persists a finished epoch and tells the observer.
    pub(crate) fn epoch_done(
        &mut self,
        record: EpochRecord,
        batches: &[BatchResult],
    ) -> Result<(), Error> {
        for batch in batches {
            let iteration = self.iterations.len() + 1;
            self.iterations.push(IterationRecord {
                epoch: record.epoch,
                iteration,
                loss: batch.loss,
                accuracy: batch.accuracy,
                weights_updated: batch.weights_updated,
            });
            if let Some(lr) = batch.lr {
                self.rates.push(RateRecord {
                    epoch: record.epoch,
                    iteration,
                    lr,
                });
            }
        }
        self.epochs.push(record);
        self.run
            .write_records(&self.epochs, &self.iterations, &self.rates)?;
        let last = self.epochs.last().expect("just pushed");
        self.observer.epoch(last, self.total_epochs);
        Ok(())
    }

    pub fn observer(&self) -> &Observer {
        &self.observer
    }

    pub fn epochs(&self) -> &[EpochRecord] {
        &self.epochs
    }
}
