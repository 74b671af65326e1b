//! What training tells the outside world while it runs. The library never prints: the caller
//! passes an observer (the command line prints, the web app and the tests record).

use std::path::PathBuf;
use std::sync::Arc;

use mnist_models::ModelSummary;

use crate::run::metrics::EpochRecord;

/// A run that is about to train its first (or, resumed, its next) epoch.
#[derive(Clone, Debug)]
pub struct RunStart {
    /// `Backend::describe()` of the backend it trains on.
    pub backend: String,
    pub run_dir: PathBuf,
    pub data: PathBuf,
    /// Images trained on (the training set less any hold-out).
    pub train_images: usize,
    pub test_images: usize,
    /// What each epoch is validated on (`Plan::describe_validation`).
    pub validation: String,
    /// Batch, optimizer, schedule, early stopping, augmentation (`Plan::describe_training`).
    pub training: String,
    /// Epochs already done (0 unless resumed).
    pub resumed_after: usize,
    pub epochs: usize,
    /// The model's short name and its layers.
    pub model_name: String,
    pub model: ModelSummary,
}

/// Which pass over the data an epoch is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Train,
    Valid,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Train => "train",
            Phase::Valid => "valid",
        }
    }
}

/// Where an epoch stands, after a batch.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub epoch: usize,
    pub epochs: usize,
    pub phase: Phase,
    pub items_done: usize,
    pub items_total: usize,
    /// Means over the epoch's training batches so far (NaN before the first).
    pub loss: f64,
    pub accuracy: f64,
}

/// Receives training events; every method has a do-nothing default. Called from the training
/// thread or from burn's event thread, hence `Send + Sync` and `&self`.
pub trait TrainObserver: Send + Sync {
    fn started(&self, _start: &RunStart) {}
    fn progress(&self, _progress: &Progress) {}
    /// An epoch ended and its records are on disk.
    fn epoch(&self, _record: &EpochRecord, _epochs: usize) {}
    /// Something the user should know that does not stop the run.
    fn warning(&self, _message: &str) {}
}

/// Observes nothing.
pub struct Quiet;

impl TrainObserver for Quiet {}

pub type Observer = Arc<dyn TrainObserver>;

/// An observer that drops every event.
pub fn quiet() -> Observer {
    Arc::new(Quiet)
}
