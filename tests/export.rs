//! `mnist export`: both models as ONNX, run by onnxruntime (Python, not burn) on the fixture test
//! images and compared with burn's own logits; and the errors a user can cause.
//!
//! The runtime check needs a Python with `onnxruntime` and `numpy`, named by `MNIST_ONNX_PYTHON`
//! (CI makes one in a virtualenv). Where the build finds none (`build.rs`), that test is ignored,
//! with the reason in the summary; with `MNIST_REQUIRE_ONNXRUNTIME` set (CI sets it) it runs and
//! fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use mnist_trainer::backend::default_backend;
use mnist_trainer::run::dir::{RunDir, Weights};
use mnist_trainer::testing::{TestConfig, mnist_idx};
use mnist_trainer::training::observer::quiet;
use mnist_trainer::training::train::{self, TrainRequest};

mod common;
use common::mnist;

fn trained(config: TestConfig, dir: &Path, name: &str) -> RunDir {
    let request = TrainRequest {
        plan: config.artifacts(&dir.join("runs")).plan(),
        name: name.into(),
        resume: false,
        force: false,
    };
    train::train(&request, &default_backend(), quiet())
        .unwrap()
        .run
}

fn write_f32(path: &Path, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

/// The fixture test images as the model takes them, and the run's logits for them (burn).
fn inputs_and_logits(run: &RunDir, weights: Weights) -> (Vec<f32>, Vec<f32>) {
    let device = default_backend().device;
    let test = mnist_data::load(Some(&mnist_idx())).unwrap().test;
    let all: Vec<usize> = (0..test.len()).collect();
    let batch = mnist_data::batch_of(&test, &all, &device);
    let images = batch.images.to_data().try_to_vec::<f32>().unwrap();
    let (_, model) = mnist_infer::model::open(run, weights, &device).unwrap();
    let logits = model
        .forward(batch.images)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    (images, logits)
}

/// The Python that has onnxruntime, named by the environment.
fn onnx_python() -> PathBuf {
    // Here when the build found it, when MNIST_REQUIRE_ONNXRUNTIME was set, or with --ignored.
    let python = std::env::var_os("MNIST_ONNX_PYTHON")
        .map(PathBuf::from)
        .expect("MNIST_ONNX_PYTHON names no Python: set it to one with onnxruntime and numpy");
    let imports = Command::new(&python)
        .args(["-c", "import onnxruntime, numpy"])
        .output()
        .unwrap_or_else(|e| panic!("MNIST_ONNX_PYTHON={}: {e}", python.display()));
    assert!(
        imports.status.success(),
        "MNIST_ONNX_PYTHON={} cannot import onnxruntime and numpy: {}",
        python.display(),
        String::from_utf8_lossy(&imports.stderr)
    );
    python
}

/// Runs `tests/onnx/check.py` on an exported file; its JSON report.
fn check_with_onnxruntime(
    python: &Path,
    model: &Path,
    images: &[f32],
    logits: &[f32],
    dir: &Path,
) -> serde_json::Value {
    let (x, y) = (dir.join("images.f32"), dir.join("logits.f32"));
    write_f32(&x, images);
    write_f32(&y, logits);
    let script = mnist_data::repo_root().join("tests/onnx/check.py");
    let out = Command::new(python)
        .arg(script)
        .args([model, &x, &y])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "check.py failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The models of the tests below: config, run name, the kind `mnist export` reports.
fn models() -> [(TestConfig, &'static str, &'static str); 3] {
    [
        (TestConfig::mlp(32).epochs(2), "mlp", "mlp"),
        (TestConfig::scratch().epochs(2), "scratch", "linear"),
        (TestConfig::cnn().epochs(2), "cnn", "cnn"),
    ]
}

/// Trains the run and exports its final weights (to the run's file) and its epoch-1 checkpoint
/// (to another place); the run and the two files.
fn exported(config: TestConfig, dir: &Path, name: &str, kind: &str) -> (RunDir, PathBuf, PathBuf) {
    let run = trained(config, dir, name);
    let out = mnist(&["export", run.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("({kind} model,")), "{stdout}");
    let file = run.onnx_file();
    assert!(std::fs::metadata(&file).unwrap().len() > 1000);
    let epoch1 = dir.join(format!("{name}-epoch-1.onnx"));
    let out = mnist(&[
        "export",
        run.path().to_str().unwrap(),
        "--checkpoint",
        "1",
        "--out",
        epoch1.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::metadata(&epoch1).unwrap().len() > 1000);
    (run, file, epoch1)
}

#[test]
fn every_model_exports_its_final_and_checkpoint_weights() {
    // What `mnist export` says and writes; whether the files compute the model is checked below.
    let dir = tempfile::tempdir().unwrap();
    for (config, name, kind) in models() {
        exported(config, dir.path(), name, kind);
    }
}

#[test]
#[cfg_attr(
    not(has_onnxruntime),
    ignore = "no onnxruntime when built: set MNIST_ONNX_PYTHON to a Python that can \
              `import onnxruntime, numpy` (bash .ci/run makes one)"
)]
fn onnxruntime_gives_burns_logits_for_every_exported_model() {
    let python = onnx_python();
    let dir = tempfile::tempdir().unwrap();
    for (config, name, kind) in models() {
        let (run, file, epoch1) = exported(config, dir.path(), name, kind);
        for (model, weights) in [(&file, Weights::Final), (&epoch1, Weights::Checkpoint(1))] {
            let (images, logits) = inputs_and_logits(&run, weights);
            let report = check_with_onnxruntime(&python, model, &images, &logits, dir.path());
            let at = |key: &str| report[key].as_f64().unwrap();
            let input: Vec<&str> = report["input"].as_array().unwrap()[1..]
                .iter()
                .map(|d| d.as_str().unwrap())
                .collect();
            let expected: &[&str] = if kind == "cnn" {
                &["1", "28", "28"]
            } else {
                &["784"]
            };
            assert_eq!(input, expected, "{report}");
            assert_eq!(report["output"][1], "10", "{report}");
            assert_eq!(report["input_type"], "tensor(float)", "{report}");
            // The batch axis is symbolic, not 2 or 5 (the traced sizes).
            assert!(
                report["input"][0]
                    .as_str()
                    .unwrap()
                    .parse::<usize>()
                    .is_err()
            );
            assert_eq!(at("n"), 100.0);
            for key in [
                "max_abs_diff",
                "max_abs_diff_batch_1",
                "max_abs_diff_batch_7",
            ] {
                assert!(at(key) <= 1e-4, "{name} {weights:?} {key}: {report}");
            }
            assert_eq!(at("same_predictions"), 1.0, "{name} {weights:?}: {report}");
        }
        // The final and the epoch-1 weights differ, so the check compares something.
        assert_ne!(
            inputs_and_logits(&run, Weights::Final).1,
            inputs_and_logits(&run, Weights::Checkpoint(1)).1
        );
    }
}

#[test]
fn export_errors_name_the_path_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = trained(TestConfig::scratch().epochs(1), dir.path(), "s");
    let one_line_naming = |args: &[&str], path: &Path, why: &str| {
        let out = mnist(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
    };
    let run_path = run.path().to_str().unwrap();
    // An --out that cannot be written: its folder does not exist.
    let nowhere = dir.path().join("no-such-folder").join("m.onnx");
    one_line_naming(
        &["export", run_path, "--out", nowhere.to_str().unwrap()],
        &nowhere,
        "cannot write",
    );
    // A checkpoint that does not exist.
    one_line_naming(
        &["export", run_path, "--checkpoint", "9"],
        &run.weights_file(Weights::Checkpoint(9)),
        "",
    );
    // A run without its final weights.
    std::fs::remove_file(run.weights_file(Weights::Final)).unwrap();
    one_line_naming(&["export", run_path], &run.weights_file(Weights::Final), "");
    assert!(!run.onnx_file().exists(), "no file is left behind");
}
