//! What a finished run gets beyond its weights and metrics: test-set predictions, the confusion
//! matrix, every figure and `report.html`, all derived from the saved files (so `mnist report`
//! can redo them without retraining).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use burn::prelude::*;
use mnist_data::{NUM_CLASSES, Split};
use mnist_models::Model;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::config::RunConfig;
use crate::eval::evaluate_split;
use crate::figures;
use crate::fsutil::atomic_write;
use crate::metrics;
use crate::progress::EpochRecord;
use crate::scratch::{TEST_BATCH, write_test_batches};

pub const REPORT_HTML: &str = "report.html";
pub const RUN_INFO: &str = "run.toml";
pub const CONFUSION_CSV: &str = "confusion.csv";

/// Where and how a run was trained, for the report.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunInfo {
    pub backend: String,
    pub device: String,
    /// mnist's version and the burn version it was built with.
    pub program: String,
}

impl RunInfo {
    pub fn new(backend: &crate::backend::Backend) -> Self {
        Self {
            backend: backend.name.to_string(),
            device: format!("{:?}", backend.device),
            program: format!("mnist {} (burn 0.22)", env!("CARGO_PKG_VERSION")),
        }
    }

    pub fn save(&self, run_dir: &Path) -> Result<(), Error> {
        let text = toml::to_string(self).expect("RunInfo serialises");
        atomic_write(&run_dir.join(RUN_INFO), text.as_bytes())
    }

    /// The run's `run.toml`; an empty record if it has none.
    pub fn load(run_dir: &Path) -> Self {
        std::fs::read_to_string(run_dir.join(RUN_INFO))
            .ok()
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default()
    }
}

/// Writes `test_batches.csv`, `confusion.csv`, every figure that applies to the model, and
/// `report.html`.
pub fn write_outputs(
    run_dir: &Path,
    config: &RunConfig,
    model: &Model,
    train: &Arc<Split>,
    test: &Arc<Split>,
    device: &Device,
) -> Result<(), Error> {
    let epochs = metrics::read_epochs(run_dir)?;
    let iterations = metrics::read_iterations(run_dir, epochs.len())?;
    let (test_loss, correct, predictions) = evaluate_split(model, test.clone(), device);
    let test_batches = write_test_batches(run_dir, test.labels(), &predictions)?;
    let confusion = write_confusion(
        run_dir,
        test.labels(),
        &predictions,
        "Confusion matrix of the test set (final model)",
        figures::CONFUSION_PNG,
    )?;
    figures::samples_grid(train, &run_dir.join(figures::SAMPLES_PNG))?;
    figures::predictions_panel(test, &predictions, &run_dir.join(figures::PREDICTIONS_PNG))?;
    figures::training_curves(
        &iterations,
        config.batch_size,
        &test_batches,
        TEST_BATCH,
        &run_dir.join(figures::CURVES_PNG),
    )?;
    figures::epoch_curves(&epochs, &run_dir.join(figures::EPOCHS_PNG))?;
    match model {
        Model::Linear(linear) => {
            figures::linear_weights(&linear.weights_vec(), &run_dir.join(figures::WEIGHTS_PNG))?
        }
        Model::Mlp(mlp) => {
            let values = |t: Tensor<2>| {
                t.into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .expect("converted to f32")
            };
            let hidden = mlp.hidden.weight.dims()[1];
            figures::hidden_units(
                &values(mlp.hidden.weight.val()),
                &values(mlp.output.weight.val()),
                hidden,
                &run_dir.join(figures::HIDDEN_PNG),
            )?
        }
    }
    let summary = TestSummary {
        loss: test_loss,
        correct,
        total: test.len(),
        confusion,
    };
    write_html(run_dir, config, model, &epochs, &summary)
}

/// The confusion matrix as CSV (rows: true class, columns: predicted) and as a figure.
pub fn write_confusion(
    run_dir: &Path,
    labels: &[u8],
    predictions: &[u8],
    title: &str,
    png: &str,
) -> Result<[[usize; NUM_CLASSES]; NUM_CLASSES], Error> {
    let m = figures::confusion_matrix(labels, predictions);
    let mut csv = String::from("true\\predicted");
    for p in 0..NUM_CLASSES {
        let _ = write!(csv, ",{p}");
    }
    csv.push('\n');
    for (t, row) in m.iter().enumerate() {
        let _ = write!(csv, "{t}");
        for c in row {
            let _ = write!(csv, ",{c}");
        }
        csv.push('\n');
    }
    let csv_name = png.replace(".png", ".csv");
    atomic_write(&run_dir.join(csv_name), csv.as_bytes())?;
    figures::confusion_figure(&m, title, &run_dir.join(png))?;
    Ok(m)
}

