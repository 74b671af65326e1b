//! How `mnist sweep` looks: one fixed-width line per point as it starts and ends, then the
//! points ranked by validation accuracy.

use std::fmt::Write as _;

use mnist_trainer::run::plan::display_path;
use mnist_trainer::sweep::summary::{self, SweepRow};
use mnist_trainer::sweep::{Action, Event, SweepOutcome};

/// Run names up to this wide keep the columns aligned.
const NAME: usize = 40;

pub const HEADER: &str =
    "point                                     state        best_valid  seconds";

fn line(run: &str, state: &str, accuracy: Option<f64>, seconds: Option<f64>) -> String {
    let accuracy = accuracy.map_or("–".to_string(), |a| format!("{:.2}%", 100.0 * a));
    let seconds = seconds.map_or("–".to_string(), |s| format!("{s:.1}"));
    format!("{run:<NAME$}  {state:<11}  {accuracy:>10}  {seconds:>7}")
}

/// The line of one event (a failure's reason on a second, indented line).
pub fn event(event: &Event) -> String {
    match event {
        Event::Skipped { row } => line(&row.run, "skipped", row.best_valid_accuracy, None),
        Event::Started { run, action } => {
            let state = match action {
                Action::Resume => "resuming",
                Action::Restart => "restarting",
                Action::Start | Action::Skip => "training",
            };
            line(run, state, None, None)
        }
        Event::Finished { row, seconds } => line(
            &row.run,
            "finished",
            row.best_valid_accuracy,
            Some(*seconds),
        ),
        Event::Stopped { row, seconds } => {
            line(&row.run, "stopped", row.best_valid_accuracy, Some(*seconds))
        }
        Event::Failed {
            run,
            why,
            log,
            seconds,
        } => format!(
            "{}\n    {why} (log: {})",
            line(run, "failed", None, Some(*seconds)),
            display_path(log)
        ),
    }
}

/// The points, best first (by the best epoch's validation accuracy), as a Markdown table, and
/// where the sweep's files are.
pub fn done(outcome: &SweepOutcome) -> String {
    let mut s = String::new();
    let keys: Vec<&str> = outcome
        .rows
        .first()
        .map(|r| r.values.iter().map(|v| v.key.as_str()).collect())
        .unwrap_or_default();
    let _ = write!(s, "\n| run |");
    for k in &keys {
        let _ = write!(s, " {k} |");
    }
    let _ = writeln!(
        s,
        " epochs | best valid acc. | final valid acc. | test acc. | final train loss | seconds |"
    );
    let _ = writeln!(
        s,
        "|---|{}---:|---:|---:|---:|---:|---:|",
        "---:|".repeat(keys.len())
    );
    let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.2}%", 100.0 * v));
    for r in summary::ranked(&outcome.rows) {
        let _ = write!(s, "| {} |", r.run);
        for v in &r.values {
            let _ = write!(s, " {} |", v.text);
        }
        let _ = writeln!(
            s,
            " {} | {} | {} | {} | {} | {:.1} |",
            epochs(r),
            pct(r.best_valid_accuracy),
            pct(r.final_valid_accuracy),
            pct(r.test_accuracy),
            r.final_train_loss
                .map_or("–".to_string(), |l| format!("{l:.4}")),
            r.seconds
        );
    }
    let _ = writeln!(
        s,
        "\nsweep      {} (sweep.csv, figures, points' configs and logs)",
        display_path(outcome.dir.path())
    );
    s
}

/// `12`, or `3 (interrupted)` for a point that has not finished.
fn epochs(r: &SweepRow) -> String {
    match r.state {
        Some(mnist_trainer::run::dir::RunState::Finished) => r.epochs.to_string(),
        state => format!("{} ({})", r.epochs, summary::state_name(state)),
    }
}

/// The error that ends a sweep with failed points.
pub fn failures(outcome: &SweepOutcome) -> String {
    let mut s = format!(
        "{} of {} points failed:",
        outcome.failures.len(),
        outcome.rows.len()
    );
    for f in &outcome.failures {
        let _ = write!(
            s,
            "\n  {}: {} (log: {})",
            f.run,
            f.why,
            display_path(&f.log)
        );
    }
    s
}
