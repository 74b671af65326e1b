//! The `mnist` binary as a user runs it: output on good data, one-line errors on bad data.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mnist(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mnist"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run mnist")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The numbers of the table row that starts with `split`.
fn row(stdout: &str, split: &str) -> Vec<f64> {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(split))
        .unwrap_or_else(|| panic!("no `{split}` row in:\n{stdout}"));
    line.split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect()
}

#[test]
fn data_info_on_the_committed_file() {
    let out = mnist(&["data", "info"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(verified)"), "{stdout}");
    // MNIST's published split sizes and the course file's per-digit counts (train0 = 5923 ...).
    let train = row(&stdout, "train");
    let test = row(&stdout, "test");
    assert_eq!(train[0], 60000.0);
    assert_eq!(test[0], 10000.0);
    assert_eq!(train[1..11].iter().sum::<f64>(), 60000.0);
    assert_eq!(train[1], 5923.0);
    assert_eq!(test[10], 1009.0);
    // min, max, mean of the pixels
    assert_eq!((train[11], train[12]), (0.0, 255.0));
    assert!((30.0..40.0).contains(&train[13]), "{stdout}");
    assert!(stdout.contains("load time"), "{stdout}");
    assert!(stdout.contains("peak RSS"), "{stdout}");
}

#[test]
fn data_info_on_an_idx_folder() {
    let dir = fixtures().join("fashion-idx");
    let out = mnist(&["data", "info", "--data", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(row(&stdout, "train")[0], 100.0);
    assert_eq!(row(&stdout, "test")[0], 50.0);
    assert!(stdout.contains("IDX folder"), "{stdout}");
}

#[test]
fn bad_inputs_exit_nonzero_with_one_line_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    for case in mnist_data::testing::bad_inputs(dir.path(), &fixtures()) {
        let out = mnist(&["data", "info", "--data", case.path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", case.name);
        assert!(out.stdout.is_empty(), "{}: printed to stdout", case.name);
        assert_eq!(stderr.lines().count(), 1, "{}: {stderr}", case.name);
        assert!(stderr.starts_with("error: "), "{}: {stderr}", case.name);
        assert!(
            stderr.contains(case.file.to_str().unwrap()),
            "{}: {stderr}",
            case.name
        );
        assert!(stderr.contains(case.cause), "{}: {stderr}", case.name);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
}

#[test]
fn help_explains_the_commands() {
    let out = mnist(&["--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("data"), "{stdout}");
    let out = mnist(&["data", "info", "--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("--data"), "{stdout}");
}