struct TestSummary {
    loss: f64,
    correct: usize,
    total: usize,
    confusion: [[usize; NUM_CLASSES]; NUM_CLASSES],
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The figures the report shows, in order, with captions; only those present are linked.
const FIGURES: [(&str, &str); 7] = [
    (
        figures::EPOCHS_PNG,
        "Loss and accuracy per epoch, training and validation (the test set).",
    ),
    (
        figures::CURVES_PNG,
        "Per-iteration NLL of the correct class and correct per batch, with moving averages; correct per test batch of 50.",
    ),
    (
        figures::CONFUSION_PNG,
        "Confusion matrix of the test set: counts, colour by row-normalised rate; per-class accuracy, precision and recall.",
    ),
    (
        figures::PREDICTIONS_PNG,
        "Correctly classified and misclassified test images.",
    ),
    (
        figures::WEIGHTS_PNG,
        "The 784 input weights of each output neuron as 28×28 heatmaps.",
    ),
    (
        figures::HIDDEN_PNG,
        "For each digit, the input weights of the hidden unit with the largest weight into it.",
    ),
    (figures::SAMPLES_PNG, "Ten training images of each digit."),
];

fn write_html(
    run_dir: &Path,
    config: &RunConfig,
    model: &Model,
    epochs: &[EpochRecord],
    test: &TestSummary,
) -> Result<(), Error> {
    let info = RunInfo::load(run_dir);
    let name = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let config_text = std::fs::read_to_string(run_dir.join(crate::run::CONFIG_FILE))
        .unwrap_or_else(|_| config.to_toml());
    let model_text = match model {
        Model::Linear(_) => "linear softmax, 785×10 weights (bias as row 0)".to_string(),
        Model::Mlp(m) => format!(
            "MLP 784-{}({:?})-10",
            m.hidden.weight.dims()[1],
            m.activation
        )
        .to_lowercase(),
    };
    let total_seconds: f64 = epochs.iter().map(|e| e.seconds).sum();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Run {name}</title>\n<style>\
         body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}\
         table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}\
         th{{background:#f3f3f3}}td.l,th.l{{text-align:left}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}\
         figure{{margin:1.5em 0}}img{{max-width:100%;border:1px solid #ddd}}figcaption{{color:#555}}</style></head><body>\n"
    );
    let _ = writeln!(h, "<h1>Run <code>{}</code></h1>", escape(&name));
    let _ = writeln!(h, "<table><tbody>");
    let rows = [
        (
            "test accuracy",
            format!(
                "<b>{:.2}%</b> ({}/{})",
                100.0 * test.correct as f64 / test.total.max(1) as f64,
                test.correct,
                test.total
            ),
        ),
        ("test loss", format!("{:.4}", test.loss)),
        ("model", escape(&model_text)),
        ("trainer", format!("{:?}", config.trainer).to_lowercase()),
        ("epochs", epochs.len().to_string()),
        (
            "time",
            format!(
                "{total_seconds:.1} s in all, {:.2} s per epoch",
                total_seconds / epochs.len().max(1) as f64
            ),
        ),
        ("backend", escape(&info.backend)),
        ("device", escape(&info.device)),
        ("data", escape(&config.data.display().to_string())),
        ("program", escape(&info.program)),
    ];
    for (k, v) in rows {
        let _ = writeln!(
            h,
            "<tr><th class=\"l\">{k}</th><td class=\"l\">{v}</td></tr>"
        );
    }
    let _ = writeln!(h, "</tbody></table>");
    let _ = writeln!(
        h,
        "<h2>Per epoch</h2><table><thead><tr><th>epoch</th><th>train loss</th><th>train accuracy</th>\
        <th>valid loss</th><th>valid accuracy</th><th>seconds</th><th>training seconds</th></tr></thead><tbody>"
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
        "<h2>Per class (test set)</h2><table><thead><tr><th>class</th><th>accuracy</th><th>precision</th><th>recall</th><th>images</th></tr></thead><tbody>"
    );
    for (c, (acc, prec, rec)) in figures::per_class(&test.confusion).into_iter().enumerate() {
        let n: usize = test.confusion[c].iter().sum();
        let _ = writeln!(
            h,
            "<tr><td>{c}</td><td>{:.2}%</td><td>{:.2}%</td><td>{:.2}%</td><td>{n}</td></tr>",
            100.0 * acc,
            100.0 * prec,
            100.0 * rec
        );
    }
    let _ = writeln!(h, "</tbody></table>\n<h2>Figures</h2>");
    for (file, caption) in FIGURES {
        if run_dir.join(file).exists() {
            let _ = writeln!(
                h,
                "<figure><img src=\"{file}\" alt=\"{file}\"><figcaption>{caption}</figcaption></figure>"
            );
        }
    }
    let _ = writeln!(
        h,
        "<h2>Configuration (<code>config.toml</code>)</h2><pre>{}</pre>",
        escape(&config_text)
    );
    let _ = writeln!(h, "</body></html>");
    atomic_write(&run_dir.join(REPORT_HTML), h.as_bytes())
}

/// `mnist report RUN`: figures and report again from the run's saved files, without training.
pub fn regenerate(run_dir: &Path, backend: &crate::backend::Backend) -> Result<(), Error> {
    let (config, model, _) = crate::eval::load_run_model(run_dir, None, &backend.device)?;
    let data = mnist_data::load(Some(&config.data))?;
    write_outputs(
        run_dir,
        &config,
        &model,
        &Arc::new(data.train),
        &Arc::new(data.test),
        &backend.device,
    )
}
