//! What both trainers share: the training set's loader and the records of the run, persisted as
//! each epoch ends so that a killed run keeps its history, and followed while it trains through
//! the run's live files.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use burn::prelude::Device;
use mnist_data::{MnistLoader, Split};

use crate::Error;
use crate::backend::Backend;
use crate::run::dir::RunDir;
use crate::run::live::{LiveProgress, LiveWriter, flush_every};
use crate::run::metrics::{EpochRecord, IterationRecord, RateRecord};
use crate::run::plan::Plan;
use crate::run::snapshots::Snapshotter;
use crate::training::observer::{Observer, Phase, Progress};
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
    /// The weight snapshots, for the models that have them.
    pub snapshots: Option<Snapshotter>,
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

/// Optimizer steps in an epoch over `images`: the loader serves the last, partial batch too.
pub(crate) fn steps_per_epoch(plan: &Plan, images: usize) -> usize {
    images.div_ceil(plan.batch_size())
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

/// The run's epoch and iteration records, written to the run directory as each epoch ends;
/// the epoch in progress goes to the live files as its iterations arrive.
pub(crate) struct Recorder {
    run: RunDir,
    epochs: Vec<EpochRecord>,
    iterations: Vec<IterationRecord>,
    rates: Vec<RateRecord>,
    total_epochs: usize,
    observer: Observer,
    live: Live,
}

/// The epoch in progress, as the live files show it.
struct Live {
    writer: LiveWriter,
    /// The epoch whose iterations are being numbered (0 before the first).
    epoch: usize,
    /// Its iterations numbered so far.
    numbered: usize,
    started: SystemTime,
    /// When the live files were last written, and in which phase; `None` before the epoch's
    /// first flush.
    flushed: Option<(Instant, Phase)>,
    /// A write failed this epoch: no more tries until the next (the run goes on; its records
    /// are written at the epoch's end as ever).
    failed: bool,
    /// Whether the observer was warned of a failure (once a run).
    warned: bool,
}

impl Live {
    /// Whether the files are due: at an epoch's or a pass's first batch (so a reader sees it
    /// begin), and then at most once per [`flush_every`].
    fn due(&self, phase: Phase) -> bool {
        match self.flushed {
            None => true,
            Some((at, p)) => p != phase || at.elapsed() >= flush_every(),
        }
    }
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
        // What a killed trainer left is not this run's epoch in progress.
        let mut writer = run.live_writer();
        writer.clear()?;
        Ok(Self {
            run,
            epochs,
            iterations,
            rates,
            total_epochs,
            observer,
            live: Live {
                writer,
                epoch: 0,
                numbered: 0,
                started: SystemTime::now(),
                flushed: None,
                failed: false,
                warned: false,
            },
        })
    }

    /// An epoch begins: its iterations are numbered after those recorded so far.
    pub(crate) fn start_epoch(&mut self, epoch: usize) {
        let live = &mut self.live;
        live.epoch = epoch;
        live.numbered = 0;
        live.started = SystemTime::now();
        live.flushed = None;
        live.failed = false;
        let cleared = live.writer.start_epoch();
        self.live_failed(cleared);
    }

    /// One training iteration of the epoch in progress, numbered as `epoch_done` will number
    /// it; written to the live file at the next flush.
    pub(crate) fn iteration(&mut self, batch: &BatchResult) {
        let live = &mut self.live;
        live.numbered += 1;
        if live.failed {
            return;
        }
        let record = IterationRecord {
            epoch: live.epoch,
            iteration: self.iterations.len() + live.numbered,
            loss: batch.loss,
            accuracy: batch.accuracy,
            weights_updated: batch.weights_updated,
        };
        live.writer.push(&record, batch.lr);
    }

    /// Where the epoch stands after a batch: the live files are written when due, then the
    /// observer is told.
    pub(crate) fn progress(&mut self, progress: &Progress) {
        let live = &mut self.live;
        if !live.failed && live.due(progress.phase) {
            let started = live
                .started
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let flushed = live.writer.flush(&LiveProgress {
                epoch: progress.epoch,
                epochs: progress.epochs,
                phase: progress.phase.name().to_string(),
                items_done: progress.items_done,
                items_total: progress.items_total,
                epoch_started: started,
            });
            live.flushed = Some((Instant::now(), progress.phase));
            self.live_failed(flushed);
        }
        self.observer.progress(progress);
    }

    /// Stops the live files for the epoch where a write failed, and warns once.
    fn live_failed(&mut self, result: Result<(), Error>) {
        if let Err(e) = result {
            self.live.failed = true;
            if !std::mem::replace(&mut self.live.warned, true) {
                self.observer.warning(&format!(
                    "the epoch in progress is not shown live ({e}); its records are written \
                     when it ends"
                ));
            }
        }
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
        // Only now: until metrics.csv has the epoch, a reader has its iterations from here.
        let cleared = self.live.writer.clear();
        self.live_failed(cleared);
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

impl Drop for Recorder {
    /// Training is over, however it ended: the live files are no longer current. (Readers would
    /// ignore them once the lock is released; removed, they cannot mislead anyone.)
    fn drop(&mut self) {
        let _ = self.live.writer.clear();
    }
}
