//! `mnist bench --point` and `--sweep` on the fixture images: every point runs in a process of its
//! own, PyTorch's side is whatever `--torch` runs (here a shell script standing in for Python
//! that echoes its arguments back as a timing), and the table, CSV and plot are written.

use std::path::{Path, PathBuf};

use mnist_bench::sweep::{BATCH, HIDDEN, Timing};
use mnist_trainer::testing::TestConfig;

mod common;
use common::mnist;

fn mlp_config(dir: &Path) -> PathBuf {
    TestConfig::mlp(16)
        .artifacts(&dir.join("runs"))
        .write(&dir.join("mlp.toml"))
}

/// Stands in for `python torch_mlp.py …`: reads the options the sweep passes and prints a
/// timing whose seconds spell out the point (hidden 300, batch 50 → 300.05).
const FAKE_TORCH: &str = r#"
while [ $# -gt 0 ]; do
  case "$1" in
    --hidden) h=$2; shift ;;
    --batch) b=$2; shift ;;
    --epochs) e=$2; shift ;;
    --data) d=$2; shift ;;
  esac
  shift
done
[ -e "$d" ] || { echo "no data at $d" >&2; exit 3; }
echo "a line of log output first"
echo "{\"seconds_per_epoch\": $h.$(printf %03d $b), \"accuracy\": 0.5, \"peak_rss_bytes\": 1000000, \"implementation\": \"fake, $e epochs\"}"
"#;

/// `mnist bench --sweep --epochs 1` on the fixture MLP config into `dir/sweep`, with `script`
/// (run by `/bin/sh`) standing in for PyTorch's side.
fn sweep_with_torch_script(dir: &Path, script: &str) -> std::process::Output {
    let config = mlp_config(dir);
    let torch = dir.join("torch.sh");
    std::fs::write(&torch, script).unwrap();
    let (config, torch, out) = (
        config.to_str().unwrap().to_string(),
        torch.to_str().unwrap().to_string(),
        dir.join("sweep").to_str().unwrap().to_string(),
    );
    mnist(&[
        "bench",
        "--sweep",
        "--epochs",
        "1",
        "--mlp-config",
        &config,
        "--torch",
        "/bin/sh",
        "--torch-script",
        &torch,
        "--out",
        &out,
    ])
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_point_prints_its_timing_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let config = mlp_config(dir.path());
    let args = ["bench", "--point", "24x20", "--epochs", "2", "--mlp-config"];
    let out = mnist(&[&args[..], &[config.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let timing: Timing = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert!(timing.seconds_per_epoch > 0.0 && timing.seconds_per_epoch.is_finite());
    assert!((0.0..=1.0).contains(&timing.accuracy));
    // At least the fixture data and the binary are resident.
    assert!(timing.peak_rss_bytes > 10_000_000, "{timing:?}");
    // Nothing is left behind: the runs went to a temporary folder.
    assert!(!dir.path().join("runs").exists());
}

#[test]
fn bad_points_are_refused_in_one_line() {
    for (point, says) in [
        ("300", "not HIDDENxBATCH"),
        ("0x50", "hidden `0`"),
        ("300x-1", "batch `-1`"),
    ] {
        let out = mnist(&["bench", "--point", point]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(says), "{point}: {}", stderr(&out));
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.py");
    let out = mnist(&[
        "bench",
        "--sweep",
        "--torch",
        "python3",
        "--torch-script",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no such PyTorch script"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("nowhere.py"), "{}", stderr(&out));
    let out = mnist(&["bench", "--torch", "python3"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--sweep"), "{}", stderr(&out));
}

#[test]
fn a_linear_config_cannot_be_swept() {
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::scratch().write(&dir.path().join("linear.toml"));
    let args = ["bench", "--point", "300x50", "--mlp-config"];
    let out = mnist(&[&args[..], &[config.to_str().unwrap()]].concat());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not an MLP"), "{}", stderr(&out));
}

#[test]
fn sweep_runs_every_point_for_both_sides_and_writes_table_csv_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sweep");
    let out = sweep_with_torch_script(dir.path(), FAKE_TORCH);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(out_dir.join("sweep.csv")).unwrap();
    // The implementation is last and quoted (it may hold commas).
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.splitn(7, ',').collect())
        .collect();
    assert_eq!(rows.len(), 2 * HIDDEN.len() * BATCH.len(), "{csv}");
    for hidden in HIDDEN {
        for batch in BATCH {
            let of = |who: &str| {
                rows.iter()
                    .find(|r| {
                        r[0] == hidden.to_string() && r[1] == batch.to_string() && r[2] == who
                    })
                    .unwrap_or_else(|| panic!("no {who} row for {hidden}x{batch}:\n{csv}"))
            };
            // PyTorch's side got this point's options and the config's data.
            let torch = of("pytorch");
            let expected = format!("{hidden}.{batch:03}").parse::<f64>().unwrap();
            assert_eq!(torch[3].parse::<f64>().unwrap(), expected, "{csv}");
            assert_eq!(torch[6], "\"fake, 1 epochs\"", "{csv}");
            // Ours ran: a real time and memory.
            let ours = of("project");
            assert!(ours[3].parse::<f64>().unwrap() > 0.0, "{csv}");
            assert!(ours[4].parse::<u64>().unwrap() > 10_000_000, "{csv}");
        }
    }
    let table = std::fs::read_to_string(out_dir.join("sweep.md")).unwrap();
    assert_eq!(table.lines().count(), 2 + HIDDEN.len() * BATCH.len());
    assert!(stdout(&out).contains(&table), "the table is printed too");
    let png = image::open(out_dir.join("sweep.png")).unwrap();
    assert!(png.width() >= 800 && png.height() >= 600);
}

#[test]
fn a_failing_torch_side_is_reported_with_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "echo 'ModuleNotFoundError: torch' >&2; exit 1\n";
    let out = sweep_with_torch_script(dir.path(), broken);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("ModuleNotFoundError: torch"), "{err}");
    assert!(err.contains("torch.sh"), "{err}");
    assert!(!out_dir_has_files(&dir.path().join("sweep")));
}

fn out_dir_has_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}
