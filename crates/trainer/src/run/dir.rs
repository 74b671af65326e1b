//! A run directory: the one owner of its layout. Every file and folder name of a run is spelled
//! here and nowhere else.
//!
//! ```text
//! <artifacts>/<name>/
//!   config.toml                 the resolved config (paths relative to this folder)
//!   run.toml                    backend, device and program that trained it; once training
//!                               ends, what it was validated on, why it stopped, which epoch
//!                               model.bpk holds and that model's test accuracy
//!   checkpoint/{model,optim,scheduler}-N.bpk
//!                               a checkpoint per epoch (burn's Learner names them so; the
//!                               scratch trainer writes only model-N.bpk)
//!   model.bpk                   the final weights
//!   epochs.csv, metrics.csv     per-epoch and per-iteration records, rewritten as each epoch
//!                               ends
//!   live_iterations.csv         while an epoch trains, its iterations so far (metrics.csv's
//!                               numbering, appended about once a second); removed once the
//!                               epoch is in metrics.csv and when training ends
//!   progress.toml               while an epoch trains, where it stands (epoch, phase, images
//!                               done, when it began), replaced at the same flushes
//!   test_batches.csv            correct per test batch of 50
//!   confusion.csv, *.png        confusion matrix and figures; report.html
//!   confusion-final.*, confusion-epoch-N.*
//!                               what `mnist eval` wrote for those weights
//!   training.lock               locked (an OS advisory lock) while a `mnist train` process
//!                               trains or replaces the run; the file itself stays
//!   train.log                   the trainer's output, where the web app launched it
//!   snapshots/                  the weights at log-spaced steps and every epoch's end
//!                               (`run::snapshots`: its layout and size bound)
//!   weights_evolution.gif       those snapshots as an animation
//! ```
//!
//! The two live files count only while the run is training: a run whose trainer was killed
//! keeps them, so readers ignore them unless `is_training`, and a trainer that starts or resumes
//! removes them.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::Device;
use mnist_models::Model;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::run::config::TrainerKind;
use crate::run::fsutil::atomic_write;
use crate::run::live::{LiveProgress, LiveRecords, LiveWriter};
use crate::run::metrics::{self, EpochRecord, IterationRecord, RateRecord};
use crate::run::plan::{Plan, folder_of};
use crate::run::snapshots::Snapshots;

const CONFIG: &str = "config.toml";
const INFO: &str = "run.toml";
const CHECKPOINTS: &str = "checkpoint";
const FINAL_MODEL: &str = "model.bpk";
const EPOCHS: &str = "epochs.csv";
const METRICS: &str = "metrics.csv";
const RATES: &str = "learning_rate.csv";
/// The iterations of the epoch in progress (`run::live`).
const LIVE_ITERATIONS: &str = "live_iterations.csv";
/// Where the epoch in progress stands (`run::live`).
const PROGRESS: &str = "progress.toml";
const TEST_BATCHES: &str = "test_batches.csv";
const CONFUSION: &str = "confusion";
const REPORT: &str = "report.html";
/// The model as ONNX, where `mnist export` writes it by default.
const ONNX_MODEL: &str = "model.onnx";
/// The run's lock file: a process training the run holds an exclusive OS lock on it. The file
/// is never removed while the run exists (removing a lock file lets two processes hold "the"
/// lock on two different files).
const LOCK: &str = "training.lock";
/// The output of a trainer the web app started (appended to by each start and resume).
const LOG: &str = "train.log";
/// The weight snapshots (`run::snapshots`).
const SNAPSHOTS: &str = "snapshots";
/// How long `lock` retries a lock held by someone else before calling the run busy: a reader
/// such as the web app holds a shared lock for microseconds to ask whether the run trains.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(250);

/// A run directory (it need not exist yet).
#[derive(Clone, Debug, PartialEq)]
pub struct RunDir {
    path: PathBuf,
}

