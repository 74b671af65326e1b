//! Nothing a user does to a run may crash the program or lose finished work.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mnist_trainer::backend::default_backend;
use mnist_trainer::run::dir::{RunDir, Weights};
use mnist_trainer::testing::{TestConfig, mnist_idx as fixtures};

mod common;
use common::{config, mnist, ok, repo};

/// Logits of the run's final model on 100 fixture test images: equal weights, equal logits.
fn logits(run: &Path) -> Vec<f32> {
    let device = default_backend().device;
    let (_, model) = mnist_infer::model::open(&RunDir::new(run), Weights::Final, &device).unwrap();
    let test = mnist_data::load(Some(&fixtures())).unwrap().test;
    let batch = mnist_data::batch_of(&test, &(0..100).collect::<Vec<_>>(), &device);
    model
        .forward(batch.images)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

#[test]
fn sigkill_mid_epoch_then_resume_ends_like_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    // Full data and a 64-unit MLP: epochs long enough (≈ 1 s) to be killed in the middle of one.
    let data = repo().join("data/mnist_all.mat");
    let cfg = config(dir.path(), "kill", &data, TestConfig::mlp(64), 3);
    let cfg_s = cfg.to_str().unwrap();
    ok(&mnist(&["train", cfg_s, "--name", "whole"]));

    let mut child = Command::new(env!("CARGO_BIN_EXE_mnist"))
        .args(["train", cfg_s, "--name", "killed"])
        .current_dir(repo())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let run = dir.path().join("runs/killed");
    let first = ["model", "optim", "scheduler"].map(|k| run.join(format!("checkpoint/{k}-1.bpk")));
    let start = Instant::now();
    while !first.iter().all(|f| f.exists()) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint after 2 minutes"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "training ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(250)); // into epoch 2
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !run.join("model.bpk").exists(),
        "the run had already finished"
    );
    assert!(!run.join("checkpoint/model-3.bpk").exists());

    let out = mnist(&["train", cfg_s, "--name", "killed", "--resume"]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("resuming   after epoch"));
    assert_eq!(logits(&run), logits(&dir.path().join("runs/whole")));
    let metrics =
        |name: &str| std::fs::read(dir.path().join("runs").join(name).join("metrics.csv")).unwrap();
    assert_eq!(
        metrics("killed"),
        metrics("whole"),
        "metrics.csv of the resumed run differs"
    );
}

#[test]
fn same_config_and_seed_give_identical_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "repro", &fixtures(), TestConfig::mlp(32), 3);
    for name in ["one", "two"] {
        ok(&mnist(&["train", cfg.to_str().unwrap(), "--name", name]));
    }
    let read =
        |n: &str| std::fs::read(dir.path().join("runs").join(n).join("metrics.csv")).unwrap();
    // header, 2 rows per epoch, 4 iterations (200 images / 50) per epoch
    assert_eq!(
        String::from_utf8(read("one")).unwrap().lines().count(),
        1 + 3 * 2 + 3 * 4
    );
    assert_eq!(read("one"), read("two"));
}

#[test]
fn a_damaged_last_checkpoint_is_skipped_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "torn", &fixtures(), TestConfig::mlp(32), 3);
    let cfg_s = cfg.to_str().unwrap();
    ok(&mnist(&["train", cfg_s, "--name", "whole"]));
    ok(&mnist(&["train", cfg_s, "--name", "torn"]));
    let run = dir.path().join("runs/torn");
    // What a non-atomic writer killed mid-write would leave: a truncated epoch-3 checkpoint.
    let model3 = run.join("checkpoint/model-3.bpk");
    let bytes = std::fs::read(&model3).unwrap();
    std::fs::write(&model3, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(run.join("model.bpk")).unwrap();
    let out = mnist(&["train", cfg_s, "--name", "torn", "--resume"]);
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("checkpoint of epoch 3 cannot be loaded"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("resuming   after epoch 2"));
    assert_eq!(logits(&run), logits(&dir.path().join("runs/whole")));
}

