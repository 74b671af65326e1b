//! `report.html`: one self-contained page per run (config, final metrics, per-epoch and
//! per-class tables, every figure); it opens from the file system, no server, no network.

use std::fmt::Write as _;

use mnist_models::{ModelSummary, grouped, shape_text};
use mnist_trainer::run::config::Validation;
use mnist_trainer::run::dir::{Figure, RunDir};
use mnist_trainer::run::metrics::EpochRecord;
use mnist_trainer::run::plan::Plan;
use mnist_trainer::training::evaluate::SplitEvaluation;

use crate::stats::{ConfusionMatrix, per_class};

/// The start of a page in the report's style, up to and including `<body>`.
pub fn head(title: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>{STYLE}</style></head><body>\n"
    );
    h
}

/// A whole page in the report's style.
pub fn page(title: &str, body: &str) -> String {
    format!("{}{body}\n</body></html>\n", head(&escape(title)))
}

/// The report's style sheet.
pub const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th{background:#f3f3f3}td.l,th.l{text-align:left}pre{background:#f6f6f6;padding:1em;overflow:auto}\
figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}figcaption{color:#555}";

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What each figure shows, under it in the report.
fn caption(figure: Figure) -> &'static str {
    match figure {
        Figure::Epochs => {
            "Loss and accuracy per epoch, training and validation (the test set, or the hold-out where the run has one)."
        }
        Figure::TrainingCurves => {
            "Per-iteration NLL of the correct class and correct per batch, with moving averages; correct per test batch of 50."
        }
        Figure::Confusion => {
            "Confusion matrix of the test set: counts, colour by row-normalised rate; per-class recall (the accuracy on the class) and precision."
        }
        Figure::Predictions => "Correctly classified and misclassified test images.",
        Figure::Weights => "The 784 input weights of each output neuron as 28×28 heatmaps.",
        Figure::HiddenUnits => {
            "For each digit, the input weights of the hidden unit with the largest weight into it."
        }
        Figure::Samples => "Ten training images of each digit.",
        Figure::Filters => "The first convolution's filters: what each of its channels looks for.",
        Figure::FeatureMaps => {
            "The first convolution's output for a few test images: where each filter responds."
        }
        Figure::LearningRate => {
            "The learning rate each training step used ([scheduler]); orange lines are epoch boundaries."
        }
        Figure::Augmented => {
            "What the model trains on ([augment]): one training image per digit as stored, then as the first epochs distort it."
        }
        Figure::WeightsEvolution => {
            "The weights forming: the snapshots taken at log-spaced steps and every epoch's end, \
             each frame on its own colour scale."
        }
        Figure::NllVsUpdates => {
            "The course's Figure 6: each training step's NLL of the correct class against the \
             number of weights it changed, coloured from the first iteration to the last."
        }
    }
}

/// A model's layers as an HTML section: layer, output shape per image, parameters, and the
/// total (the report shows it, and the web app's run page before a report exists).
pub fn model_table(summary: &ModelSummary) -> String {
    let mut h = String::from(
        "<section id=\"model\"><h2>Model</h2><table><thead><tr><th class=\"l\">layer</th>\
         <th class=\"l\">output</th><th>parameters</th></tr></thead><tbody>\n",
    );
    for l in &summary.layers {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td></tr>",
            escape(&l.layer),
            shape_text(&l.output),
            grouped(l.params)
        );
    }
    let _ = writeln!(
        h,
        "<tr><th class=\"l\">in all</th><td></td><th>{}</th></tr></tbody></table></section>",
        grouped(summary.params())
    );
    h
}