/// Which weights of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Weights {
    /// `model.bpk`, written when training ends.
    #[default]
    Final,
    /// The checkpoint of an epoch (1-based).
    Checkpoint(usize),
}

/// Where a run stands, as the runs table and `GET /api/runs` show it (lowercase in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Waiting in the web app's queue for a turn to train (no directory yet, or a resume).
    Queued,
    /// Every planned epoch done and the final weights written.
    Finished,
    /// A trainer holds the run's lock now.
    Training,
    /// Stopped on request (Ctrl-C, SIGTERM, the web app's stop button) at a clean point:
    /// resumable from its last checkpoint, if it has one.
    Stopped,
    /// Ended before its end without saying why (killed, crashed, power lost): resumable from
    /// its last checkpoint, if it has one.
    Interrupted,
    /// Its config or records cannot be read.
    Broken,
}

/// `--checkpoint N` or, without it, the final weights: how every command names a run's weights.
impl From<Option<usize>> for Weights {
    fn from(checkpoint: Option<usize>) -> Self {
        checkpoint.map_or(Weights::Final, Weights::Checkpoint)
    }
}

/// The files of a checkpoint, as burn's default checkpointers name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointPart {
    Model,
    Optimizer,
    Scheduler,
}

impl CheckpointPart {
    fn stem(self) -> &'static str {
        match self {
            CheckpointPart::Model => "model",
            CheckpointPart::Optimizer => "optim",
            CheckpointPart::Scheduler => "scheduler",
        }
    }

    /// The files a complete checkpoint of a trainer has: the Learner also saves optimizer and
    /// scheduler state; plain SGD by hand has none.
    pub fn of(trainer: TrainerKind) -> &'static [CheckpointPart] {
        match trainer {
            TrainerKind::Learner => &[Self::Model, Self::Optimizer, Self::Scheduler],
            TrainerKind::Scratch => &[Self::Model],
        }
    }
}

/// The figures of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    Samples,
    Predictions,
    TrainingCurves,
    Epochs,
    Confusion,
    Weights,
    HiddenUnits,
    NllVsUpdates,
    Filters,
    FeatureMaps,
    LearningRate,
    Augmented,
    WeightsEvolution,
}

impl Figure {
    pub const ALL: [Figure; 13] = [
        Figure::Epochs,
        Figure::TrainingCurves,
        Figure::LearningRate,
        Figure::NllVsUpdates,
        Figure::Confusion,
        Figure::Predictions,
        Figure::Weights,
        Figure::HiddenUnits,
        Figure::Filters,
        Figure::FeatureMaps,
        Figure::Samples,
        Figure::Augmented,
        Figure::WeightsEvolution,
    ];

    /// The figure's file name inside the run directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Figure::Samples => "samples.png",
            Figure::Predictions => "predictions.png",
            Figure::TrainingCurves => "training_curves.png",
            Figure::Epochs => "epochs.png",
            Figure::Confusion => "confusion.png",
            Figure::Weights => "weights.png",
            Figure::HiddenUnits => "hidden_units.png",
            Figure::NllVsUpdates => "nll_vs_updates.png",
            Figure::Filters => "filters.png",
            Figure::FeatureMaps => "feature_maps.png",
            Figure::LearningRate => "learning_rate.png",
            Figure::Augmented => "augmented.png",
            Figure::WeightsEvolution => "weights_evolution.gif",
        }
    }
}

/// The exclusive right to train, resume or replace a run: an OS advisory lock on its
/// `training.lock`, released when this is dropped or the process ends however it ends (a
/// SIGKILL included, so a killed run never looks busy).
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
    run: RunDir,
    /// The outermost folder `lock` made for the run directory (the run directory itself, or an
    /// artifacts folder above it), so `abandon` may take them away again.
    created: Option<PathBuf>,
}

