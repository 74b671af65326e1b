//! The runs under the artifacts folder, as the runs page and `GET /api/runs` list them. A broken
//! or half-written run directory is listed with what is wrong; listing never fails on one.

use std::path::{Path, PathBuf};

use mnist_trainer::Error;
use mnist_trainer::run::dir::{Figure, RunDir, RunState, Weights};
use mnist_trainer::run::live::LiveProgress;
use mnist_trainer::run::metrics::{EpochRecord, IterationRecord, RateRecord, median};
use mnist_trainer::run::snapshots::{Frame, Layout};
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
    /// When `model.bpk` was last written, in seconds since the Unix epoch: which finished run
    /// is the most recent (the draw page opens on it).
    pub model_time: Option<u64>,
    /// Queued or training by this web app (which can then stop it).
    pub launched: bool,
    /// Where the epoch in progress stands, while the run is training and has said so.
    pub progress: Option<TrainingProgress>,
}

/// A training run's epoch in progress, from its `progress.toml` (written about once a second).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainingProgress {
    /// The epoch in progress (1-based) and the epochs planned.
    pub epoch: usize,
    pub epochs: usize,
    /// `train` or `valid`: which pass of the epoch, over which images.
    pub phase: String,
    pub items_done: usize,
    pub items_total: usize,
    /// Seconds until the last planned epoch ends, estimated (see [`eta_seconds`]); none before
    /// there is anything to estimate from.
    pub eta_seconds: Option<f64>,
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
    /// Whether the run has a `train.log` (it was launched from the web app).
    pub has_log: bool,
    /// How many weight snapshots the run has (0: none, a CNN or a run from before them).
    pub snapshots: usize,
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

