//! Every run gets its figures, confusion matrix and report, and they can be redone from its files.

use std::path::Path;

use mnist_report::figures::course::{CURVES_SIZE, PREDICTIONS_SIZE, SAMPLES_SIZE, WEIGHTS_SIZE};
use mnist_report::figures::run::{CONFUSION_SIZE, EPOCHS_SIZE};
use mnist_report::figures::updates::NLL_VS_UPDATES_SIZE;
use mnist_trainer::backend::default_backend;
use mnist_trainer::run::dir::{Figure, RunDir, Weights};
use mnist_trainer::testing::TestConfig;
use mnist_trainer::training::observer::quiet;
use mnist_trainer::training::train::{self, TrainOutcome, TrainRequest};

fn train(config: TestConfig, dir: &Path, name: &str) -> TrainOutcome {
    let request = TrainRequest {
        plan: config.artifacts(&dir.join("runs")).plan(),
        name: name.into(),
        resume: false,
        force: false,
    };
    let backend = default_backend();
    let outcome = train::train(&request, &backend, quiet()).unwrap();
    mnist_report::write_outcome(&outcome, &backend.device).unwrap();
    outcome
}

/// The PNG exists, has `size` pixels and is not blank.
fn assert_figure(path: &Path, size: (u32, u32)) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_luma8();
    assert_eq!(img.dimensions(), size, "{}", path.display());
    let n = img.len() as f64;
    let mean = img.iter().map(|&p| p as f64).sum::<f64>() / n;
    let var = img.iter().map(|&p| (p as f64 - mean).powi(2)).sum::<f64>() / n;
    // A blank (single-colour) image has variance 0; drawn figures have hundreds.
    assert!(var > 100.0, "{}: pixel variance {var}", path.display());
}

/// Every `src="..."` and `href="..."` of an HTML page.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            out.push(part.split('"').next().unwrap().to_string());
        }
    }
    out
}

/// The confusion matrix of a CSV the report wrote (rows: true class).
fn read_confusion(path: &Path) -> Vec<Vec<usize>> {
    // After the header, a row per true class: the class, then a count per predicted class.
    csv::Reader::from_path(path)
        .unwrap()
        .deserialize::<Vec<usize>>()
        .map(|row| row.unwrap()[1..].to_vec())
        .collect()
}

#[test]
fn every_run_gets_its_figures_confusion_matrix_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let linear = train(TestConfig::scratch(), dir.path(), "s");
    let mlp = train(TestConfig::mlp(64), dir.path(), "m");
    let common = [
        (Figure::Samples, SAMPLES_SIZE),
        (Figure::Predictions, PREDICTIONS_SIZE),
        (Figure::TrainingCurves, CURVES_SIZE),
        (Figure::Epochs, EPOCHS_SIZE),
        (Figure::Confusion, CONFUSION_SIZE),
    ];
    let linear_own = vec![
        (Figure::Weights, WEIGHTS_SIZE),
        (Figure::NllVsUpdates, NLL_VS_UPDATES_SIZE),
    ];
    let mlp_own = vec![(Figure::HiddenUnits, WEIGHTS_SIZE)];
    for (run, own) in [(&linear.run, linear_own), (&mlp.run, mlp_own)] {
        for (figure, size) in common.iter().chain(&own) {
            assert_figure(&run.figure(*figure), *size);
        }
        // Only the scratch trainer counts the weights a step changes.
        let counted = own.iter().any(|(f, _)| *f == Figure::NllVsUpdates);
        assert_eq!(run.figure(Figure::NllVsUpdates).exists(), counted);
        // 100 fixture test images: two test batches of 50.
        let batches = std::fs::read_to_string(run.test_batches_csv()).unwrap();
        assert_eq!(batches.lines().count(), 3, "{batches}");

        // The confusion matrix covers the test set and its trace is the number correct.
        let m = read_confusion(&run.confusion_files(None).1);
        assert_eq!(m.len(), 10);
        assert_eq!(m.iter().flatten().sum::<usize>(), 100);
        let e = mnist_report::eval(run, Weights::Final, None, &default_backend()).unwrap();
        assert_eq!((0..10).map(|i| m[i][i]).sum::<usize>(), e.test.correct);
        assert_figure(&e.confusion, CONFUSION_SIZE);
        assert_eq!(
            read_confusion(&run.confusion_files(Some(Weights::Final)).1),
            m
        );
        // eval reproduces the last validation epoch.
        let last = run.epochs().unwrap().pop().unwrap();
        assert_eq!(e.test.accuracy(), last.valid_acc);
        assert!((e.test.loss - last.valid_loss).abs() < 1e-4);

        // report.html links only files that exist, and every figure of the run.
        let html = std::fs::read_to_string(run.report_html()).unwrap();
        let refs = references(&html);
        assert!(refs.len() >= 6, "{refs:?}");
        for r in &refs {
            assert!(
                run.path().join(r).is_file(),
                "report.html references missing {r}"
            );
        }
        for (figure, _) in common.iter().chain(&own) {
            assert!(
                refs.iter().any(|r| r == figure.file_name()),
                "{figure:?} not in the report"
            );
        }
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "report needs the network"
        );
    }
    // `mnist report` redoes them from the saved files.
    for (figure, _) in common {
        std::fs::remove_file(mlp.run.figure(figure)).unwrap();
    }
    std::fs::remove_file(mlp.run.report_html()).unwrap();
    mnist_report::regenerate(&RunDir::new(mlp.run.path()), &default_backend()).unwrap();
    for (figure, size) in common {
        assert_figure(&mlp.run.figure(figure), size);
    }
    assert!(mlp.run.report_html().is_file());
}