impl RunLock {
    /// Gives the lock up after a failed check; a run directory that the lock made and that holds
    /// nothing but the lock file goes too, so a refused new run leaves no trace.
    pub(crate) fn abandon(self) {
        let Some(outermost) = &self.created else {
            return;
        };
        if self.run.is_vacant() {
            // Still holding the lock, so no other process is between its open and its lock.
            let _ = std::fs::remove_dir_all(self.run.path());
            // The folders made above it, as long as nothing else has come into them.
            let mut dir = self.run.path().parent();
            while let Some(d) = dir.filter(|d| d.starts_with(outermost)) {
                if std::fs::remove_dir(d).is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
    }
}

/// Where and how a run was trained (`run.toml`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub backend: String,
    pub device: String,
    /// mnist's version and the burn version it was built with.
    pub program: String,
    /// How training ended; absent while it runs, and in runs trained before it was recorded
    /// (those validated on the test set and kept their last epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Set when training stopped on request before its end; cleared when it trains again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<StopRecord>,
}

/// A stop on request: the epochs done before it have their checkpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StopRecord {
    /// The last epoch whose checkpoint is whole (0: none yet).
    pub after_epoch: usize,
    pub reason: String,
}

/// How a run's training ended, and what its final weights score on the test set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The set each epoch's valid_* numbers come from: `test set` or `hold-out of N training
    /// images`.
    pub validated_on: String,
    pub epochs_trained: usize,
    /// Why training stopped: all epochs done, or early stopping and its reason.
    pub stopped: String,
    /// The epoch whose weights `model.bpk` holds, and why that one.
    pub model_epoch: usize,
    pub model_chosen: String,
    /// `model.bpk` on the test set: evaluated once, after training, where the run validates on
    /// a hold-out; the model epoch's validation numbers where it validates on the test set.
    pub test_loss: f64,
    /// A fraction.
    pub test_accuracy: f64,
}

impl RunInfo {
    pub fn new(backend: &crate::backend::Backend) -> Self {
        Self {
            backend: backend.name.to_string(),
            device: format!("{:?}", backend.device),
            program: format!("mnist {} (burn 0.22)", env!("CARGO_PKG_VERSION")),
            outcome: None,
            stopped: None,
        }
    }
}

impl RunDir {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run's name: its folder's name.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Whether the folder holds a run (has its config), as opposed to being absent or foreign.
    pub(crate) fn has_config(&self) -> bool {
        self.config_file().is_file()
    }

    pub fn create(&self) -> Result<(), Error> {
        std::fs::create_dir_all(&self.path).map_err(|e| Error::io(&self.path, "cannot create", e))
    }

