//! Everything `mnist` prints, in one place: the library crates return values (a bench report, a
//! gradient check, a data summary, predictions, …) and the functions here turn them into the
//! lines of text, or JSON where a command has `--json`. How training looks while it runs (the
//! observer of a run, progress bar on a terminal) is [`console`].

pub mod console;
pub mod sweep;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use mnist_bench::gemm::GemmFigures;
use mnist_bench::speed::BenchReport;
use mnist_bench::sweep::SweepRow;
use mnist_data::NUM_CLASSES;
use mnist_data::summary::DataSummary;
use mnist_infer::export::Exported;
use mnist_infer::predict::Prediction;
use mnist_models::{ModelSummary, grouped, shape_text};
use mnist_report::Evaluation;
use mnist_trainer::Error;
use mnist_trainer::backend::Backend;
use mnist_trainer::gradcheck::{GradcheckReport, H, MAX_ABS_ERROR, MAX_REL_ERROR, REL_FLOOR};
use mnist_trainer::run::config::Validation;
use mnist_trainer::run::plan::display_path;
use mnist_trainer::training::train::TrainOutcome;

/// A model's layers as an indented table: layer, output shape per image, parameters.
pub fn model_layers(summary: &ModelSummary) -> String {
    let mut out = String::new();
    let width = summary
        .layers
        .iter()
        .map(|l| l.layer.chars().count())
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "  {:<width$}  {:<14}  {:>10}",
        "layer", "output", "params"
    );
    for l in &summary.layers {
        let _ = writeln!(
            out,
            "  {:<width$}  {:<14}  {:>10}",
            l.layer,
            shape_text(&l.output),
            grouped(l.params)
        );
    }
    out
}

/// Peak memory for humans: `172 MB`.
fn peak_rss(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{:.0} MB", b as f64 / 1e6),
        None => "n/a (no /proc/self/status)".to_string(),
    }
}

/// `mnist data info`: the source, its format, both splits' class counts and pixel range, and what
/// loading it took (`peak`: this process's peak memory after the load).
pub fn data_summary(summary: &DataSummary, peak: Option<u64>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "source     {}", summary.source.display());
    let _ = writeln!(s, "format     {}", summary.format.describe());
    if let Some(sha) = summary.verified_sha256 {
        let _ = writeln!(s, "sha256     {sha} (verified)");
    }
    let _ = write!(s, "{:<7}{:>7}", "split", "total");
    for d in 0..NUM_CLASSES {
        let _ = write!(s, "{d:>6}");
    }
    let _ = writeln!(s, "{:>6}{:>6}{:>9}", "min", "max", "mean");
    for split in &summary.splits {
        let _ = write!(s, "{:<7}{:>7}", split.name, split.total);
        for c in split.class_counts {
            let _ = write!(s, "{c:>6}");
        }
        let _ = writeln!(s, "{:>6}{:>6}{:>9.3}", split.min, split.max, split.mean);
    }
    let _ = writeln!(s, "load time  {:.3} s", summary.load_seconds);
    let _ = writeln!(s, "peak RSS   {}", peak_rss(peak));
    s
}

