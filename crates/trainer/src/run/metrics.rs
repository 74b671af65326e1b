//! What training measures, and the two CSV files that keep it.
//!
//! `epochs.csv`: one row per finished epoch, with its seconds. `metrics.csv`: per epoch (training
//! and validation loss and accuracy) and per iteration (training loss and batch accuracy), with no
//! timings, so the same config and seed give a byte-identical file. Accuracies are fractions in
//! [0, 1] everywhere; only what is shown to people turns them into percentages.

use serde::{Deserialize, Serialize, Serializer};

/// One finished epoch. (Read from `epochs.csv` as it is, by position; written through
/// [`EpochRow`], whose floats keep their written form.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// The learning rate one training iteration used (runs with a `[scheduler]`; `learning_rate.csv`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateRecord {
    pub epoch: usize,
    /// 1-based, counted over the whole run, as in [`IterationRecord`].
    pub iteration: usize,
    #[serde(serialize_with = "display")]
    pub lr: f64,
}

const RATES_HEADER: &str = "epoch,iteration,lr";

const EPOCHS_HEADER: &str = "epoch,train_loss,train_acc,valid_loss,valid_acc,seconds,train_seconds";
pub const METRICS_HEADER: &str = "scope,epoch,iteration,split,loss,accuracy,weights_updated";
/// The header of runs written before `weights_updated` was recorded: still read.
const METRICS_HEADER_V1: &str = "scope,epoch,iteration,split,loss,accuracy";

/// A float as Rust's `Display` writes it (`1`, `0.0000001`: the shortest text that reads back
/// as the same number), as these files have always had them; csv's own serializer would write
/// `1.0` and `1e-7`.
fn display<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// Seconds to the millisecond (`1.250`).
fn millis<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{value:.3}"))
}

/// A row of `epochs.csv` as written, in [`EPOCHS_HEADER`]'s order.
#[derive(Serialize)]
struct EpochRow {
    epoch: usize,
    #[serde(serialize_with = "display")]
    train_loss: f64,
    #[serde(serialize_with = "display")]
    train_acc: f64,
    #[serde(serialize_with = "display")]
    valid_loss: f64,
    #[serde(serialize_with = "display")]
    valid_acc: f64,
    #[serde(serialize_with = "millis")]
    seconds: f64,
    #[serde(serialize_with = "millis")]
    train_seconds: f64,
}

/// A row of `metrics.csv`, in [`METRICS_HEADER`]'s order: an epoch's (no iteration, no
/// weights count) or an iteration's.
#[derive(Serialize, Deserialize)]
struct MetricsRow<'a> {
    scope: &'a str,
    epoch: usize,
    iteration: Option<usize>,
    split: &'a str,
    #[serde(serialize_with = "display")]
    loss: f64,
    #[serde(serialize_with = "display")]
    accuracy: f64,
    // Absent from the rows of runs written before it was recorded.
    #[serde(default)]
    weights_updated: Option<usize>,
}

/// A CSV writer into memory: `header`, then the rows serialized; lines end in `\n`.
fn writer(header: &str) -> csv::Writer<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(header.split(','))
        .expect("writing to memory");
    w
}

/// The text a [`writer`] wrote.
fn written(w: csv::Writer<Vec<u8>>) -> String {
    let bytes = w.into_inner().expect("writing to memory");
    String::from_utf8(bytes).expect("the fields are UTF-8")
}