    /// Whether the folder is absent or holds nothing but the run's lock file and log (what a
    /// refused start or a process killed before its first write leaves, or the web app made for
    /// the output of a run it launches).
    pub(crate) fn is_vacant(&self) -> bool {
        match std::fs::read_dir(&self.path) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .all(|e| e.file_name() == LOCK || e.file_name() == LOG),
            Err(_) => !self.path.exists(),
        }
    }

    /// Deletes everything in the run but its lock file (for `--force`, under the lock, once the
    /// new run has passed its checks); refuses a folder that is neither vacant nor a run.
    pub fn clear(&self, _lock: &RunLock) -> Result<(), Error> {
        self.refuse_foreign()?;
        let entries =
            std::fs::read_dir(&self.path).map_err(|e| Error::io(&self.path, "cannot read", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.path, "cannot read", e))?;
            // The log goes on: it tells the story of every start.
            if entry.file_name() == LOCK || entry.file_name() == LOG {
                continue;
            }
            let path = entry.path();
            let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| Error::io(&path, "cannot remove", e))?;
        }
        Ok(())
    }

    /// An error for a folder that exists, is not vacant and has no config: something that is not
    /// a run, which `--force` must not delete.
    pub(crate) fn refuse_foreign(&self) -> Result<(), Error> {
        if self.exists() && !self.has_config() && !self.is_vacant() {
            return Err(Error::run(
                &self.path,
                format!(
                    "has no {CONFIG}, so it is not a run directory: mnist will not train into \
                     it nor delete it (--force replaces runs only); pass another --name"
                ),
            ));
        }
        Ok(())
    }

    /// Takes the run's lock (making the run directory if needed), or says who holds it.
    pub fn lock(&self) -> Result<RunLock, Error> {
        use std::fs::TryLockError;
        let created = self
            .path
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
            .last()
            .map(Path::to_path_buf);
        let path = self.path.join(LOCK);
        let start = std::time::Instant::now();
        loop {
            self.create()?;
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| Error::io(&path, "cannot create", e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) if start.elapsed() < LOCK_PATIENCE => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                }
                Err(TryLockError::WouldBlock) => return Err(self.busy()),
                Err(TryLockError::Error(e)) => return Err(Error::io(&path, "cannot lock", e)),
            }
            // Between our open and our lock the folder may have been removed and made anew: the
            // lock counts only if it is on the file the path names now.
            let current = same_file::Handle::from_path(&path);
            let ours = same_file::Handle::from_file(
                file.try_clone()
                    .map_err(|e| Error::io(&path, "cannot lock", e))?,
            );
            if let (Ok(current), Ok(ours)) = (current, ours)
                && current == ours
            {
                return Ok(RunLock {
                    _file: file,
                    run: self.clone(),
                    created,
                });
            }
        }
    }

    /// The trainer's output where the web app launched it (`train.log`).
    pub fn log_file(&self) -> PathBuf {
        self.path.join(LOG)
    }

    /// The weight snapshots' folder (`snapshots/`).
    pub fn snapshots(&self) -> Snapshots {
        Snapshots::new(self.path.join(SNAPSHOTS))
    }

    /// Deletes the run directory, under its lock (so never while a trainer holds it); refuses a
    /// folder that is not a run.
    pub fn remove(&self) -> Result<(), Error> {
        self.refuse_foreign()?;
        let lock = self.lock()?;
        std::fs::remove_dir_all(&self.path)
            .map_err(|e| Error::io(&self.path, "cannot remove", e))?;
        drop(lock);
        Ok(())
    }

    /// The error for a run another process holds.
    pub fn busy(&self) -> Error {
        Error::run(
            &self.path,
            format!(
                "another process is training this run right now (it holds {LOCK}); wait for it \
                 to end or stop it first"
            ),
        )
    }

    /// Bytes the run's files take (what `--force` gives back).
    pub(crate) fn size_on_disk(&self) -> u64 {
        fn walk(dir: &Path) -> u64 {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .filter_map(|e| e.ok())
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => walk(&e.path()),
                    _ => e.metadata().map(|m| m.len()).unwrap_or(0),
                })
                .sum()
        }
        walk(&self.path)
    }

    /// Whether a process holds the run's lock right now, i.e. trains it. Asks the OS, so a run
    /// whose trainer was killed is not "training" whatever files it left.
    pub fn is_training(&self) -> bool {
        let Ok(file) = std::fs::File::open(self.path.join(LOCK)) else {
            return false;
        };
        // A shared lock is refused exactly while a trainer holds its exclusive one; ours is
        // released at once when `file` closes.
        matches!(
            file.try_lock_shared(),
            Err(std::fs::TryLockError::WouldBlock)
        )
    }

    /// Where the run stands, given its plan and the epochs it has recorded: the one definition
    /// the runs table and `mnist sweep` (which skips finished runs) share. Finished: the final
    /// weights are written and either every planned epoch is done or training ended by itself
    /// (early stopping) and said so in `run.toml`; stopped, where `run.toml` says a stop was
    /// asked for; interrupted otherwise. Never `Broken` (a run whose plan or records cannot be
    /// read has no state to ask for) nor `Queued` (only the web app queues).
    pub fn state(&self, plan: &Plan, epochs_done: usize) -> RunState {
        let has_model = self.weights_file(Weights::Final).is_file();
        let ended = self.info().outcome.is_some() || epochs_done >= plan.epochs();
        if self.is_training() {
            RunState::Training
        } else if has_model && ended {
            RunState::Finished
        } else if self.info().stopped.is_some() {
            RunState::Stopped
        } else {
            RunState::Interrupted
        }
    }

    // --- config.toml and run.toml ---

    pub fn config_file(&self) -> PathBuf {
        self.path.join(CONFIG)
    }

    /// The run's own plan, from its `config.toml`.
    pub fn plan(&self) -> Result<Plan, Error> {
        if !self.has_config() {
            return Err(Error::run(
                &self.path,
                format!("no {CONFIG}: not a run directory (runs are made by `mnist train`)"),
            ));
        }
        Plan::load(&self.config_file())
    }

    /// The plan as this run's `config.toml` would store it; an error (naming the run) where a
    /// path cannot be written as TOML text (it is not UTF-8).
    pub(crate) fn plan_text(&self, plan: &Plan) -> Result<String, Error> {
        plan.to_config(&folder_of(&self.config_file()))
            .to_toml()
            .map_err(|why| Error::run(&self.path, why))
    }

    /// The text of `config.toml`, as stored.
    pub fn config_text(&self) -> Option<String> {
        std::fs::read_to_string(self.config_file()).ok()
    }

    pub(crate) fn write_info(&self, info: &RunInfo) -> Result<(), Error> {
        let text = toml::to_string(info).expect("RunInfo serialises");
        atomic_write(&self.path.join(INFO), text.as_bytes())
    }

    /// The run's `run.toml`; an empty record if it has none or it cannot be read.
    pub fn info(&self) -> RunInfo {
        std::fs::read_to_string(self.path.join(INFO))
            .ok()
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// The test accuracy of `model.bpk` (a fraction): the outcome's where `run.toml` has one;
    /// for an older run, or one still training, its last epoch's validation accuracy where it
    /// validates on the test set; none while a hold-out run trains (its test set is evaluated
    /// once, at the end).
    pub fn test_accuracy(&self, epochs: &[EpochRecord]) -> Option<f64> {
        if let Some(outcome) = self.info().outcome {
            return Some(outcome.test_accuracy);
        }
        let on_test = self.plan().map_or(true, |p| {
            p.validation() == crate::run::config::Validation::Test
        });
        on_test
            .then(|| epochs.last().map(|e| e.valid_acc))
            .flatten()
    }

    // --- weights ---

    /// The folder of the per-epoch checkpoints.
    pub(crate) fn checkpoint_dir(&self) -> PathBuf {
        self.path.join(CHECKPOINTS)
    }

    pub fn checkpoint_file(&self, part: CheckpointPart, epoch: usize) -> PathBuf {
        self.checkpoint_dir()
            .join(format!("{}-{epoch}.bpk", part.stem()))
    }

    pub fn weights_file(&self, weights: Weights) -> PathBuf {
        match weights {
            Weights::Final => self.path.join(FINAL_MODEL),
            Weights::Checkpoint(n) => self.checkpoint_file(CheckpointPart::Model, n),
        }
    }

    /// Saves `model` as the given weights (the checkpoint folder is made when needed).
    pub(crate) fn save_model(&self, model: &Model, weights: Weights) -> Result<(), Error> {
        let path = self.weights_file(weights);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create", e))?;
        }
        // Serialised in memory and written atomically: a reader (the web app's model cache, an
        // `eval`) never sees half a file, and a full disk leaves the previous file whole.
        let bytes = model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| Error::run(&path, format!("cannot save the model: {e}")))?;
        atomic_write(&path, &bytes)
    }

    /// Removes the temporary files of writes that a killed process left behind (under the lock,
    /// so no writer of this run is between its write and its rename).
    pub(crate) fn remove_stale_temporaries(&self, _lock: &RunLock) {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if crate::run::fsutil::is_temporary(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// The newest epoch with any checkpoint file, complete or not.
    pub(crate) fn newest_checkpoint_epoch(&self) -> Option<usize> {
        let entries = std::fs::read_dir(self.checkpoint_dir()).ok()?;
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".bpk")?.rsplit_once('-')?.1.parse().ok()
            })
            .max()
    }

    /// Epochs with a complete checkpoint for `trainer`, ascending.
    pub fn checkpoint_epochs(&self, trainer: TrainerKind) -> Vec<usize> {
        let Ok(entries) = std::fs::read_dir(self.checkpoint_dir()) else {
            return Vec::new();
        };
        let model = CheckpointPart::Model.stem();
        let mut epochs: Vec<usize> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix(model)?
                    .strip_prefix('-')?
                    .strip_suffix(".bpk")?
                    .parse()
                    .ok()
            })
            .filter(|&n| {
                CheckpointPart::of(trainer)
                    .iter()
                    .all(|&part| self.checkpoint_file(part, n).is_file())
            })
            .collect();
        epochs.sort_unstable();
        epochs
    }

    /// The run's model with the chosen weights, built from the run's own config.
    pub fn load_model(
        &self,
        plan: &Plan,
        weights: Weights,
        device: &Device,
    ) -> Result<Model, Error> {
        let file = self.weights_file(weights);
        if !file.is_file() {
            let available = self.checkpoint_epochs(plan.trainer().kind());
            let hint = if available.is_empty() {
                "the run has no checkpoints yet".to_string()
            } else {
                format!("checkpoints exist for epochs {available:?}; pass --checkpoint N")
            };
            return Err(Error::run(&file, format!("no such weights file; {hint}")));
        }
        // Read whole, then decoded: burn's file reader reads tensors lazily, so a file replaced
        // (`--force`) or deleted while it loads would fail inside burn, in a panic.
        let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, "cannot read", e))?;
        let misfit = |e: &dyn std::fmt::Display| {
            Error::run(
                &file,
                format!("does not fit the run's model ({:?}): {e}", plan.model()),
            )
        };
        let record =
            burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
                .map_err(|e| misfit(&e))?;
        Model::new(&plan.model(), plan.seed(), device)
            .try_load_record(record)
            .map_err(|e| misfit(&e))
    }

    // --- records ---

    /// `epochs.csv`, or nothing if the run has none yet.
    pub fn epochs(&self) -> Result<Vec<EpochRecord>, Error> {
        let path = self.path.join(EPOCHS);
        match read_optional(&path)? {
            Some(text) => metrics::parse_epochs_csv(&text).map_err(|why| Error::run(&path, why)),
            None => Ok(Vec::new()),
        }
    }

    pub(crate) fn write_epochs(&self, records: &[EpochRecord]) -> Result<(), Error> {
        atomic_write(
            &self.path.join(EPOCHS),
            metrics::epochs_csv(records).as_bytes(),
        )
    }

    /// The iterations recorded in `metrics.csv`, or nothing if the run has none yet.
    pub fn iterations(&self) -> Result<Vec<IterationRecord>, Error> {
        let path = self.path.join(METRICS);
        match read_optional(&path)? {
            Some(text) => metrics::parse_iterations(&text).map_err(|why| Error::run(&path, why)),
            None => Ok(Vec::new()),
        }
    }

    /// The learning rate of each iteration, for a run with a `[scheduler]`; nothing for a run
    /// without one (its rate is `optimizer.lr` throughout).
    pub fn rates(&self) -> Result<Vec<RateRecord>, Error> {
        let path = self.path.join(RATES);
        match read_optional(&path)? {
            Some(text) => metrics::parse_rates(&text).map_err(|why| Error::run(&path, why)),
            None => Ok(Vec::new()),
        }
    }

    /// Rewrites `epochs.csv`, `metrics.csv` and (where there are rates) `learning_rate.csv`
    /// with everything recorded so far.
    pub(crate) fn write_records(
        &self,
        epochs: &[EpochRecord],
        iterations: &[IterationRecord],
        rates: &[RateRecord],
    ) -> Result<(), Error> {
        self.write_epochs(epochs)?;
        let text = metrics::metrics_csv(epochs, iterations);
        atomic_write(&self.path.join(METRICS), text.as_bytes())?;
        let path = self.path.join(RATES);
        if rates.is_empty() {
            // A run resumed from its start keeps no rates of an earlier attempt.
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(Error::io(&path, "cannot remove", e))
                }
                _ => Ok(()),
            };
        }
        atomic_write(&path, metrics::rates_csv(rates).as_bytes())
    }

    // --- the epoch in progress ---

    /// The writer of the live files. Only the process that holds the run's lock writes them:
    /// readers trust them exactly while the lock is held.
    pub fn live_writer(&self) -> LiveWriter {
        LiveWriter::new(self.path.join(LIVE_ITERATIONS), self.path.join(PROGRESS))
    }

    /// The iterations of the epoch in progress flushed so far; nothing unless the run is
    /// training (what a killed or stopped trainer left is not current). They continue
    /// `metrics.csv` as it was when the epoch began: read these first, then `metrics.csv`,
    /// and an epoch that ends in between is in `metrics.csv`, never in neither.
    pub fn live_iterations(&self) -> LiveRecords {
        if !self.is_training() {
            return LiveRecords::default();
        }
        std::fs::read_to_string(self.path.join(LIVE_ITERATIONS))
            .map(|text| crate::run::live::parse_live(&text))
            .unwrap_or_default()
    }

    /// Where the epoch in progress stands, while the run is training and has said so.
    pub fn live_progress(&self) -> Option<LiveProgress> {
        if !self.is_training() {
            return None;
        }
        let text = std::fs::read_to_string(self.path.join(PROGRESS)).ok()?;
        toml::from_str(&text).ok()
    }

    // --- what explains a run ---

    pub fn figure(&self, figure: Figure) -> PathBuf {
        self.path.join(figure.file_name())
    }

    pub fn test_batches_csv(&self) -> PathBuf {
        self.path.join(TEST_BATCHES)
    }

    /// The confusion matrix files (figure, CSV) of the report (`None`) or of `mnist eval` on
    /// the given weights.
    pub fn confusion_files(&self, eval_of: Option<Weights>) -> (PathBuf, PathBuf) {
        self.confusion_files_on(eval_of, None)
    }

    /// As `confusion_files`, for an evaluation on data other than the run's own (`mnist eval
    /// --data`): named after that data (`confusion-final-on-<name>.*`), so it never overwrites
    /// the run's own evaluation.
    pub fn confusion_files_on(
        &self,
        eval_of: Option<Weights>,
        other_data: Option<&Path>,
    ) -> (PathBuf, PathBuf) {
        let mut stem = match eval_of {
            None => CONFUSION.to_string(),
            Some(Weights::Final) => format!("{CONFUSION}-final"),
            Some(Weights::Checkpoint(n)) => format!("{CONFUSION}-epoch-{n}"),
        };
        if let Some(data) = other_data {
            // The data's file or folder name, kept to characters safe in any file name.
            let name: String = data
                .file_stem()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            stem = format!("{stem}-on-{}", if name.is_empty() { "data" } else { &name });
        }
        (
            self.path.join(format!("{stem}.png")),
            self.path.join(format!("{stem}.csv")),
        )
    }

    pub fn report_html(&self) -> PathBuf {
        self.path.join(REPORT)
    }

    pub fn onnx_file(&self) -> PathBuf {
        self.path.join(ONNX_MODEL)
    }

    /// Writes one of the run's files (a path from this type) atomically.
    pub fn write(&self, file: &Path, bytes: &[u8]) -> Result<(), Error> {
        atomic_write(file, bytes)
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, "cannot read", e)),
    }
}
