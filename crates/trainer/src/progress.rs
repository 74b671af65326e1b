//! What a training run prints, and the per-epoch record it keeps.
//!
//! On a terminal: a live progress line per epoch, replaced by the epoch's summary line when it
//! ends. Otherwise (CI, `> log`, `| tee`): only the summary lines, fixed width, no escape codes.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

/// One finished epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    /// Fraction in [0, 1].
    pub train_acc: f64,
    pub valid_loss: f64,
    pub valid_acc: f64,
    /// Wall time of the epoch, training and validation.
    pub seconds: f64,
    /// Wall time of the training pass alone.
    pub train_seconds: f64,
}

pub const HEADER: &str = "epoch  train_loss  train_acc  valid_loss  valid_acc  seconds";

impl EpochRecord {
    /// The fixed-width line printed per epoch, aligned with [`HEADER`].
    pub fn line(&self, total_epochs: usize) -> String {
        let epoch = format!("{}/{}", self.epoch, total_epochs);
        format!(
            "{epoch:>5}  {:>10.4}  {:>8.2}%  {:>10.4}  {:>8.2}%  {:>7.1}",
            self.train_loss,
            100.0 * self.train_acc,
            self.valid_loss,
            100.0 * self.valid_acc,
            self.seconds
        )
    }
}

/// The live progress line on a terminal; nothing at all otherwise.
pub struct Console {
    terminal: bool,
    last_draw: Option<Instant>,
}

impl Default for Console {
    fn default() -> Self {
        Self {
            terminal: std::io::stdout().is_terminal(),
            last_draw: None,
        }
    }
}

impl Console {
    /// Redraws the progress line, at most every 100 ms (and always at the end of a split).
    #[allow(clippy::too_many_arguments)]
    pub fn progress(
        &mut self,
        epoch: usize,
        total_epochs: usize,
        split: &str,
        done: usize,
        total: usize,
        loss: f64,
        accuracy: f64,
    ) {
        if !self.terminal {
            return;
        }
        let now = Instant::now();
        if self
            .last_draw
            .is_some_and(|t| now - t < Duration::from_millis(100))
            && done < total
        {
            return;
        }
        self.last_draw = Some(now);
        let width = 30;
        let filled = (done * width) / total.max(1);
        let bar: String = "#".repeat(filled) + &" ".repeat(width - filled);
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "\r\x1b[2Kepoch {epoch}/{total_epochs} {split:<5} [{bar}] {done}/{total} loss {loss:.4} acc {:.2}%",
            100.0 * accuracy
        );
        let _ = out.flush();
    }

    /// Prints a finished epoch's line (replacing the progress line on a terminal).
    pub fn epoch_line(&mut self, record: &EpochRecord, total_epochs: usize) {
        if self.terminal {
            print!("\r\x1b[2K");
        }
        println!("{}", record.line(total_epochs));
        self.last_draw = None;
    }
}

/// Called with each finished epoch (to persist it before the next one starts).
pub type EpochSink = Box<dyn FnMut(&EpochRecord) + Send + Sync>;

/// A burn `MetricsRenderer` that prints as described above and hands each epoch to a sink.
pub struct EpochPrinter {
    names: HashMap<MetricId, String>,
    finals: HashMap<(bool, String), f64>,
    total_epochs: usize,
    /// The epoch in progress, 1-based.
    epoch: usize,
    epoch_start: Instant,
    split: String,
    split_total: usize,
    // Running means of the current training epoch, for the live line.
    running: HashMap<String, (f64, usize)>,
    train_seconds: f64,
    console: Console,
    sink: EpochSink,
    pub records: Arc<Mutex<Vec<EpochRecord>>>,
}

impl EpochPrinter {
    pub fn new(sink: EpochSink) -> Self {
        Self {
            names: HashMap::new(),
            finals: HashMap::new(),
            total_epochs: 0,
            epoch: 1,
            epoch_start: Instant::now(),
            split: String::new(),
            split_total: 0,
            running: HashMap::new(),
            train_seconds: f64::NAN,
            console: Console::default(),
            sink,
            records: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn record(&mut self, state: MetricState, train: bool) {
        let MetricState::Numeric(entry, Some(value)) = state else {
            return;
        };
        let Some(name) = self.names.get(&entry.metric_id).cloned() else {
            return;
        };
        match value {
            NumericEntry::Final(v) => {
                self.finals.insert((train, name), v);
            }
            NumericEntry::Aggregated {
                aggregated_value,
                count,
            } if train => {
                let slot = self.running.entry(name).or_insert((0.0, 0));
                slot.0 += aggregated_value * count as f64;
                slot.1 += count;
            }
            _ => {}
        }
    }

    fn final_value(&self, train: bool, name: &str) -> f64 {
        self.finals
            .get(&(train, name.to_string()))
            .copied()
            .unwrap_or(f64::NAN)
    }

    fn draw_progress(&mut self, items: usize) {
        let mean = |name: &str| {
            self.running
                .get(name)
                .map_or(f64::NAN, |(sum, n)| sum / (*n).max(1) as f64)
        };
        let (loss, accuracy) = (mean("Loss"), mean("Accuracy") / 100.0);
        self.console.progress(
            self.epoch,
            self.total_epochs,
            &self.split,
            items,
            self.split_total,
            loss,
            accuracy,
        );
    }
}

impl MetricsRendererTraining for EpochPrinter {
    fn update_train(&mut self, state: MetricState) {
        self.record(state, true);
    }
    fn update_valid(&mut self, state: MetricState) {
        self.record(state, false);
    }
    fn on_train_end(
        &mut self,
        _summary: Option<burn::train::LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

impl TrainingProgressLogger for EpochPrinter {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _: Option<usize>,
        _: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch;
        println!("{HEADER}");
    }

    fn update_epoch(&mut self, epoch: usize) {
        let record = EpochRecord {
            epoch,
            train_loss: self.final_value(true, "Loss"),
            train_acc: self.final_value(true, "Accuracy") / 100.0,
            valid_loss: self.final_value(false, "Loss"),
            valid_acc: self.final_value(false, "Accuracy") / 100.0,
            seconds: self.epoch_start.elapsed().as_secs_f64(),
            train_seconds: self.train_seconds,
        };
        self.console.epoch_line(&record, self.total_epochs);
        (self.sink)(&record);
        if let Ok(mut records) = self.records.lock() {
            records.push(record);
        }
        self.finals.clear();
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        if split == "train" {
            self.epoch_start = Instant::now();
            self.running.clear();
        } else {
            self.train_seconds = self.epoch_start.elapsed().as_secs_f64();
        }
        self.split = split.to_string();
        self.split_total = total_items;
    }

    fn update_split(&mut self, items_processed: usize) {
        self.draw_progress(items_processed);
    }

    fn end_split(&mut self) {}

    fn end(&mut self) {}

    fn log_event_training(&mut self, _event: String) {}
}

impl MetricsRendererEvaluation for EpochPrinter {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl EvaluationProgressLogger for EpochPrinter {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for EpochPrinter {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
    }
}
