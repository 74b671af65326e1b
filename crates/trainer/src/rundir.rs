//! A run directory: the one owner of its layout. Every file and folder name of a run is spelled
//! here and nowhere else.
//!
//! ```text
//! <artifacts>/<name>/
//!   config.toml                 the resolved config (paths relative to this folder)
//!   run.toml                    backend, device and program that trained it
//!   checkpoint/{model,optim,scheduler}-N.bpk
//!                               a checkpoint per epoch (burn's Learner names them so; the
//!                               scratch trainer writes only model-N.bpk)
//!   model.bpk                   the final weights
//!   epochs.csv, metrics.csv     per-epoch and per-iteration records
//!   test_batches.csv            correct per test batch of 50
//!   confusion.csv, *.png        confusion matrix and figures; report.html
//!   confusion-final.*, confusion-epoch-N.*
//!                               what `mnist eval` wrote for those weights
//!   training.pid                while `mnist train` trains it: that process's id
//! ```

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::Device;
use mnist_models::Model;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::config::TrainerKind;
use crate::fsutil::atomic_write;
use crate::metrics::{self, EpochRecord, IterationRecord};
use crate::plan::{Plan, folder_of};

const CONFIG: &str = "config.toml";
const INFO: &str = "run.toml";
const CHECKPOINTS: &str = "checkpoint";
const FINAL_MODEL: &str = "model.bpk";
const EPOCHS: &str = "epochs.csv";
const METRICS: &str = "metrics.csv";
const TEST_BATCHES: &str = "test_batches.csv";
const CONFUSION: &str = "confusion";
const REPORT: &str = "report.html";
/// The model as ONNX, where `mnist export` writes it by default.
const ONNX_MODEL: &str = "model.onnx";
/// Present while a `mnist train` process trains the run: its process id.
const TRAINING: &str = "training.pid";

/// A run directory (it need not exist yet).
#[derive(Clone, Debug, PartialEq)]
pub struct RunDir {
    path: PathBuf,
}

/// Which weights of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weights {
    /// `model.bpk`, written when training ends.
    Final,
    /// The checkpoint of an epoch (1-based).
    Checkpoint(usize),
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
}

impl Figure {
    pub const ALL: [Figure; 8] = [
        Figure::Epochs,
        Figure::TrainingCurves,
        Figure::NllVsUpdates,
        Figure::Confusion,
        Figure::Predictions,
        Figure::Weights,
        Figure::HiddenUnits,
        Figure::Samples,
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
        }
    }
}

/// A run's "being trained" mark; removed when dropped (training ended, or failed).
pub struct TrainingMark(PathBuf);

impl Drop for TrainingMark {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where and how a run was trained (`run.toml`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub backend: String,
    pub device: String,
    /// mnist's version and the burn version it was built with.
    pub program: String,
}

impl RunInfo {
    pub fn new(backend: &crate::backend::Backend) -> Self {
        Self {
            backend: backend.name.to_string(),
            device: format!("{:?}", backend.device),
            program: format!("mnist {} (burn 0.22)", env!("CARGO_PKG_VERSION")),
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
    pub fn has_config(&self) -> bool {
        self.config_file().is_file()
    }

    pub fn create(&self) -> Result<(), Error> {
        std::fs::create_dir_all(&self.path).map_err(|e| Error::io(&self.path, "cannot create", e))
    }

    /// Deletes the run (for `--force`); refuses a folder that is neither empty nor a run.
    pub fn remove(&self) -> Result<(), Error> {
        let empty = std::fs::read_dir(&self.path)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !self.has_config() && !empty {
            return Err(Error::run(
                &self.path,
                format!(
                    "has no {CONFIG}, so it is not a run directory; --force will not delete it"
                ),
            ));
        }
        std::fs::remove_dir_all(&self.path).map_err(|e| Error::io(&self.path, "cannot remove", e))
    }

    /// Marks the run as being trained by this process until the mark is dropped.
    pub fn mark_training(&self) -> Result<TrainingMark, Error> {
        let path = self.path.join(TRAINING);
        atomic_write(&path, std::process::id().to_string().as_bytes())?;
        Ok(TrainingMark(path))
    }

    /// The process training the run right now, if one is (its mark exists and, where the system
    /// tells, the process is alive: a killed run leaves a stale mark behind).
    pub fn training_pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.path.join(TRAINING))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let proc = Path::new("/proc");
        let alive = !proc.is_dir() || proc.join(pid.to_string()).exists();
        alive.then_some(pid)
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

    /// Writes the plan as the run's `config.toml`, paths relative to the run directory.
    pub fn write_plan(&self, plan: &Plan) -> Result<(), Error> {
        let config = plan.to_config(&folder_of(&self.config_file()));
        atomic_write(&self.config_file(), config.to_toml().as_bytes())
    }

    /// The text of `config.toml`, as stored.
    pub fn config_text(&self) -> Option<String> {
        std::fs::read_to_string(self.config_file()).ok()
    }

    pub fn write_info(&self, info: &RunInfo) -> Result<(), Error> {
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

    // --- weights ---

    pub fn checkpoint_file(&self, part: CheckpointPart, epoch: usize) -> PathBuf {
        self.path
            .join(CHECKPOINTS)
            .join(format!("{}-{epoch}.bpk", part.stem()))
    }

    pub fn weights_file(&self, weights: Weights) -> PathBuf {
        match weights {
            Weights::Final => self.path.join(FINAL_MODEL),
            Weights::Checkpoint(n) => self.checkpoint_file(CheckpointPart::Model, n),
        }
    }

    /// Saves `model` as the given weights (the checkpoint folder is made when needed).
    pub fn save_model(&self, model: &Model, weights: Weights) -> Result<(), Error> {
        let path = self.weights_file(weights);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create", e))?;
        }
        model
            .clone()
            .save_file(&path)
            .map_err(|e| Error::run(&path, format!("cannot save the model: {e}")))
    }

    /// Epochs with a complete checkpoint for `trainer`, ascending.
    pub fn checkpoint_epochs(&self, trainer: TrainerKind) -> Vec<usize> {
        let Ok(entries) = std::fs::read_dir(self.path.join(CHECKPOINTS)) else {
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
        Model::new(&plan.model(), plan.seed(), device)
            .try_load_file(&file)
            .map_err(|e| {
                Error::run(
                    &file,
                    format!("does not fit the run's model ({:?}): {e}", plan.model()),
                )
            })
    }

    /// The run's plan and its model with the chosen weights.
    pub fn open(&self, weights: Weights, device: &Device) -> Result<(Plan, Model), Error> {
        let plan = self.plan()?;
        let model = self.load_model(&plan, weights, device)?;
        Ok((plan, model))
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

    pub fn write_epochs(&self, records: &[EpochRecord]) -> Result<(), Error> {
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

    /// Rewrites `epochs.csv` and `metrics.csv` with everything recorded so far.
    pub fn write_records(
        &self,
        epochs: &[EpochRecord],
        iterations: &[IterationRecord],
    ) -> Result<(), Error> {
        self.write_epochs(epochs)?;
        let text = metrics::metrics_csv(epochs, iterations);
        atomic_write(&self.path.join(METRICS), text.as_bytes())
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
        let stem = match eval_of {
            None => CONFUSION.to_string(),
            Some(Weights::Final) => format!("{CONFUSION}-final"),
            Some(Weights::Checkpoint(n)) => format!("{CONFUSION}-epoch-{n}"),
        };
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
