//! What a run records while an epoch is still in progress: its iterations so far
//! (`live_iterations.csv`, appended to) and where the epoch stands (`progress.toml`, replaced
//! whole). `metrics.csv` is written only when an epoch ends (whole, atomically, so that the same
//! config and seed give the same bytes); these two files let a reader such as the web app follow
//! the epoch in between. They mean something only while the run's trainer holds its lock
//! (`RunDir::is_training`): readers ignore them otherwise, and a trainer that starts removes
//! what a killed one left.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::run::metrics::{IterationRecord, RateRecord};

/// The live file's header: an iteration's row of `metrics.csv` less what every row there
/// repeats (scope, split), plus the rate the step used (empty without a `[scheduler]`).
pub const LIVE_HEADER: &str = "epoch,iteration,loss,accuracy,weights_updated,lr";

/// How often, at most, a trainer writes its live files, in milliseconds: a batch-1 run does
/// 60,000 iterations an epoch, far more than a reader polling every 2 s needs to see one by one.
/// Tests on the fixture data, whose epochs take milliseconds, lower it
/// (`testing::flush_live_every`) to see a partial epoch.
pub(crate) static FLUSH_EVERY_MS: AtomicU64 = AtomicU64::new(1000);

/// The live files' flush interval (see [`FLUSH_EVERY_MS`]).
pub(crate) fn flush_every() -> Duration {
    Duration::from_millis(FLUSH_EVERY_MS.load(Ordering::Relaxed))
}

/// Where an epoch in progress stands (`progress.toml`), as of the last flush.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveProgress {
    /// The epoch in progress, 1-based.
    pub epoch: usize,
    /// Epochs planned.
    pub epochs: usize,
    /// `train` or `valid`: the pass over the data the epoch is in.
    pub phase: String,
    /// Images done and in all, of the current pass.
    pub items_done: usize,
    pub items_total: usize,
    /// When the epoch began, in seconds since the Unix epoch.
    pub epoch_started: f64,
}

/// The iterations and learning rates of the epoch in progress, as far as they were flushed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveRecords {
    pub iterations: Vec<IterationRecord>,
    pub rates: Vec<RateRecord>,
}

/// The trainer's side of the live files: rows are formatted into memory as iterations end and
/// appended to the file at each flush (one write, never a rewrite of the epoch), and the
/// progress file is replaced whole.
#[derive(Debug)]
pub struct LiveWriter {
    iterations_path: PathBuf,
    progress_path: PathBuf,
    /// The live file of the current epoch, open for appending; `None` before the epoch's first
    /// flush.
    file: Option<std::fs::File>,
    pending: String,
}

impl LiveWriter {
    pub(crate) fn new(iterations_path: PathBuf, progress_path: PathBuf) -> Self {
        Self {
            iterations_path,
            progress_path,
            file: None,
            pending: String::new(),
        }
    }

    /// Starts an epoch: what an earlier epoch left (its records are in `metrics.csv` by now) is
    /// removed, and the next flush begins a new file.
    pub fn start_epoch(&mut self) -> Result<(), Error> {
        self.clear()
    }

    /// Adds an iteration, written at the next flush. Floats as `metrics.csv` writes them
    /// (Rust's `Display`: the shortest text that reads back as the same number).
    pub fn push(&mut self, record: &IterationRecord, lr: Option<f64>) {
        let optional = |v: Option<String>| v.unwrap_or_default();
        // Writing to a String cannot fail.
        let _ = writeln!(
            self.pending,
            "{},{},{},{},{},{}",
            record.epoch,
            record.iteration,
            record.loss,
            record.accuracy,
            optional(record.weights_updated.map(|w| w.to_string())),
            optional(lr.map(|r| r.to_string())),
        );
    }

    /// Appends the pending rows to the live file (made, with its header, at an epoch's first
    /// flush) and replaces the progress file. Rows go first: a reader that sees the progress
    /// sees at least the rows written before it.
    pub fn flush(&mut self, progress: &LiveProgress) -> Result<(), Error> {
        let path = &self.iterations_path;
        let fail = |e: std::io::Error| Error::io(path, "cannot write", e);
        if self.file.is_none() {
            let mut file = std::fs::File::create(path).map_err(fail)?;
            file.write_all(format!("{LIVE_HEADER}\n").as_bytes())
                .map_err(fail)?;
            self.file = Some(file);
        }
        if !self.pending.is_empty() {
            let file = self.file.as_mut().expect("opened above");
            // One write of whole lines; a reader may still see part of it, and drops a last
            // line without its newline.
            file.write_all(self.pending.as_bytes()).map_err(fail)?;
            self.pending.clear();
        }
        let text = toml::to_string(progress).expect("LiveProgress serialises");
        // Replaced by a rename, not synced: a reader sees the old or the new file whole, and a
        // crash may lose it, which costs nothing (it is ignored once the run is not training).
        crate::run::fsutil::replace(&self.progress_path, text.as_bytes())
    }

