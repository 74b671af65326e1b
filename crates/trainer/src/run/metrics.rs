//! What training measures, and the two CSV files that keep it.
//!
//! `epochs.csv`: one row per finished epoch, with its seconds. `metrics.csv`: per epoch (training
//! and validation loss and accuracy) and per iteration (training loss and batch accuracy), with no
//! timings, so the same config and seed give a byte-identical file. Accuracies are fractions in
//! [0, 1] everywhere; only what is shown to people turns them into percentages.

use std::fmt::Write as _;

use serde::Serialize;

/// One finished epoch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    /// Fraction in [0, 1].
    pub train_acc: f64,
    pub valid_loss: f64,
    /// Fraction in [0, 1].
    pub valid_acc: f64,
    /// Wall time of the epoch, training and validation.
    pub seconds: f64,
    /// Wall time of the training pass alone.
    pub train_seconds: f64,
}

/// One training iteration: mean loss and accuracy (fraction) of its batch.
#[derive(Clone, Debug, PartialEq)]
pub struct IterationRecord {
    pub epoch: usize,
    /// 1-based, counted over the whole run.
    pub iteration: usize,
    /// Mean cross-entropy of the batch: the mean NLL of the correct class.
    pub loss: f64,
    pub accuracy: f64,
    /// How many weights the step changed (the scratch trainer counts them; `None` for the
    /// Learner).
    pub weights_updated: Option<usize>,
}

const EPOCHS_HEADER: &str = "epoch,train_loss,train_acc,valid_loss,valid_acc,seconds,train_seconds";
pub const METRICS_HEADER: &str = "scope,epoch,iteration,split,loss,accuracy,weights_updated";
/// The header of runs written before `weights_updated` was recorded: still read.
const METRICS_HEADER_V1: &str = "scope,epoch,iteration,split,loss,accuracy";

/// The text of `epochs.csv`.
pub fn epochs_csv(records: &[EpochRecord]) -> String {
    let mut text = format!("{EPOCHS_HEADER}\n");
    for r in records {
        let _ = writeln!(
            text,
            "{},{},{},{},{},{:.3},{:.3}",
            r.epoch,
            r.train_loss,
            r.train_acc,
            r.valid_loss,
            r.valid_acc,
            r.seconds,
            r.train_seconds
        );
    }
    text
}

/// Reads `epochs.csv` text; the error names the line.
pub fn parse_epochs_csv(text: &str) -> Result<Vec<EpochRecord>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let bad = || format!("line {} is not `{EPOCHS_HEADER}`", n + 1);
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

/// The text of `metrics.csv`. Values are written in full (Rust's shortest exact form), so
/// reading them back gives the same numbers.
pub fn metrics_csv(epochs: &[EpochRecord], iterations: &[IterationRecord]) -> String {
    let mut text = format!("{METRICS_HEADER}\n");
    for r in epochs {
        let (e, tl, ta, vl, va) = (
            r.epoch,
            r.train_loss,
            r.train_acc,
            r.valid_loss,
            r.valid_acc,
        );
        let _ = writeln!(text, "epoch,{e},,train,{tl},{ta},");
        let _ = writeln!(text, "epoch,{e},,valid,{vl},{va},");
    }
    for it in iterations {
        let (e, i, l, a) = (it.epoch, it.iteration, it.loss, it.accuracy);
        let u = it.weights_updated.map_or(String::new(), |u| u.to_string());
        let _ = writeln!(text, "iteration,{e},{i},train,{l},{a},{u}");
    }
    text
}

/// The iteration rows of `metrics.csv` text; the error names the line.
pub fn parse_iterations(text: &str) -> Result<Vec<IterationRecord>, String> {
    let mut out = Vec::new();
    // Fields after `iteration,`: 5, or 6 with `weights_updated`.
    let mut columns = 0;
    for (n, line) in text.lines().enumerate() {
        if n == 0 {
            columns = match line {
                METRICS_HEADER => 6,
                METRICS_HEADER_V1 => 5,
                _ => return Err(format!("line 1 is not `{METRICS_HEADER}`")),
            };
            continue;
        }
        let Some(rest) = line.strip_prefix("iteration,") else {
            continue;
        };
        let bad = || format!("line {} is not an iteration row", n + 1);
        let f: Vec<&str> = rest.split(',').collect();
        if f.len() != columns || f[2] != "train" {
            return Err(bad());
        }
        let weights_updated = match f.get(5) {
            None | Some(&"") => None,
            Some(u) => Some(u.parse().map_err(|_| bad())?),
        };
        out.push(IterationRecord {
            epoch: f[0].parse().map_err(|_| bad())?,
            iteration: f[1].parse().map_err(|_| bad())?,
            loss: f[3].parse().map_err(|_| bad())?,
            accuracy: f[4].parse().map_err(|_| bad())?,
            weights_updated,
        });
    }
    Ok(out)
}

/// The median of `values` (NaN for none): what the speed figures report.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Mean of a per-batch value weighted by batch size, as an epoch summary reports it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Running {
    sum: f64,
    count: usize,
}

impl Running {
    pub fn add(&mut self, value: f64, count: usize) {
        self.sum += value * count as f64;
        self.count += count;
    }
    /// NaN before the first value.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum / self.count as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(e: usize) -> EpochRecord {
        EpochRecord {
            epoch: e,
            train_loss: 0.1 + e as f64 / 3.0,
            train_acc: 0.9,
            valid_loss: 1.0 / 7.0,
            valid_acc: 0.97,
            seconds: 1.25,
            train_seconds: 1.0,
        }
    }

    #[test]
    fn both_files_read_back_what_was_written() {
        let epochs = vec![epoch(1), epoch(2)];
        assert_eq!(parse_epochs_csv(&epochs_csv(&epochs)).unwrap(), epochs);
        let iterations: Vec<IterationRecord> = (1..=5)
            .map(|i| IterationRecord {
                epoch: 1 + i / 3,
                iteration: i,
                loss: 1.0 / i as f64,
                accuracy: i as f64 / 50.0,
                weights_updated: (i % 2 == 0).then_some(7000 + i),
            })
            .collect();
        let text = metrics_csv(&epochs, &iterations);
        assert_eq!(parse_iterations(&text).unwrap(), iterations);
        assert_eq!(text.lines().count(), 1 + 2 * 2 + 5);
    }

    #[test]
    fn damaged_files_name_the_line() {
        let e = parse_epochs_csv("header\n1,2,3\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = parse_iterations(&format!("{METRICS_HEADER}\niteration,1,x,train,1,1\n"));
        assert!(e.unwrap_err().contains("line 2"));
        assert!(parse_iterations("scope,other\n").is_err());
    }

    #[test]
    fn median_of_odd_even_and_no_values() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn running_mean_weights_by_count() {
        let mut r = Running::default();
        assert!(r.mean().is_nan());
        r.add(1.0, 3);
        r.add(3.0, 1);
        assert_eq!(r.mean(), 1.5);
    }
}