#[test]
fn the_report_shows_each_per_class_number_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = train(TestConfig::scratch().epochs(1), dir.path(), "s").run;
    let html = std::fs::read_to_string(run.report_html()).unwrap();
    let table = html.split("<h2>Per class").nth(1).unwrap();
    let table = table.split("</table>").next().unwrap();
    let header = table.split("</thead>").next().unwrap();
    assert_eq!(header.matches("<th>").count(), 4, "{header}");
    let m = read_confusion(&run.confusion_files(None).1);
    for row in table.split("<tr><td>").skip(1) {
        let cells: Vec<&str> = row.split("</td><td>").collect();
        let class: usize = cells[0].parse().unwrap();
        let (recall, precision) = (cells[1], cells[2]);
        let images: usize = cells[3].split('<').next().unwrap().parse().unwrap();
        assert_eq!(images, m[class].iter().sum::<usize>());
        let column: usize = m.iter().map(|r| r[class]).sum();
        let expect =
            |num: usize, den: usize| format!("{:.2}%", 100.0 * num as f64 / den.max(1) as f64);
        assert_eq!(recall, expect(m[class][class], images), "class {class}");
        assert_eq!(precision, expect(m[class][class], column), "class {class}");
    }
}

/// The names of `atomic_write`'s temporary files in `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| mnist_trainer::run::fsutil::is_temporary(n))
        .collect();
    names.sort();
    names
}

/// `mnist report RUN` after a SIGKILL in the middle of the figures and the report, simulated:
/// what in-place writing or a killed atomic write leaves (each figure, the CSVs and
/// `report.html` cut off halfway, one figure never written, temporary files beside them) is
/// rebuilt into whole files.
#[test]
fn report_rebuilds_what_a_killed_report_left_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = |own: &[(Figure, (u32, u32))]| {
        let mut all = vec![
            (Figure::Samples, SAMPLES_SIZE),
            (Figure::Predictions, PREDICTIONS_SIZE),
            (Figure::TrainingCurves, CURVES_SIZE),
            (Figure::Epochs, EPOCHS_SIZE),
            (Figure::Confusion, CONFUSION_SIZE),
        ];
        all.extend_from_slice(own);
        all
    };
    let runs = [
        (
            train(TestConfig::scratch().epochs(1), dir.path(), "s").run,
            sizes(&[
                (Figure::Weights, WEIGHTS_SIZE),
                (Figure::NllVsUpdates, NLL_VS_UPDATES_SIZE),
            ]),
        ),
        (
            train(TestConfig::mlp(16).epochs(1), dir.path(), "m").run,
            sizes(&[(Figure::HiddenUnits, WEIGHTS_SIZE)]),
        ),
    ];
    for (run, figures) in &runs {
        let mut cut = vec![
            run.report_html(),
            run.test_batches_csv(),
            run.confusion_files(None).1,
        ];
        cut.extend(figures.iter().map(|(f, _)| run.figure(*f)));
        for path in &cut {
            let bytes = std::fs::read(path).unwrap();
            let half = &bytes[..bytes.len() / 2];
            std::fs::write(path, half).unwrap();
            // A killed atomic write's temporary files: the old fixed name, a unique one.
            let name = path.file_name().unwrap().to_string_lossy();
            for tmp in [format!(".{name}.tmp"), format!(".{name}.K1ll3d.tmp")] {
                std::fs::write(run.path().join(tmp), half).unwrap();
            }
        }
        // Killed before the last figure was first written.
        std::fs::remove_file(run.figure(figures[figures.len() - 1].0)).unwrap();

        let planted = temporaries(run.path());
        mnist_report::regenerate(&RunDir::new(run.path()), &default_backend()).unwrap();
        assert_eq!(
            temporaries(run.path()),
            planted,
            "the report's own left behind"
        );

        for (figure, size) in figures {
            assert_figure(&run.figure(*figure), *size);
        }
        let html = std::fs::read_to_string(run.report_html()).unwrap();
        assert!(html.trim_end().ends_with("</html>"), "report.html cut off");
        for r in references(&html) {
            assert!(run.path().join(&r).is_file(), "report.html references {r}");
        }
        let m = read_confusion(&run.confusion_files(None).1);
        assert_eq!(m.len(), 10);
        assert!(m.iter().all(|row| row.len() == 10));
        assert_eq!(m.iter().flatten().sum::<usize>(), 100);
        let batches = std::fs::read_to_string(run.test_batches_csv()).unwrap();
        assert_eq!(batches.lines().count(), 3, "{batches}");
    }
}
