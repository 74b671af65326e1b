//! `metrics.csv`: per epoch (train and validation loss and accuracy) and per iteration (training
//! loss and batch accuracy), assembled from the epoch records and burn's metric logs. Timings live
//! in `epochs.csv` only, so the same config and seed give a byte-identical `metrics.csv`.

use std::fmt::Write as _;
use std::path::Path;

use crate::Error;
use crate::fsutil::atomic_write;
use crate::progress::EpochRecord;

pub const EPOCHS_FILE: &str = "epochs.csv";
pub const METRICS_FILE: &str = "metrics.csv";
const EPOCHS_HEADER: &str = "epoch,train_loss,train_acc,valid_loss,valid_acc,seconds,train_seconds";
pub const METRICS_HEADER: &str = "scope,epoch,iteration,split,loss,accuracy";

/// One training iteration: mean loss and accuracy (fraction) of its batch.
#[derive(Clone, Debug, PartialEq)]
pub struct IterationRecord {
    pub epoch: usize,
    /// 1-based, counted over the whole run.
    pub iteration: usize,
    pub loss: f64,
    pub accuracy: f64,
}

pub fn epoch_row(r: &EpochRecord) -> String {
    format!(
        "{},{},{},{},{},{:.3},{:.3}",
        r.epoch, r.train_loss, r.train_acc, r.valid_loss, r.valid_acc, r.seconds, r.train_seconds
    )
}

/// Rewrites the run's `epochs.csv` with `records` (atomically).
pub fn write_epochs(run_dir: &Path, records: &[EpochRecord]) -> Result<(), Error> {
    let mut text = format!("{EPOCHS_HEADER}\n");
    for r in records {
        text.push_str(&epoch_row(r));
        text.push('\n');
    }
    atomic_write(&run_dir.join(EPOCHS_FILE), text.as_bytes())
}

/// The run's `epochs.csv`, or nothing if it has none yet.
pub fn read_epochs(run_dir: &Path) -> Result<Vec<EpochRecord>, Error> {
    let path = run_dir.join(EPOCHS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&path, "cannot read", e)),
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let bad = || Error::run(&path, format!("line {} is not `{EPOCHS_HEADER}`", n + 1));
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 7 {
            return Err(bad());
        }
        let num = |i: usize| f[i].parse::<f64>().map_err(|_| bad());
        out.push(EpochRecord {
            epoch: f[0].parse().map_err(|_| bad())?,
            train_loss: num(1)?,
            train_acc: num(2)?,
            valid_loss: num(3)?,
            valid_acc: num(4)?,
            seconds: num(5)?,
            train_seconds: num(6)?,
        });
    }
    Ok(out)
}

/// Per-iteration values of one metric from burn's `FileMetricLogger` file
/// (`train/epoch-N/<Metric>.log`: a `value,count` line per iteration, then `mean,final`).
fn read_metric_log(path: &Path) -> Result<Vec<f64>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "cannot read", e))?;
    text.lines()
        .filter(|l| !l.ends_with(",final") && !l.is_empty())
        .map(|l| {
            l.split(',')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| Error::run(path, format!("unexpected line `{l}`")))
        })
        .collect()
}

/// Writes one epoch's per-iteration values in the layout of burn's `FileMetricLogger`, so runs
/// trained by hand and by the Learner are read back the same way.
pub fn write_iteration_logs(
    run_dir: &Path,
    epoch: usize,
    losses: &[f64],
    accuracies: &[f64],
) -> Result<(), Error> {
    let dir = run_dir.join("train").join(format!("epoch-{epoch}"));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "cannot create", e))?;
    for (name, values, scale) in [("Loss", losses, 1.0), ("Accuracy", accuracies, 100.0)] {
        let mut text = String::new();
        for v in values {
            let _ = writeln!(text, "{},1", v * scale);
        }
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        let _ = writeln!(text, "{},final", mean * scale);
        atomic_write(&dir.join(format!("{name}.log")), text.as_bytes())?;
    }
    Ok(())
}

/// Training iterations of epochs `1..=epochs`, read from burn's logs in `run_dir/train`.
pub fn read_iterations(run_dir: &Path, epochs: usize) -> Result<Vec<IterationRecord>, Error> {
    let mut out = Vec::new();
    for epoch in 1..=epochs {
        let dir = run_dir.join("train").join(format!("epoch-{epoch}"));
        let loss = read_metric_log(&dir.join("Loss.log"))?;
        let acc = read_metric_log(&dir.join("Accuracy.log"))?;
        for (l, a) in loss.into_iter().zip(acc) {
            out.push(IterationRecord {
                epoch,
                iteration: out.len() + 1,
                loss: l,
                accuracy: a / 100.0,
            });
        }
    }
    Ok(out)
}

/// Writes `metrics.csv` (atomically).
pub fn write_metrics(
    run_dir: &Path,
    epochs: &[EpochRecord],
    iterations: &[IterationRecord],
) -> Result<(), Error> {
    let mut text = format!("{METRICS_HEADER}\n");
    for r in epochs {
        let _ = writeln!(
            text,
            "epoch,{},,train,{},{}",
            r.epoch, r.train_loss, r.train_acc
        );
        let _ = writeln!(
            text,
            "epoch,{},,valid,{},{}",
            r.epoch, r.valid_loss, r.valid_acc
        );
    }
    for it in iterations {
        let (e, i, l, a) = (it.epoch, it.iteration, it.loss, it.accuracy);
        let _ = writeln!(text, "iteration,{e},{i},train,{l},{a}");
    }
    atomic_write(&run_dir.join(METRICS_FILE), text.as_bytes())
}