/// The names of the folders directly in `artifacts` that are not hidden, sorted: what holds
/// runs and sweeps.
pub fn folder_names(artifacts: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(artifacts) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// Every run directory under `artifacts`, by name.
pub fn list(artifacts: &Path) -> Vec<RunSummary> {
    folder_names(artifacts)
        .iter()
        // A sweep's own folder (its sweep.toml, point configs, logs) is not a run.
        .filter(|n| !SweepDir::is_sweep(&artifacts.join(n)))
        .filter_map(|n| find(artifacts, n))
        .map(|run| summarize(&run))
        .collect()
}

fn broken(run: &RunDir, why: String) -> RunSummary {
    let mut summary = placeholder(&run.name(), RunState::Broken);
    summary.note = Some(why);
    summary
}

/// A run known only by its name and state (broken, or queued before its directory exists).
pub fn placeholder(name: &str, state: RunState) -> RunSummary {
    RunSummary {
        name: name.to_string(),
        state,
        note: None,
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
        model_time: None,
        launched: false,
        progress: None,
    }
}

/// Seconds until training ends, at `now` (seconds since the Unix epoch), for the epoch in
/// progress `p` after epochs that took `epoch_seconds`: the rest of the current epoch and the
/// epochs after it, each as long as the median epoch so far. In a run's first epoch there is
/// no epoch to go by, so the epoch's length comes from the rate of its training pass so far
/// (once the training pass is over, the epoch so far: validation is short next to it). Never
/// negative; none where nothing can be estimated yet.
pub fn eta_seconds(p: &LiveProgress, epoch_seconds: &[f64], now: f64) -> Option<f64> {
    let elapsed = (now - p.epoch_started).max(0.0);
    let per_epoch = if epoch_seconds.is_empty() {
        match p.phase.as_str() {
            "train" if p.items_done > 0 && p.items_total >= p.items_done => {
                elapsed * p.items_total as f64 / p.items_done as f64
            }
            "valid" => elapsed,
            _ => return None,
        }
    } else {
        median(epoch_seconds)
    };
    let later = p.epochs.saturating_sub(p.epoch) as f64;
    let eta = (per_epoch - elapsed).max(0.0) + later * per_epoch;
    eta.is_finite().then_some(eta)
}

/// The run's progress, while it trains and its trainer has written one.
fn training_progress(run: &RunDir, epochs: &[EpochRecord]) -> Option<TrainingProgress> {
    let p = run.live_progress()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    let seconds: Vec<f64> = epochs.iter().map(|e| e.seconds).collect();
    Some(TrainingProgress {
        eta_seconds: eta_seconds(&p, &seconds, now),
        epoch: p.epoch,
        epochs: p.epochs,
        phase: p.phase,
        items_done: p.items_done,
        items_total: p.items_total,
    })
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
    let model_file = run.weights_file(Weights::Final);
    let has_model = model_file.is_file();
    let model_time = std::fs::metadata(&model_file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let done = epochs.len();
    let info = run.info();
    let state = run.state(&plan, done);
    let progress = (state == RunState::Training)
        .then(|| training_progress(run, &epochs))
        .flatten();
    let resumable = matches!(state, RunState::Interrupted | RunState::Stopped);
    let note = resumable.then(|| match run.checkpoint_epochs(kind).last() {
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
        model_time,
        launched: false,
        progress,
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
        has_log: run.log_file().is_file(),
        snapshots: run
            .snapshots()
            .index()
            .ok()
            .flatten()
            .map_or(0, |index| index.steps.len()),
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

/// Most points per series that `GET /api/runs/<name>/metrics` answers: a CNN run has 12,000
/// iterations and a batch-1 run 60,000 per epoch, more than a chart a few hundred pixels wide
/// can show or a page should fetch every 2 s.
pub const MAX_POINTS: usize = 2000;

/// The per-iteration series of a run, for its charts: `GET /api/runs/<name>/metrics`.
#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    pub state: RunState,
    pub epochs: Vec<EpochRecord>,
    /// Iterations after `since`, averaged in buckets of `every`.
    pub iterations: Vec<IterationPoint>,
    /// The learning rate per bucket, where the run has a `[scheduler]`; empty otherwise.
    pub rates: Vec<RatePoint>,
    /// Iterations per point: bucket `k` holds iterations `(k-1)·every+1 ..= k·every`.
    pub every: usize,
    /// Iterations after `since` that were recorded (before averaging).
    pub recorded: usize,
    /// Where the next request's `since` should be: the end of the last full bucket, so that a
    /// bucket still filling is fetched again whole.
    pub next_since: usize,
}

/// The mean of the iterations of one bucket.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct IterationPoint {
    /// The bucket's last iteration (1-based, over the whole run).
    pub iteration: usize,
    /// The epoch of that iteration.
    pub epoch: usize,
    pub loss: f64,
    /// A fraction.
    pub accuracy: f64,
    /// Iterations averaged into this point.
    pub count: usize,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RatePoint {
    pub iteration: usize,
    pub epoch: usize,
    pub lr: f64,
}

/// The iterations a run has recorded after iteration `since`. The one place that reads them:
/// `metrics.csv`, then, while the run trains, the iterations of its epoch in progress.
pub fn iterations(run: &RunDir, since: usize) -> Result<Vec<IterationRecord>, Error> {
    Ok(recorded(run, since)?.0)
}

/// The iterations and learning rates (none without a scheduler) a run has recorded after
/// iteration `since`, those of the epoch in progress included.
fn recorded(run: &RunDir, since: usize) -> Result<(Vec<IterationRecord>, Vec<RateRecord>), Error> {
    // The live file first: an epoch that ends between the two reads is then in metrics.csv
    // (and its live rows, numbered as there, are dropped below); read the other way round, it
    // could be in neither, and a poll that goes on from the answer would skip it for good.
    let live = run.live_iterations();
    let mut iterations = run.iterations()?;
    let mut rates = run.rates()?;
    let last = iterations.last().map_or(0, |r| r.iteration);
    // Only rows that continue metrics.csv: a live file numbered otherwise is not this epoch's.
    let continues = live
        .iterations
        .iter()
        .find(|r| r.iteration > last)
        .is_some_and(|r| r.iteration == last + 1);
    if continues {
        iterations.extend(live.iterations.into_iter().filter(|r| r.iteration > last));
        let last_rate = rates.last().map_or(0, |r| r.iteration);
        rates.extend(live.rates.into_iter().filter(|r| r.iteration > last_rate));
    }
    iterations.retain(|r| r.iteration > since);
    rates.retain(|r| r.iteration > since);
    Ok((iterations, rates))
}

/// How many buckets of `every` the (increasing) `iterations` fall into.
fn bucket_count(iterations: &[usize], every: usize) -> usize {
    let mut count = 0;
    let mut current = None;
    for &i in iterations {
        let bucket = Some(i.saturating_sub(1) / every);
        if bucket != current {
            count += 1;
            current = bucket;
        }
    }
    count
}

/// Bucket size for records at `iterations`: `every` if asked for (at least 1), raised until no
/// more than [`MAX_POINTS`] buckets come out. (Buckets are aligned to multiples of the size, so
/// the first and last may be partial: contiguous iterations may need one or two more.)
fn bucket_size(iterations: &[usize], every: Option<usize>) -> usize {
    let least = every
        .unwrap_or(1)
        .max(iterations.len().div_ceil(MAX_POINTS))
        .max(1);
    let mut size = least;
    while bucket_count(iterations, size) > MAX_POINTS {
        // Gaps in the numbering (not written by the trainer) could need far larger buckets.
        size = if size < least + 2 { size + 1 } else { size * 2 };
    }
    size
}

/// Means of `values` over buckets of `every` consecutive iteration numbers, aligned to
/// multiples of `every` (so that later requests' buckets line up with earlier ones). Records
/// are in iteration order; each bucket gives (last iteration, its epoch, means, count).
fn buckets<T, const N: usize>(
    records: &[T],
    every: usize,
    key: impl Fn(&T) -> (usize, usize),
    values: impl Fn(&T) -> [f64; N],
) -> Vec<(usize, usize, [f64; N], usize)> {
    let mut out: Vec<(usize, usize, [f64; N], usize)> = Vec::new();
    let mut current: Option<usize> = None;
    for r in records {
        let (iteration, epoch) = key(r);
        let bucket = iteration.saturating_sub(1) / every;
        let v = values(r);
        match out.last_mut() {
            Some((last, e, sums, count)) if current == Some(bucket) => {
                *last = iteration;
                *e = epoch;
                for (s, x) in sums.iter_mut().zip(v) {
                    *s += x;
                }
                *count += 1;
            }
            _ => {
                out.push((iteration, epoch, v, 1));
                current = Some(bucket);
            }
        }
    }
    for (_, _, sums, count) in &mut out {
        for s in sums.iter_mut() {
            *s /= *count as f64;
        }
    }
    out
}

/// A run's epochs and its iterations after `since`, averaged in buckets of at least `every`
/// iterations and at most [`MAX_POINTS`] points.
pub fn metrics(run: &RunDir, since: usize, every: Option<usize>) -> Result<Metrics, Error> {
    let epochs = run.epochs()?;
    let (records, rates) = recorded(run, since)?;
    let numbers: Vec<usize> = records.iter().map(|r| r.iteration).collect();
    let every = bucket_size(&numbers, every);
    let iterations: Vec<IterationPoint> = buckets(
        &records,
        every,
        |r| (r.iteration, r.epoch),
        |r| [r.loss, r.accuracy],
    )
    .into_iter()
    .map(
        |(iteration, epoch, [loss, accuracy], count)| IterationPoint {
            iteration,
            epoch,
            loss,
            accuracy,
            count,
        },
    )
    .collect();
    let rates = buckets(&rates, every, |r| (r.iteration, r.epoch), |r| [r.lr])
        .into_iter()
        .map(|(iteration, epoch, [lr], _)| RatePoint {
            iteration,
            epoch,
            lr,
        })
        .collect();
    let last = records.last().map_or(since, |r| r.iteration);
    // The last bucket may still fill while the run trains; it is asked for again.
    let next_since = (last / every * every).max(since);
    Ok(Metrics {
        state: summarize(run).state,
        epochs,
        iterations,
        rates,
        every,
        recorded: records.len(),
        next_since,
    })
}

/// A run's weight snapshots for its page's slider: `GET /api/runs/<name>/snapshots`.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotList {
    /// `linear` or `mlp`.
    pub model: &'static str,
    pub steps_per_epoch: usize,
    /// The MLP's unit shown for each digit (empty for the linear model).
    pub units: Vec<usize>,
    pub snapshots: Vec<SnapshotPoint>,
}

/// One snapshot's moment: its step, epoch, and the training batch that step trained on.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotPoint {
    pub step: usize,
    pub epoch: usize,
    pub epoch_end: bool,
    /// The loss and accuracy of training batch `step` (none before the first step).
    pub loss: Option<f64>,
    pub accuracy: Option<f64>,
}

/// The run's snapshots, `None` for a run without them (a CNN, a run from before them).
pub fn snapshots(run: &RunDir) -> Result<Option<SnapshotList>, Error> {
    let snapshots = run.snapshots();
    let Some(index) = snapshots.index()? else {
        return Ok(None);
    };
    let units = snapshots.units(&index)?;
    let (records, _) = recorded(run, 0)?;
    let points = index
        .steps
        .iter()
        .map(|&step| {
            let batch = records.iter().find(|r| r.iteration == step);
            let (epoch, epoch_end) = index.epoch_of(step);
            SnapshotPoint {
                step,
                epoch,
                epoch_end,
                loss: batch.map(|r| r.loss),
                accuracy: batch.map(|r| r.accuracy),
            }
        })
        .collect();
    Ok(Some(SnapshotList {
        model: match index.layout {
            Layout::Linear => "linear",
            Layout::Hidden | Layout::Units => "mlp",
        },
        steps_per_epoch: index.steps_per_epoch,
        units,
        snapshots: points,
    }))
}

/// The snapshot after `step` as ten templates: `GET /api/runs/<name>/snapshots/<step>`; `None`
/// where the run has no such snapshot.
pub fn snapshot(run: &RunDir, step: usize) -> Result<Option<Frame>, Error> {
    let snapshots = run.snapshots();
    let Some(index) = snapshots.index()? else {
        return Ok(None);
    };
    if !index.steps.contains(&step) {
        return Ok(None);
    }
    let units = snapshots.units(&index)?;
    snapshots.frame(&index, &units, step).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(epoch: usize, phase: &str, items_done: usize) -> LiveProgress {
        LiveProgress {
            epoch,
            epochs: 5,
            phase: phase.into(),
            items_done,
            items_total: 1000,
            epoch_started: 1000.0,
        }
    }

    #[test]
    fn eta_goes_by_the_median_epoch_or_in_the_first_by_the_rate_so_far() {
        // Epoch 3 of 5, 4 s in, after epochs of 10, 30 and 12 s (median 12): 8 s of this
        // one and two more of 12.
        let p = progress(3, "train", 400);
        assert_eq!(
            eta_seconds(&p, &[10.0, 30.0, 12.0], 1004.0),
            Some(8.0 + 24.0)
        );
        // An epoch that runs past the median: none of it left, the later ones still.
        assert_eq!(eta_seconds(&p, &[10.0, 30.0, 12.0], 1020.0), Some(24.0));
        // The first epoch: 250 of 1000 images in 5 s makes a 20 s epoch, 15 s of it left.
        let first = progress(1, "train", 250);
        assert_eq!(eta_seconds(&first, &[], 1005.0), Some(15.0 + 4.0 * 20.0));
        // Validating the first epoch after 30 s: 30 s an epoch.
        assert_eq!(
            eta_seconds(&progress(1, "valid", 10), &[], 1030.0),
            Some(4.0 * 30.0)
        );
        // Nothing done yet, a clock behind the start, or nonsense: no estimate, never negative.
        assert_eq!(eta_seconds(&progress(1, "train", 0), &[], 1005.0), None);
        assert_eq!(eta_seconds(&progress(1, "other", 5), &[], 1005.0), None);
        assert_eq!(eta_seconds(&first, &[], 900.0), Some(0.0));
        assert_eq!(eta_seconds(&p, &[f64::NAN], 1004.0), None);
        let last = LiveProgress {
            epochs: 3,
            ..progress(3, "valid", 10)
        };
        assert_eq!(eta_seconds(&last, &[10.0], 1004.0), Some(6.0));
    }

    #[test]
    fn buckets_average_aligned_runs_of_iterations() {
        // Iterations 3..=9 in buckets of 4: (1..=4) holds 3, 4; (5..=8) holds 5..=8; then 9.
        let records: Vec<(usize, f64)> = (3..=9).map(|i| (i, i as f64 * 10.0)).collect();
        let got = buckets(&records, 4, |r| (r.0, r.0 / 5 + 1), |r| [r.1]);
        assert_eq!(
            got,
            vec![(4, 1, [35.0], 2), (8, 2, [65.0], 4), (9, 2, [90.0], 1)]
        );
        assert_eq!(buckets(&records, 1, |r| (r.0, 1), |r| [r.1]).len(), 7);
        assert!(buckets(&[] as &[(usize, f64)], 3, |r| (r.0, 1), |r| [r.1]).is_empty());
    }

    #[test]
    fn bucket_size_keeps_the_points_under_the_bound() {
        let run = |from: usize, n: usize| (from..from + n).collect::<Vec<_>>();
        assert_eq!(bucket_size(&[], None), 1);
        assert_eq!(bucket_size(&run(1, MAX_POINTS), None), 1);
        assert_eq!(bucket_size(&run(1, MAX_POINTS + 1), None), 2);
        assert_eq!(bucket_size(&run(1, 60_000), Some(1)), 30);
        assert_eq!(bucket_size(&run(1, 100), Some(7)), 7);
        assert_eq!(bucket_size(&run(1, 100), Some(0)), 1);
        // Misaligned starts, odd lengths and gaps: never more than MAX_POINTS buckets.
        for (from, n) in [(2, 2 * MAX_POINTS), (1234, 12_345), (7, 59_999), (2, 4001)] {
            let iterations = run(from, n);
            let size = bucket_size(&iterations, None);
            assert!(
                bucket_count(&iterations, size) <= MAX_POINTS,
                "{from} {n}: {size}"
            );
            assert!(
                bucket_count(&iterations, size) > MAX_POINTS / 2,
                "{from} {n}: {size}"
            );
        }
        let sparse: Vec<usize> = (0..5000).map(|k| 1 + k * 1_000_003).collect();
        let size = bucket_size(&sparse, None);
        assert!(bucket_count(&sparse, size) <= MAX_POINTS, "{size}");
    }
}

/// A config file of the configs folder, as the New run page offers it.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigFile {
    pub file: String,
    pub text: String,
}

/// Largest config file offered (configs are a few hundred bytes; anything far larger is not one).
const MAX_CONFIG_BYTES: u64 = 256 * 1024;

/// The `.toml` files directly in `folder`, by name; unreadable or oversized ones are left out.
pub fn configs(folder: &Path) -> Vec<ConfigFile> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<ConfigFile> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| e.metadata().is_ok_and(|m| m.len() <= MAX_CONFIG_BYTES))
        .filter_map(|e| {
            let file = e.file_name().to_str()?.to_string();
            if !file.ends_with(".toml") || file.starts_with('.') {
                return None;
            }
            let text = std::fs::read_to_string(e.path()).ok()?;
            Some(ConfigFile { file, text })
        })
        .collect();
    files.sort_by(|a, b| a.file.cmp(&b.file));
    files
}

/// The end of a run's `train.log` (at most `max` bytes, from a line start), if it has one.
pub fn log_tail(run: &RunDir, max: u64) -> Option<String> {
    tail(&run.log_file(), max)
}

/// The end of the text file `path` (at most `max` bytes, from a line start), if there is one.
pub fn tail(path: &Path, max: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let from = len.saturating_sub(max);
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    // Progress bars are not drawn into a log (it is not a terminal), but a cut line is cut.
    Some(match (from > 0, text.find('\n')) {
        (true, Some(k)) => text[k + 1..].to_string(),
        _ => text,
    })
}