/// The rows of CSV `text` after its header, each with its (1-based) line; rows of any length.
fn rows(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// The line a row starts on, or where reading failed.
fn line(position: Option<&csv::Position>) -> u64 {
    position.map_or(0, csv::Position::line)
}

/// The text of `epochs.csv`.
pub fn epochs_csv(records: &[EpochRecord]) -> String {
    let mut w = writer(EPOCHS_HEADER);
    for r in records {
        let row = EpochRow {
            epoch: r.epoch,
            train_loss: r.train_loss,
            train_acc: r.train_acc,
            valid_loss: r.valid_loss,
            valid_acc: r.valid_acc,
            seconds: r.seconds,
            train_seconds: r.train_seconds,
        };
        w.serialize(row).expect("writing to memory");
    }
    written(w)
}

/// Reads `epochs.csv` text (its first line is the header); the error names the line.
pub fn parse_epochs_csv(text: &str) -> Result<Vec<EpochRecord>, String> {
    let bad = |line: u64| format!("line {line} is not `{EPOCHS_HEADER}`");
    let mut out = Vec::new();
    for record in rows(text).records() {
        let record = record.map_err(|e| bad(line(e.position())))?;
        let n = line(record.position());
        if record.len() != 7 {
            return Err(bad(n));
        }
        out.push(record.deserialize(None).map_err(|_| bad(n))?);
    }
    Ok(out)
}

/// The text of `metrics.csv`. Values are written in full (Rust's shortest exact form), so
/// reading them back gives the same numbers.
pub fn metrics_csv(epochs: &[EpochRecord], iterations: &[IterationRecord]) -> String {
    let mut w = writer(METRICS_HEADER);
    for r in epochs {
        for (split, loss, accuracy) in [
            ("train", r.train_loss, r.train_acc),
            ("valid", r.valid_loss, r.valid_acc),
        ] {
            let row = MetricsRow {
                scope: "epoch",
                epoch: r.epoch,
                iteration: None,
                split,
                loss,
                accuracy,
                weights_updated: None,
            };
            w.serialize(row).expect("writing to memory");
        }
    }
    for it in iterations {
        let row = MetricsRow {
            scope: "iteration",
            epoch: it.epoch,
            iteration: Some(it.iteration),
            split: "train",
            loss: it.loss,
            accuracy: it.accuracy,
            weights_updated: it.weights_updated,
        };
        w.serialize(row).expect("writing to memory");
    }
    written(w)
}

/// The text of `learning_rate.csv`.
pub fn rates_csv(rates: &[RateRecord]) -> String {
    let mut w = writer(RATES_HEADER);
    for r in rates {
        w.serialize(r).expect("writing to memory");
    }
    written(w)
}

/// Reads `learning_rate.csv` text; the error names the line.
pub fn parse_rates(text: &str) -> Result<Vec<RateRecord>, String> {
    let mut rows = rows(text);
    let header = rows
        .headers()
        .map_err(|_| format!("line 1 is not `{RATES_HEADER}`"))?;
    if !header.iter().eq(RATES_HEADER.split(',')) {
        return Err(format!("line 1 is not `{RATES_HEADER}`"));
    }
    rows.records()
        .map(|record| {
            let record = record.map_err(|e| format!("line {} is damaged", line(e.position())))?;
            let n = line(record.position());
            if record.len() != 3 {
                return Err(format!("line {n} is not `{RATES_HEADER}`"));
            }
            record
                .deserialize(None)
                .map_err(|_| format!("line {n} is not `{RATES_HEADER}`"))
        })
        .collect()
}

/// The iteration rows of `metrics.csv` text (with or without `weights_updated`); the error
/// names the line.
pub fn parse_iterations(text: &str) -> Result<Vec<IterationRecord>, String> {
    let mut rows = rows(text);
    let header = rows
        .headers()
        .map_err(|_| format!("line 1 is not `{METRICS_HEADER}`"))?;
    let is = |h: &str| header.iter().eq(h.split(','));
    // Columns of an iteration row: 7, or 6 without `weights_updated`.
    let columns = if is(METRICS_HEADER) {
        7
    } else if is(METRICS_HEADER_V1) {
        6
    } else if header.is_empty() {
        // An empty file: no rows.
        return Ok(Vec::new());
    } else {
        return Err(format!("line 1 is not `{METRICS_HEADER}`"));
    };
    let mut out = Vec::new();
    for record in rows.records() {
        let bad = |line: u64| format!("line {line} is not an iteration row");
        let record = record.map_err(|e| bad(line(e.position())))?;
        if record.get(0) != Some("iteration") {
            continue;
        }
        let n = line(record.position());
        if record.len() != columns || &record[3] != "train" {
            return Err(bad(n));
        }
        let row: MetricsRow = record.deserialize(None).map_err(|_| bad(n))?;
        out.push(IterationRecord {
            epoch: row.epoch,
            iteration: row.iteration.ok_or_else(|| bad(n))?,
            loss: row.loss,
            accuracy: row.accuracy,
            weights_updated: row.weights_updated,
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
        let e = parse_epochs_csv(&format!("{EPOCHS_HEADER}\n1,1,1,1,1,1,1\n2,x,1,1,1,1,1\n"));
        assert!(e.unwrap_err().contains("line 3"));
        let e = parse_iterations(&format!("{METRICS_HEADER}\niteration,1,x,train,1,1\n"));
        assert!(e.unwrap_err().contains("line 2"));
        let e = parse_iterations(&format!(
            "{METRICS_HEADER}\nepoch,1,,train,1,1,\niteration,1,,train,1,1,\n"
        ));
        assert!(e.unwrap_err().contains("line 3"));
        let e = parse_iterations(&format!("{METRICS_HEADER}\niteration,1,1,train,1,1,x\n"));
        assert!(e.unwrap_err().contains("line 2"));
        assert!(parse_iterations("scope,other\n").is_err());
        assert_eq!(parse_iterations(""), Ok(Vec::new()));
    }

    #[test]
    fn floats_are_written_as_display_writes_them() {
        // Integral values and tiny ones: csv's serializer alone would write `1.0` and `1e-7`.
        let r = EpochRecord {
            epoch: 3,
            train_loss: 1.0,
            train_acc: 1e-7,
            valid_loss: 0.1 + 0.2,
            valid_acc: 0.0,
            seconds: 2.0,
            train_seconds: 1.23456,
        };
        let it = IterationRecord {
            epoch: 3,
            iteration: 9,
            loss: 2.5e-12,
            accuracy: 1.0,
            weights_updated: Some(0),
        };
        assert_eq!(
            epochs_csv(std::slice::from_ref(&r)),
            format!("{EPOCHS_HEADER}\n3,1,0.0000001,0.30000000000000004,0,2.000,1.235\n")
        );
        let text = metrics_csv(std::slice::from_ref(&r), std::slice::from_ref(&it));
        assert_eq!(
            text,
            format!(
                "{METRICS_HEADER}\n\
                 epoch,3,,train,1,0.0000001,\n\
                 epoch,3,,valid,0.30000000000000004,0,\n\
                 iteration,3,9,train,0.0000000000025,1,0\n"
            )
        );
        // They read back exactly, seconds to the millisecond.
        assert_eq!(parse_iterations(&text).unwrap(), [it]);
        let back = parse_epochs_csv(&epochs_csv(std::slice::from_ref(&r))).unwrap();
        assert_eq!(
            back,
            [EpochRecord {
                train_seconds: 1.235,
                ..r
            }]
        );
        // No rows: the header alone.
        assert_eq!(epochs_csv(&[]), format!("{EPOCHS_HEADER}\n"));
        assert_eq!(metrics_csv(&[], &[]), format!("{METRICS_HEADER}\n"));
    }

    #[test]
    fn learning_rates_read_back_exactly_and_damage_names_its_line() {
        let rates: Vec<RateRecord> = (1..=4)
            .map(|i| RateRecord {
                epoch: 1 + i / 3,
                iteration: i,
                lr: 1e-3 * 0.7f64.powi(i as i32),
            })
            .collect();
        let text = rates_csv(&rates);
        assert!(
            text.starts_with("epoch,iteration,lr\n1,1,0.0007\n"),
            "{text}"
        );
        assert_eq!(parse_rates(&text).unwrap(), rates);
        assert_eq!(parse_rates(&rates_csv(&[])).unwrap(), []);
        let e = parse_rates("epoch,iteration,lr\n1,1,0.1\n1,2,fast\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let e = parse_rates("epoch,lr\n1,0.1\n").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn metrics_without_weights_updated_are_still_read() {
        let text =
            format!("{METRICS_HEADER_V1}\nepoch,1,,train,0.5,0.75\niteration,1,1,train,0.25,1\n");
        let expected = IterationRecord {
            epoch: 1,
            iteration: 1,
            loss: 0.25,
            accuracy: 1.0,
            weights_updated: None,
        };
        assert_eq!(parse_iterations(&text).unwrap(), [expected]);
        // A row of the newer form under the old header is damaged.
        let e = parse_iterations(&format!(
            "{METRICS_HEADER_V1}\niteration,1,1,train,0.25,1,7\n"
        ));
        assert!(e.unwrap_err().contains("line 2"));
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