/// The line after a finished `mnist train` (none for a run of no epochs).
///
/// `done       test accuracy 97.95% after 6 epochs; run directory …`, with what differs from
/// the course's runs said: which epoch's weights were kept and why, that the test set was
/// evaluated once (a hold-out run), why training stopped early.
pub fn trained(outcome: &TrainOutcome) -> Option<String> {
    let o = &outcome.outcome;
    let last = outcome.epochs.last()?;
    let mut notes = Vec::new();
    if o.model_epoch != last.epoch {
        notes.push(format!(
            "epoch {}'s weights, {}",
            o.model_epoch, o.model_chosen
        ));
    }
    if outcome.plan.validation() != Validation::Test {
        notes.push(format!(
            "evaluated once; epochs validated on the {}",
            o.validated_on
        ));
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    let stopped = if last.epoch < outcome.plan.epochs() {
        format!("; {}", o.stopped)
    } else {
        String::new()
    };
    Some(format!(
        "done       test accuracy {:.2}%{notes} after {} epochs{stopped}; run directory {}",
        100.0 * o.test_accuracy,
        last.epoch,
        display_path(outcome.run.path())
    ))
}

/// `file: 7 (98.12%)  2 (1.02%)  3 (0.40%)`
pub fn prediction_line(p: &Prediction) -> String {
    let top: Vec<String> = p
        .top
        .iter()
        .map(|(c, p)| format!("{c} ({:.2}%)", 100.0 * p))
        .collect();
    format!("{}: {}", p.file.display(), top.join("  "))
}

/// `mnist predict --json`: one object per image, the web app's predict API's shape.
pub fn prediction_json(p: &Prediction) -> String {
    serde_json::to_string(p).expect("numbers and strings serialize")
}

/// `mnist predict --json`'s line for an image that failed.
pub fn prediction_error_json(file: &Path, error: &Error) -> String {
    serde_json::json!({"file": file.display().to_string(), "error": error.to_string()}).to_string()
}

/// `mnist eval`: the weights, the backend, loss, accuracy and the confusion matrix written.
pub fn evaluation(e: &Evaluation, backend: &Backend) -> String {
    format!(
        "weights    {}\nbackend    {}\ntest loss  {:.4}\naccuracy   {:.2}% ({}/{})\nconfusion  {}\n",
        display_path(&e.weights),
        backend.describe(),
        e.test.loss,
        100.0 * e.test.accuracy(),
        e.test.correct,
        e.test.total,
        display_path(&e.confusion)
    )
}

/// `mnist export`: what was written and its signature.
pub fn exported(done: &Exported) -> String {
    format!(
        "export     {} ({} model, {} bytes; input {} f32 in [0, 1], output [batch, 10] logits)",
        display_path(&done.path),
        done.model,
        done.bytes,
        done.input
    )
}

/// `mnist gradcheck`: the batch, then one row per reference with its verdict.
pub fn gradcheck(report: &GradcheckReport) -> String {
    let mut out = format!(
        "gradient check of the hand-written gradient: linear softmax, 785×10 weights at random \
         values, {} training images from {} (seed {}), central differences with h = {H:e} in f64\n",
        report.images,
        display_path(&report.data),
        report.seed
    );
    let _ = writeln!(
        out,
        "{:<26}{:>8}{:>15}{:>15}   tolerance",
        "reference", "weights", "max abs error", "max rel error"
    );
    for c in &report.comparisons {
        let verdict = match &c.mismatch {
            Some(m) => format!("FAILED ({m})"),
            None if c.passed() => "ok".to_string(),
            None => "FAILED".to_string(),
        };
        let _ = writeln!(
            out,
            "{:<26}{:>8}{:>15.2e}{:>15.2e}   abs ≤ {MAX_ABS_ERROR:.0e}, rel ≤ {MAX_REL_ERROR:.0e} (where |g| > {REL_FLOOR:.0e})  {verdict}",
            c.reference, c.checked, c.max_abs, c.max_rel,
        );
    }
    out
}

/// `mnist bench`: the speed table's figures.
pub fn bench(r: &BenchReport) -> String {
    let e = r.epochs;
    format!(
        "backend                      {}\n\
         data                         {}\n\
         data load                    {:.3} s\n\
         MLP epoch, training only     {:.2} s   ({}; median of {e} epochs)\n\
         MLP epoch with validation    {:.2} s\n\
         MLP test accuracy            {:.2}%   after {e} epochs\n\
         scratch linear epoch         {:.3} s   (hand gradient, {}; median of {e} epochs)\n\
         scratch linear accuracy      {:.2}%   after {e} epochs\n\
         inference, full test set     {:.0} images/s\n\
         one image alone              {:.0} µs   (bytes to probabilities; median of {})\n\
         {}\
         peak RSS                     {}\n",
        r.backend,
        r.data,
        r.load_seconds,
        r.mlp_train_seconds,
        r.mlp_training,
        r.mlp_epoch_seconds,
        100.0 * r.mlp_accuracy,
        r.linear_train_seconds,
        r.linear_training,
        100.0 * r.linear_accuracy,
        r.inference_images_per_second,
        1e6 * r.single_image_seconds,
        mnist_bench::speed::SINGLES,
        r.gemm
            .as_ref()
            .map_or(String::new(), |g| gemm(g, r.mlp_train_seconds)),
        peak_rss(r.peak_rss_bytes),
    )
}

/// The machine's product rate and the MLP epoch's floor, beside the epoch's training seconds.
fn gemm(g: &GemmFigures, epoch_seconds: f64) -> String {
    let n = mnist_bench::gemm::SQUARE;
    format!(
        "matrix products, {n}³         {:.0} GFLOP/s   (this backend's matmul: the machine's rate)\n\
         MLP epoch's products         {:.1} GFLOP\n\
         MLP epoch floor              {:.2} s   (its products at {:.0} GFLOP/s; the epoch is {:.1}× it)\n\
         its products, timed alone    {:.2} s   (at the step's own shapes, as the step computes them)\n",
        g.square_gflops,
        g.epoch_flops / 1e9,
        g.floor_seconds,
        g.square_gflops,
        epoch_seconds / g.floor_seconds,
        g.products_seconds,
    )
}

/// `mnist bench --point` and `--only`: the timing as the one JSON line the sweep and
/// benches/compare/alternate.py read.
pub fn json_line(timing: &impl serde::Serialize) -> String {
    serde_json::to_string(timing).expect("numbers and strings serialize")
}

/// A sweep point as it is done.
pub fn sweep_row(row: &SweepRow) -> String {
    let torch = row.torch.as_ref().map_or(String::new(), |t| {
        format!("   PyTorch {:.2} s/epoch", t.seconds_per_epoch)
    });
    format!(
        "hidden {:>4}  batch {:>3}   project {:.2} s/epoch{torch}",
        row.hidden, row.batch, row.ours.seconds_per_epoch
    )
}

/// After the sweep: its table and where its files are.
pub fn sweep_done(rows: &[SweepRow], out: &Path) -> String {
    format!(
        "\n{}\nwritten    {}/sweep.{{md,csv,png}}\n",
        mnist_bench::sweep::table(rows),
        display_path(out)
    )
}

/// The warning for `mnist serve` on an address other than loopback.
pub fn serve_warning(addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "warning: listening on {addr}, not on loopback: anyone who can reach this \
             machine can use the app and read the runs"
        )
    })
}

/// `mnist serve` once it listens.
pub fn serving(artifacts: &Path, serving: &mnist_serve::Serving) -> String {
    // An unspecified address (0.0.0.0) is reached as localhost from this machine.
    let host = if serving.addr.ip().is_unspecified() {
        format!("localhost:{}", serving.addr.port())
    } else {
        serving.addr.to_string()
    };
    format!(
        "serving  {} on http://{}/ (Ctrl-C stops)\nopen     http://{host}/?token={} \
         (the token lets this browser launch, stop and delete runs)",
        display_path(artifacts),
        serving.addr,
        serving.token
    )
}

/// `written    <what>` lines of `compare` and `report`.
pub fn wrote(label: &str, path: &Path) -> String {
    format!("{label:<10} {}", display_path(path))
}
