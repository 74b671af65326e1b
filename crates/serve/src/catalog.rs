//! The runs under the artifacts folder, as the runs page and `GET /api/runs` list them. A broken
//! or half-written run directory is listed with what is wrong; listing never fails on one.

use std::path::{Path, PathBuf};

use mnist_trainer::run::dir::{Figure, RunDir, RunState, Weights};
use mnist_trainer::run::metrics::{EpochRecord, median};
use mnist_trainer::run::sweep_dir::SweepDir;
use serde::Serialize;

/// What the runs table shows of a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub name: String,
    pub state: RunState,
    /// What is wrong with a broken run, or how an interrupted one can go on.
    pub note: Option<String>,
    pub model: Option<String>,
    pub trainer: Option<String>,
    pub optimizer: Option<String>,
    pub lr: Option<f64>,
    pub batch_size: Option<usize>,
    pub epochs_done: usize,
    pub epochs_planned: Option<usize>,
    /// What each epoch's valid_* numbers come from: `test set` or `hold-out of N training
    /// images`.
    pub validation: Option<String>,
    /// Fraction in [0, 1]: the final weights' test accuracy (`RunDir::test_accuracy`).
    pub test_accuracy: Option<f64>,
    /// How training ended: why it stopped, which epoch's weights it kept.
    pub outcome: Option<String>,
    pub seconds_per_epoch: Option<f64>,
    pub backend: Option<String>,
    /// Whether the run has final weights to predict with.
    pub has_model: bool,
}

/// A run's summary with its epochs and figures, for `GET /api/runs/<name>` and the run page.
#[derive(Clone, Debug, Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub summary: RunSummary,
    /// Accuracies as fractions, seconds per epoch and per training pass.
    pub epochs: Vec<EpochRecord>,
    /// The figure files the run has, by file name.
    pub figures: Vec<&'static str>,
    pub config: Option<String>,
}

/// The run directory called `name` directly under `artifacts`, if `name` is a plain name of an
/// existing folder there: never a path that reads outside the artifacts folder.
pub fn find(artifacts: &Path, name: &str) -> Option<RunDir> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !Path::new(name).is_absolute();
    if !plain {
        return None;
    }
    let path = artifacts.join(name);
    // A symbolic link may point anywhere; only real folders inside the artifacts folder count.
    let meta = std::fs::symlink_metadata(&path).ok()?;
    meta.is_dir().then(|| RunDir::new(path))
}

/// Every run directory under `artifacts`, by name.
pub fn list(artifacts: &Path) -> Vec<RunSummary> {
    let Ok(entries) = std::fs::read_dir(artifacts) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        // A sweep's own folder (its sweep.toml, point configs, logs) is not a run.
        .filter(|n| !SweepDir::is_sweep(&artifacts.join(n)))
        .collect();
    names.sort();
    names
        .iter()
        .filter_map(|n| find(artifacts, n))
        .map(|run| summarize(&run))
        .collect()
}

fn broken(run: &RunDir, why: String) -> RunSummary {
    RunSummary {
        name: run.name(),
        state: RunState::Broken,
        note: Some(why),
        model: None,
        trainer: None,
        optimizer: None,
        lr: None,
        batch_size: None,
        epochs_done: 0,
        epochs_planned: None,
        validation: None,
        test_accuracy: None,
        outcome: None,
        seconds_per_epoch: None,
        backend: None,
        has_model: false,
    }
}

/// What the runs table shows of one run; a run that cannot be read is `broken`, with why.
pub fn summarize(run: &RunDir) -> RunSummary {
    let plan = match run.plan() {
        Ok(p) => p,
        Err(e) => return broken(run, e.to_string()),
    };
    let epochs = match run.epochs() {
        Ok(e) => e,
        Err(e) => return broken(run, e.to_string()),
    };
    let kind = plan.trainer().kind();
    let has_model = run.weights_file(Weights::Final).is_file();
    let done = epochs.len();
    let info = run.info();
    let state = run.state(&plan, done);
    let note = (state == RunState::Interrupted).then(|| match run.checkpoint_epochs(kind).last() {
        Some(e) => format!("resumable after epoch {e}: mnist train <config> --resume"),
        None => "stopped before its first checkpoint".to_string(),
    });
    let optimizer = plan.trainer().optimizer();
    let outcome = info.outcome.as_ref().map(|o| {
        format!(
            "{}; model.bpk holds epoch {} ({})",
            o.stopped, o.model_epoch, o.model_chosen
        )
    });
    RunSummary {
        name: run.name(),
        state,
        note,
        model: Some(plan.model().short_name()),
        trainer: Some(format!("{kind:?}").to_lowercase()),
        optimizer: Some(optimizer.name().to_string()),
        lr: Some(optimizer.lr()),
        batch_size: Some(plan.batch_size()),
        epochs_done: done,
        epochs_planned: Some(plan.epochs()),
        validation: Some(plan.describe_validation()),
        test_accuracy: run.test_accuracy(&epochs),
        outcome,
        seconds_per_epoch: (!epochs.is_empty())
            .then(|| median(&epochs.iter().map(|e| e.seconds).collect::<Vec<_>>())),
        backend: (!info.backend.is_empty()).then_some(info.backend),
        has_model,
    }
}

/// The run's summary, epochs, present figures and config.
pub fn detail(run: &RunDir) -> RunDetail {
    let summary = summarize(run);
    RunDetail {
        summary,
        epochs: run.epochs().unwrap_or_default(),
        figures: Figure::ALL
            .iter()
            .filter(|f| run.figure(**f).is_file())
            .map(|f| f.file_name())
            .collect(),
        config: run.config_text(),
    }
}

/// The figure of a run called `file`, if it is one of the run's figure names and exists.
pub fn figure_file(run: &RunDir, file: &str) -> Option<PathBuf> {
    Figure::ALL
        .iter()
        .find(|f| f.file_name() == file)
        .map(|f| run.figure(*f))
        .filter(|p| p.is_file())
}