/// The page's HTML.
pub(crate) fn report(
    run: &RunDir,
    plan: &Plan,
    epochs: &[EpochRecord],
    test: &SplitEvaluation,
    confusion: &ConfusionMatrix,
) -> String {
    let info = run.info();
    let name = run.name();
    let config_text = run
        .config_text()
        .or_else(|| plan.to_config(run.path()).to_toml().ok())
        .unwrap_or_default();
    let model_text = plan.model().description();
    let total_seconds: f64 = epochs.iter().map(|e| e.seconds).sum();
    let last = epochs.last().map_or(0, |e| e.epoch);
    // Runs from before outcomes were recorded trained every epoch and kept the last.
    let (stopped, weights) = match &info.outcome {
        Some(o) => (
            o.stopped.clone(),
            format!("epoch {} ({})", o.model_epoch, o.model_chosen),
        ),
        None => (
            format!("after epoch {last}"),
            format!("epoch {last} (the last epoch)"),
        ),
    };
    let valid = match plan.validation() {
        Validation::Test => "test set",
        Validation::Holdout(_) => "hold-out",
    };
    let mut h = head(&format!("Run {}", escape(&name)));
    let _ = writeln!(h, "<h1>Run <code>{}</code></h1>", escape(&name));
    let _ = writeln!(h, "<table><tbody>");
    let rows = [
        (
            "test accuracy",
            format!(
                "<b>{:.2}%</b> ({}/{})",
                100.0 * test.accuracy(),
                test.correct,
                test.total
            ),
        ),
        ("test loss", format!("{:.4}", test.loss)),
        ("model", escape(&model_text)),
        (
            "trainer",
            format!("{:?}", plan.trainer().kind()).to_lowercase(),
        ),
        ("training", escape(&plan.describe_training())),
        ("validated on", escape(&plan.describe_validation())),
        ("epochs", epochs.len().to_string()),
        (
            "time",
            format!(
                "{total_seconds:.1} s in all, {:.2} s per epoch",
                total_seconds / epochs.len().max(1) as f64
            ),
        ),
        ("stopped", escape(&stopped)),
        ("weights", escape(&weights)),
        ("backend", escape(&info.backend)),
        ("device", escape(&info.device)),
        ("data", escape(&plan.data().display().to_string())),
        ("program", escape(&info.program)),
    ];
    for (k, v) in rows {
        let _ = writeln!(
            h,
            "<tr><th class=\"l\">{k}</th><td class=\"l\">{v}</td></tr>"
        );
    }
    let _ = writeln!(h, "</tbody></table>");
    h.push_str(&model_table(&plan.model_summary()));
    let _ = writeln!(
        h,
        "<h2>Per epoch</h2><table><thead><tr><th>epoch</th><th>train loss</th><th>train accuracy</th>\
        <th>valid loss ({valid})</th><th>valid accuracy ({valid})</th><th>seconds</th><th>training seconds</th></tr></thead><tbody>"
    );
    for e in epochs {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{:.4}</td><td>{:.2}%</td><td>{:.4}</td><td>{:.2}%</td><td>{:.2}</td><td>{:.2}</td></tr>",
            e.epoch,
            e.train_loss,
            100.0 * e.train_acc,
            e.valid_loss,
            100.0 * e.valid_acc,
            e.seconds,
            e.train_seconds
        );
    }
    let _ = writeln!(h, "</tbody></table>");
    let _ = writeln!(
        h,
        "<h2>Per class (test set)</h2><table><thead><tr><th>class</th><th>recall (accuracy on the class)</th><th>precision</th><th>images</th></tr></thead><tbody>"
    );
    for (c, class) in per_class(confusion).into_iter().enumerate() {
        let _ = writeln!(
            h,
            "<tr><td>{c}</td><td>{:.2}%</td><td>{:.2}%</td><td>{}</td></tr>",
            100.0 * class.recall,
            100.0 * class.precision,
            class.images
        );
    }
    let _ = writeln!(h, "</tbody></table>\n<h2>Figures</h2>");
    for figure in Figure::ALL {
        if run.figure(figure).exists() {
            let (file, caption) = (figure.file_name(), caption(figure));
            let _ = writeln!(
                h,
                "<figure><img src=\"{file}\" alt=\"{file}\"><figcaption>{caption}</figcaption></figure>"
            );
        }
    }
    let _ = writeln!(
        h,
        "<h2>Configuration (<code>{}</code>)</h2><pre>{}</pre>",
        escape(
            &run.config_file()
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
        ),
        escape(&config_text)
    );
    let _ = writeln!(h, "</body></html>");
    h
}
