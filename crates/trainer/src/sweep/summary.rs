//! What a sweep found: one row per point, read from its run directory, and `sweep.csv`.

use serde::Serialize;

use crate::run::dir::{RunDir, RunState};
use crate::sweep::spec::{PointSpec, value_text};

/// A swept key's value at a point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweptValue {
    pub key: String,
    /// As plain text (`0.001`, `adam`).
    pub text: String,
    /// The value as a number, where it is one (for the figures' axes).
    pub number: Option<f64>,
}

/// One point of a sweep as its run stands. Accuracies are fractions; `None` where the run has
/// not got that far.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepRow {
    pub run: String,
    pub values: Vec<SweptValue>,
    /// `None`: no run directory yet, or one that cannot be read.
    pub state: Option<RunState>,
    pub epochs: usize,
    /// The best epoch's validation accuracy.
    pub best_valid_accuracy: Option<f64>,
    /// The last epoch's validation accuracy.
    pub final_valid_accuracy: Option<f64>,
    /// The final weights' test accuracy (`RunDir::test_accuracy`: the run's outcome).
    pub test_accuracy: Option<f64>,
    pub final_train_loss: Option<f64>,
    /// Wall time of the recorded epochs (training and validation), summed.
    pub seconds: f64,
}

/// The row of `point`, whose run is `run`.
pub fn row(run: &RunDir, point: &PointSpec) -> SweepRow {
    let values = point
        .values
        .iter()
        .map(|(key, value)| SweptValue {
            key: key.clone(),
            text: value_text(value),
            number: match value {
                toml::Value::Integer(i) => Some(*i as f64),
                toml::Value::Float(f) => Some(*f),
                _ => None,
            },
        })
        .collect();
    let mut row = SweepRow {
        run: point.run.clone(),
        values,
        state: None,
        epochs: 0,
        best_valid_accuracy: None,
        final_valid_accuracy: None,
        test_accuracy: None,
        final_train_loss: None,
        seconds: 0.0,
    };
    let (Ok(plan), Ok(epochs)) = (run.plan(), run.epochs()) else {
        return row;
    };
    row.state = Some(run.state(&plan, epochs.len()));
    row.epochs = epochs.len();
    row.best_valid_accuracy = epochs.iter().map(|e| e.valid_acc).reduce(f64::max);
    row.final_valid_accuracy = epochs.last().map(|e| e.valid_acc);
    row.test_accuracy = run.test_accuracy(&epochs);
    row.final_train_loss = epochs.last().map(|e| e.train_loss);
    row.seconds = epochs.iter().map(|e| e.seconds).sum();
    row
}

/// The rows best first: by the best epoch's validation accuracy, points without one last, in
/// their order.
pub fn ranked(rows: &[SweepRow]) -> Vec<&SweepRow> {
    let mut ranked: Vec<&SweepRow> = rows.iter().collect();
    ranked.sort_by(|a, b| {
        let key = |r: &SweepRow| r.best_valid_accuracy.unwrap_or(f64::NEG_INFINITY);
        key(b).total_cmp(&key(a))
    });
    ranked
}

/// `finished` / `interrupted` / … as `RunState` is written in JSON; `missing` for no run.
pub fn state_name(state: Option<RunState>) -> &'static str {
    match state {
        Some(RunState::Finished) => "finished",
        Some(RunState::Training) => "training",
        Some(RunState::Interrupted) => "interrupted",
        Some(RunState::Stopped) => "stopped",
        Some(RunState::Queued) => "queued",
        Some(RunState::Broken) => "broken",
        None => "missing",
    }
}

/// `sweep.csv`: one row per point, in the sweep's order: run, each swept key's value, state,
/// epochs, accuracies (fractions), final training loss, seconds; empty where a run has none.
pub fn csv(rows: &[SweepRow]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let keys: Vec<&str> = rows
        .first()
        .map(|r| r.values.iter().map(|v| v.key.as_str()).collect())
        .unwrap_or_default();
    let mut header = vec!["run"];
    header.extend(&keys);
    header.extend([
        "state",
        "epochs",
        "best_valid_accuracy",
        "final_valid_accuracy",
        "test_accuracy",
        "final_train_loss",
        "seconds",
    ]);
    w.write_record(&header).expect("writing to memory");
    let number = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    for r in rows {
        let mut record = vec![r.run.clone()];
        record.extend(r.values.iter().map(|v| v.text.clone()));
        record.extend([
            state_name(r.state).to_string(),
            r.epochs.to_string(),
            number(r.best_valid_accuracy),
            number(r.final_valid_accuracy),
            number(r.test_accuracy),
            number(r.final_train_loss),
            format!("{:.3}", r.seconds),
        ]);
        w.write_record(&record).expect("writing to memory");
    }
    let bytes = w.into_inner().expect("writing to memory");
    String::from_utf8(bytes).expect("the fields are UTF-8")
}