#[test]
fn weights_of_another_model_give_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mlp = config(dir.path(), "mlp", &fixtures(), TestConfig::mlp(32), 1);
    let linear = config(dir.path(), "linear", &fixtures(), TestConfig::linear(), 1);
    ok(&mnist(&["train", mlp.to_str().unwrap()]));
    ok(&mnist(&["train", linear.to_str().unwrap()]));
    let runs = dir.path().join("runs");
    std::fs::copy(runs.join("mlp/model.bpk"), runs.join("linear/model.bpk")).unwrap();
    let out = mnist(&["eval", runs.join("linear").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("linear/model.bpk") && stderr.contains("does not fit the run's model"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unusable_paths_are_reported_before_training() {
    let dir = tempfile::tempdir().unwrap();
    // Missing data: refused, and no run directory is made.
    let cfg = config(
        dir.path(),
        "nodata",
        &dir.path().join("absent.mat"),
        TestConfig::linear(),
        1,
    );
    let out = mnist(&["train", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("absent.mat") && stderr.contains("not found"),
        "{stderr}"
    );
    assert!(!dir.path().join("runs/nodata").exists());
    // A run directory that cannot be made (its parent is a file).
    std::fs::write(dir.path().join("runs"), "a file").unwrap();
    let cfg = config(dir.path(), "blocked", &fixtures(), TestConfig::linear(), 1);
    let out = mnist(&["train", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("runs/blocked") && stderr.contains("cannot create"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty() || !String::from_utf8_lossy(&out.stdout).contains("epoch "));
    // A run the file system has no room for: a billion epochs of checkpoints.
    std::fs::remove_file(dir.path().join("runs")).unwrap();
    let cfg = config(
        dir.path(),
        "huge",
        &fixtures(),
        TestConfig::mlp(300),
        1_000_000_000,
    );
    let out = mnist(&["train", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("runs/huge") && stderr.contains("MB free, the run needs about"),
        "{stderr}"
    );
}

#[test]
fn atomic_write_replaces_whole_files_and_names_the_path_on_failure() {
    use mnist_trainer::run::fsutil::atomic_write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    atomic_write(&path, b"first").unwrap();
    atomic_write(&path, b"second, longer").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let bad = dir.path().join("missing-dir/metrics.csv");
    let e = atomic_write(&bad, b"x").unwrap_err().to_string();
    assert!(
        e.contains("missing-dir/metrics.csv") && e.contains("cannot write"),
        "{e}"
    );
}

#[test]
fn two_atomic_writers_of_one_file_each_replace_it_whole() {
    use mnist_trainer::run::fsutil::atomic_write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.csv");
    // Two contents of different sizes: a mix of the two is neither.
    let (a, b) = (vec![b'a'; 200_000], vec![b'b'; 300_000]);
    atomic_write(&path, &a).unwrap();
    std::thread::scope(|s| {
        for bytes in [&a, &b] {
            let path = &path;
            s.spawn(move || {
                for _ in 0..100 {
                    atomic_write(path, bytes).unwrap();
                }
            });
        }
        s.spawn(|| {
            for _ in 0..400 {
                let read = std::fs::read(&path).unwrap();
                assert!(
                    read == a || read == b,
                    "a mixed file of {} bytes",
                    read.len()
                );
            }
        });
    });
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "temporary files left"
    );
}

#[test]
fn a_failed_atomic_write_leaves_no_temporary_file() {
    use mnist_trainer::run::fsutil::atomic_write;
    let dir = tempfile::tempdir().unwrap();
    // The rename cannot replace a folder: the write fails after the temporary file was made.
    let path = dir.path().join("report.html");
    std::fs::create_dir(&path).unwrap();
    let e = atomic_write(&path, b"<html>").unwrap_err().to_string();
    assert!(
        e.contains("report.html") && e.contains("cannot write"),
        "{e}"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["report.html"], "a temporary file was left behind");
}

#[test]
fn eval_on_other_data_keeps_the_runs_own_confusion_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "own", &fixtures(), TestConfig::mlp(16), 1);
    ok(&mnist(&["train", cfg.to_str().unwrap()]));
    let run = dir.path().join("runs/own");
    let run_s = run.to_str().unwrap();
    ok(&mnist(&["eval", run_s]));
    let own = std::fs::read(run.join("confusion-final.csv")).unwrap();
    let fashion = mnist_data::testing::fixtures_dir().join("fashion-idx");
    let out = mnist(&["eval", run_s, "--data", fashion.to_str().unwrap()]);
    ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("confusion-final-on-fashion-idx.png"),
        "{stdout}"
    );
    assert!(run.join("confusion-final-on-fashion-idx.csv").is_file());
    assert_eq!(
        std::fs::read(run.join("confusion-final.csv")).unwrap(),
        own,
        "eval on other data overwrote the run's own confusion matrix"
    );
    // The run's own data named explicitly is the run's own evaluation.
    let out = mnist(&["eval", run_s, "--data", fixtures().to_str().unwrap()]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("confusion-final.png"));
}
