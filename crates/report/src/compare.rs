//! Runs side by side: the course's question (the linear classifier from scratch vs the MLP) in
//! one page. Shared by `mnist compare` (a static file) and the web app's compare page.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use mnist_data::Split;
use mnist_trainer::Error;
use mnist_trainer::backend::Backend;
use mnist_trainer::run::config::Validation;
use mnist_trainer::run::dir::{RunDir, Weights};
use mnist_trainer::run::fsutil::atomic_write;
use mnist_trainer::run::metrics::{EpochRecord, IterationRecord};
use mnist_trainer::run::plan::{Plan, display_path};
use mnist_trainer::training::evaluate::evaluate_split;

use crate::figures;
use crate::html::escape;
use crate::stats::{self, ConfusionMatrix, PerClass};

/// One run, with what the comparison shows of it.
#[derive(Clone)]
pub struct Compared {
    pub name: String,
    pub plan: Plan,
    pub epochs: Vec<EpochRecord>,
    pub iterations: Vec<IterationRecord>,
    /// The final model's prediction for each test image.
    pub predictions: Vec<u8>,
    pub confusion: ConfusionMatrix,
    pub accuracy: f64,
}

/// Loads a finished run and evaluates its final model on its test set (returned too).
pub fn load(run: &RunDir, backend: &Backend) -> Result<(Compared, Arc<Split>), Error> {
    let (plan, model) = mnist_infer::model::open(run, Weights::Final, &backend.device)?;
    let test = Arc::new(mnist_data::load(Some(plan.data()))?.test);
    let evaluation = evaluate_split(&model, test.clone(), &backend.device);
    let confusion = stats::confusion_matrix(test.labels(), &evaluation.predictions);
    let compared = Compared {
        name: run.name(),
        epochs: run.epochs()?,
        iterations: run.iterations()?,
        accuracy: evaluation.accuracy(),
        predictions: evaluation.predictions,
        confusion,
        plan,
    };
    Ok((compared, test))
}

/// The runs of a comparison, each loaded by `load` in order (`mnist compare` loads them, the web
/// app takes them from what it keeps), and the first run's test set, which the figure of the
/// images the first two disagree on shows. The first error stops it.
pub fn gather<R, E>(
    runs: &[R],
    mut load: impl FnMut(&R) -> Result<(Compared, Arc<Split>), E>,
) -> Result<(Vec<Compared>, Option<Arc<Split>>), E> {
    let mut compared = Vec::with_capacity(runs.len());
    let mut test = None;
    for run in runs {
        let (c, t) = load(run)?;
        test.get_or_insert(t);
        compared.push(c);
    }
    Ok((compared, test))
}

/// Whether a comparison draws its per-epoch and per-iteration curves as figures: the static
/// page (`mnist compare`) does; the web app's compare page shows them as interactive charts
/// above, so drawn again they would appear twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curves {
    Figures,
    Omitted,
}

/// The figures of a comparison, written into `dir`; their file names, for the page.
pub struct CompareFigures {
    /// The epoch curves and the NLL per iteration, unless [`Curves::Omitted`].
    pub epochs: Option<String>,
    pub nll: Option<String>,
    /// Present when the first two runs share their test set.
    pub disagreements: Option<String>,
    /// Each run's confusion matrix, in order.
    pub confusions: Vec<String>,
}

/// Writes the comparison's figures into `dir` (file names start with `prefix`).
pub fn write_figures(
    runs: &[Compared],
    test: &Split,
    dir: &Path,
    prefix: &str,
    curves: Curves,
) -> Result<CompareFigures, Error> {
    let file = |what: &str| format!("{prefix}{what}.png");
    // A run validated on a hold-out says so in the legend; the others validate on the test set.
    let legend: Vec<String> = runs
        .iter()
        .map(|r| match r.plan.validation() {
            Validation::Test => r.name.clone(),
            Validation::Holdout(_) => format!("{} (hold-out)", r.name),
        })
        .collect();
    let (mut epoch_file, mut nll_file) = (None, None);
    if curves == Curves::Figures {
        let epochs: Vec<(&str, &[EpochRecord])> = runs
            .iter()
            .zip(&legend)
            .map(|(r, name)| (name.as_str(), r.epochs.as_slice()))
            .collect();
        figures::run::compare_epoch_curves(&epochs, &dir.join(file("epochs")))?;
        let nll: Vec<(&str, &[IterationRecord])> = runs
            .iter()
            .map(|r| (r.name.as_str(), r.iterations.as_slice()))
            .collect();
        figures::compare::compare_nll(&nll, &dir.join(file("nll")))?;
        (epoch_file, nll_file) = (Some(file("epochs")), Some(file("nll")));
    }
    let disagreements = match runs {
        [a, b, ..] if a.plan.data() == b.plan.data() => {
            let name = file("disagreements");
            figures::compare::disagreements(
                test,
                (&a.name, &a.predictions),
                (&b.name, &b.predictions),
                &dir.join(&name),
            )?;
            Some(name)
        }
        _ => None,
    };
    let mut confusions = Vec::new();
    for (k, r) in runs.iter().enumerate() {
        let name = file(&format!("matrix-{k}"));
        let title = format!("Confusion matrix of {} (final model)", r.name);
        figures::run::confusion_figure(&r.confusion, &title, &dir.join(&name))?;
        confusions.push(name);
    }
    Ok(CompareFigures {
        epochs: epoch_file,
        nll: nll_file,
        disagreements,
        confusions,
    })
}