    /// Removes both files (and forgets rows not yet written): the epoch's records are in
    /// `metrics.csv`, or training ends.
    pub fn clear(&mut self) -> Result<(), Error> {
        self.file = None;
        self.pending.clear();
        for path in [&self.iterations_path, &self.progress_path] {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(path, "cannot remove", e));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Reads the live file's text: its rows up to the first one that is not whole (the trainer may
/// be writing it; a last line without its newline is not read). Never fails: what cannot be
/// read is simply not live data.
pub fn parse_live(text: &str) -> LiveRecords {
    let mut out = LiveRecords::default();
    let Some(whole) = text.rfind('\n').map(|end| &text[..=end]) else {
        return out;
    };
    let mut lines = whole.lines();
    if lines.next() != Some(LIVE_HEADER) {
        return out;
    }
    for line in lines {
        let Some(row) = parse_row(line) else {
            break;
        };
        if let Some(lr) = row.1 {
            out.rates.push(RateRecord {
                epoch: row.0.epoch,
                iteration: row.0.iteration,
                lr,
            });
        }
        out.iterations.push(row.0);
    }
    out
}

fn parse_row(line: &str) -> Option<(IterationRecord, Option<f64>)> {
    let fields: Vec<&str> = line.split(',').collect();
    let [epoch, iteration, loss, accuracy, weights, lr] = fields[..] else {
        return None;
    };
    let record = IterationRecord {
        epoch: epoch.parse().ok()?,
        iteration: iteration.parse().ok()?,
        loss: loss.parse().ok()?,
        accuracy: accuracy.parse().ok()?,
        weights_updated: optional(weights)?,
    };
    Some((record, optional(lr)?))
}

/// An optional field: empty is `Some(None)`, a number `Some(Some(n))`, anything else `None`.
fn optional<T: std::str::FromStr>(field: &str) -> Option<Option<T>> {
    if field.is_empty() {
        Some(None)
    } else {
        field.parse().ok().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: usize) -> IterationRecord {
        IterationRecord {
            epoch: 2,
            iteration: i,
            loss: 1.0 / i as f64,
            accuracy: 0.1 + 0.2,
            weights_updated: i.is_multiple_of(2).then_some(i * 3),
        }
    }

    fn progress() -> LiveProgress {
        LiveProgress {
            epoch: 2,
            epochs: 3,
            phase: "train".into(),
            items_done: 40,
            items_total: 200,
            epoch_started: 1.7e9,
        }
    }

    #[test]
    fn flushed_rows_read_back_exactly_and_a_new_epoch_starts_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let (rows, state) = (dir.path().join("live.csv"), dir.path().join("p.toml"));
        let mut w = LiveWriter::new(rows.clone(), state.clone());
        w.push(&record(5), Some(1e-3));
        w.push(&record(6), None);
        // Nothing on disk before the flush.
        assert!(!rows.exists());
        w.flush(&progress()).unwrap();
        w.push(&record(7), Some(0.5));
        w.flush(&progress()).unwrap();
        let live = parse_live(&std::fs::read_to_string(&rows).unwrap());
        assert_eq!(live.iterations, vec![record(5), record(6), record(7)]);
        let rates: Vec<(usize, f64)> = live.rates.iter().map(|r| (r.iteration, r.lr)).collect();
        assert_eq!(rates, vec![(5, 1e-3), (7, 0.5)]);
        let back: LiveProgress = toml::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        assert_eq!(back, progress());
        w.start_epoch().unwrap();
        assert!(!rows.exists() && !state.exists());
        w.push(&record(8), None);
        w.flush(&progress()).unwrap();
        let live = parse_live(&std::fs::read_to_string(&rows).unwrap());
        assert_eq!(live.iterations, vec![record(8)]);
        w.clear().unwrap();
        assert!(!rows.exists() && !state.exists());
    }

    #[test]
    fn a_partial_or_damaged_row_ends_what_is_read() {
        let head = format!("{LIVE_HEADER}\n2,5,0.5,1,,\n2,6,0.25,0.5,3,0.1\n");
        assert_eq!(parse_live(&head).iterations.len(), 2);
        // A last line still being written.
        assert_eq!(parse_live(&format!("{head}2,7,0.1")).iterations.len(), 2);
        // A damaged row: it and what follows are not read.
        let damaged = format!("{head}2,x,0.1,1,,\n2,8,0.1,1,,\n");
        assert_eq!(parse_live(&damaged).iterations.len(), 2);
        assert_eq!(parse_live(&format!("{head}2,7,1,1\n")).iterations.len(), 2);
        // Another header, or no whole line: nothing.
        assert_eq!(parse_live("epoch,iteration\n2,5\n"), LiveRecords::default());
        assert_eq!(parse_live(LIVE_HEADER), LiveRecords::default());
        assert_eq!(parse_live(""), LiveRecords::default());
    }
}