/// The comparison as HTML (a fragment: tables and figures), figures linked as `link(file)`.
pub fn html(runs: &[Compared], figures: &CompareFigures, link: &dyn Fn(&str) -> String) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<table class=\"runs\"><thead><tr><th class=\"l\">run</th><th class=\"l\">model</th><th class=\"l\">training</th><th class=\"l\">validated on</th><th>epochs</th><th>test accuracy</th><th>s/epoch</th><th class=\"l\">data</th></tr></thead><tbody>"
    );
    for r in runs {
        let seconds: Vec<f64> = r.epochs.iter().map(|e| e.seconds).collect();
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td><b>{:.2}%</b></td><td>{:.2}</td><td class=\"l\">{}</td></tr>",
            escape(&r.name),
            escape(&r.plan.model().description()),
            escape(
                &format!(
                    "{:?}, {}",
                    r.plan.trainer().kind(),
                    r.plan.describe_training()
                )
                .to_lowercase()
            ),
            escape(&r.plan.describe_validation()),
            r.epochs.len(),
            100.0 * r.accuracy,
            mnist_trainer::run::metrics::median(&seconds),
            escape(&display_path(r.plan.data())),
        );
    }
    let _ = writeln!(h, "</tbody></table>");
    let figure = |h: &mut String, file: &str, caption: &str| {
        let _ = writeln!(
            h,
            "<figure><img src=\"{}\" alt=\"{}\"><figcaption>{caption}</figcaption></figure>",
            escape(&link(file)),
            escape(file)
        );
    };
    if let Some(file) = &figures.epochs {
        figure(
            &mut h,
            file,
            "Loss and accuracy per epoch of every run on the same axes: validation (the test set, or the run's hold-out where its name says so) with dots, training as a plain line of the same colour.",
        );
    }
    if let Some(file) = &figures.nll {
        figure(
            &mut h,
            file,
            "Training NLL of the correct class per iteration, smoothed, against the epoch.",
        );
    }
    let _ = writeln!(
        h,
        "<h2>Per class (test set): recall, the accuracy on the class's images</h2><table><thead><tr><th>class</th>"
    );
    for r in runs {
        let _ = write!(h, "<th>{}</th>", escape(&r.name));
    }
    let _ = writeln!(h, "</tr></thead><tbody>");
    let per_class: Vec<Vec<PerClass>> = runs
        .iter()
        .map(|r| stats::per_class(&r.confusion))
        .collect();
    for c in 0..mnist_data::NUM_CLASSES {
        let _ = write!(h, "<tr><td>{c}</td>");
        for p in &per_class {
            let _ = write!(h, "<td>{:.2}%</td>", 100.0 * p[c].recall);
        }
        let _ = writeln!(h, "</tr>");
    }
    let _ = writeln!(h, "</tbody></table>");
    match (&figures.disagreements, runs) {
        (Some(file), [a, b, ..]) => {
            let _ = writeln!(
                h,
                "<h2>Where {} and {} disagree</h2>",
                escape(&a.name),
                escape(&b.name)
            );
            figure(
                &mut h,
                file,
                "Test images one run classifies right and the other wrong, with both predictions.",
            );
        }
        _ => {
            let _ = writeln!(
                h,
                "<p>No disagreement gallery: it needs two runs on the same test set.</p>"
            );
        }
    }
    let _ = writeln!(h, "<h2>Confusion matrices</h2><div class=\"pair\">");
    for file in &figures.confusions {
        figure(&mut h, file, "");
    }
    let _ = writeln!(h, "</div>");
    h
}

/// `mnist compare RUN RUN… --out FILE`: the comparison as one HTML file, its figures beside it.
pub fn write_static(runs: &[RunDir], out: &Path, backend: &Backend) -> Result<(), Error> {
    if runs.len() < 2 {
        return Err(Error::Check("compare needs at least two runs".into()));
    }
    let (compared, test) = gather(runs, |run| load(run, backend))?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create", e))?;
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let test = test.expect("at least two runs");
    let figures = write_figures(&compared, &test, dir, &format!("{stem}-"), Curves::Figures)?;
    let names: Vec<&str> = compared.iter().map(|c| c.name.as_str()).collect();
    let body = html(&compared, &figures, &|f| f.to_string());
    let page = crate::html::page(&format!("Compare {}", names.join(", ")), &body);
    atomic_write(out, page.as_bytes())
}
