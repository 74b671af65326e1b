//! `mnist sweep` on the fixture images, through the binary: every point of the grid becomes a
//! finished run whose numbers `sweep.csv` repeats, a second sweep skips them all and touches
//! nothing, an interrupted point is resumed to the very end an uninterrupted one reached, a run
//! of another config is never overwritten, a failed point does not stop the others, and every
//! mistake in the file is named with its line and key before anything runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::SystemTime;

use mnist_trainer::run::dir::{RunDir, RunState};
use mnist_trainer::testing::TestConfig;

mod common;
use common::{mnist, ok};

/// The scratch linear model on the fixtures (batch 20, 2 epochs, seed 7), its runs in
/// `dir/runs`, with `sweep` as its [sweep] table, written to `dir/NAME.toml`.
fn sweep_file(dir: &Path, name: &str, sweep: &str) -> PathBuf {
    let base = TestConfig::scratch().artifacts(&dir.join("runs")).toml();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, format!("{base}\n[sweep]\n{sweep}")).unwrap();
    path
}

const GRID: &str = "\"optimizer.lr\" = [0.05, 0.1]\nbatch_size = [20, 50]\n";
const RUNS: [&str; 4] = [
    "grid-lr-0.05-batch_size-20",
    "grid-lr-0.05-batch_size-50",
    "grid-lr-0.1-batch_size-20",
    "grid-lr-0.1-batch_size-50",
];

fn sweep(file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["sweep", file.to_str().unwrap()];
    args.extend(extra);
    mnist(&args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir` with its modification time.
fn mtimes(dir: &Path) -> BTreeMap<PathBuf, SystemTime> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
                files.insert(path, modified);
            }
        }
    }
    files
}

/// The line of `out`'s stdout that shows `run` in `state`.
fn has_line(out: &Output, run: &str, state: &str) -> bool {
    stdout(out)
        .lines()
        .any(|l| l.split_whitespace().take(2).eq([run, state]))
}

/// `sweep.csv` as (header, rows of fields).
fn csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect());
    let header = lines.next().unwrap();
    (header, lines.collect())
}

#[test]
fn a_grid_trains_every_point_and_a_second_sweep_skips_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let file = sweep_file(dir.path(), "grid", GRID);
    let out = sweep(&file, &["--parallel", "2"]);
    ok(&out);
    let runs = dir.path().join("runs");
    for name in RUNS {
        let run = RunDir::new(runs.join(name));
        let plan = run.plan().unwrap();
        assert_eq!(
            run.state(&plan, run.epochs().unwrap().len()),
            RunState::Finished
        );
        assert!(has_line(&out, name, "finished"), "{}", stdout(&out));
    }
    // The point's values are the run's own config.
    let run = RunDir::new(runs.join("grid-lr-0.1-batch_size-50"));
    let plan = run.plan().unwrap();
    assert_eq!(plan.batch_size(), 50);
    assert_eq!(plan.trainer().optimizer().lr(), 0.1);

    // sweep.csv: a row per point, in grid order, with the runs' own numbers.
    let folder = runs.join("grid");
    let (header, rows) = csv_rows(&folder.join("sweep.csv"));
    assert_eq!(
        header,
        [
            "run",
            "optimizer.lr",
            "batch_size",
            "state",
            "epochs",
            "best_valid_accuracy",
            "final_valid_accuracy",
            "test_accuracy",
            "final_train_loss",
            "seconds"
        ]
    );
    assert_eq!(rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), RUNS);
    for row in &rows {
        let run = RunDir::new(runs.join(&row[0]));
        let plan = run.plan().unwrap();
        let epochs = run.epochs().unwrap();
        assert_eq!(
            row[1].parse::<f64>().unwrap(),
            plan.trainer().optimizer().lr()
        );
        assert_eq!(row[2].parse::<usize>().unwrap(), plan.batch_size());
        assert_eq!(row[3], "finished");
        assert_eq!(row[4].parse::<usize>().unwrap(), epochs.len());
        let number = |i: usize| row[i].parse::<f64>().unwrap();
        let best = epochs.iter().map(|e| e.valid_acc).fold(0.0, f64::max);
        assert_eq!(number(5), best);
        assert_eq!(number(6), epochs.last().unwrap().valid_acc);
        assert_eq!(number(7), run.info().outcome.unwrap().test_accuracy);
        assert_eq!(number(8), epochs.last().unwrap().train_loss);
    }
    for file in ["sweep.toml", "sweep.png", "curves.png"] {
        assert!(folder.join(file).is_file(), "no {file}");
    }
    assert!(folder.join(format!("points/{}.toml", RUNS[0])).is_file());
    assert!(folder.join(format!("logs/{}.log", RUNS[0])).is_file());
    // The runs table lists the runs, not the sweep's folder.
    let listed: Vec<String> = mnist_serve::catalog::list(&runs)
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(listed, RUNS);

    // Again: nothing to do, and no file of any run is touched.
    let before: Vec<_> = RUNS.iter().map(|n| mtimes(&runs.join(n))).collect();
    let again = sweep(&file, &[]);
    ok(&again);
    for (name, before) in RUNS.iter().zip(&before) {
        assert!(has_line(&again, name, "skipped"), "{}", stdout(&again));
        assert_eq!(&mtimes(&runs.join(name)), before, "{name} was touched");
    }
    assert!(!stdout(&again).contains("training"), "{}", stdout(&again));
}

#[test]
fn interrupted_points_are_resumed_or_restarted_and_end_as_uninterrupted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = sweep_file(dir.path(), "grid", GRID);
    ok(&sweep(&file, &[]));
    let runs = dir.path().join("runs");
    let metrics = |name: &str| std::fs::read(runs.join(name).join("metrics.csv")).unwrap();
    let whole = [metrics(RUNS[1]), metrics(RUNS[2])];

    // Killed during epoch 2: no final weights, no checkpoint of epoch 2 (epoch 1's is there).
    let resumed = RunDir::new(runs.join(RUNS[1]));
    std::fs::remove_file(resumed.path().join("model.bpk")).unwrap();
    std::fs::remove_file(resumed.path().join("checkpoint/model-2.bpk")).unwrap();
    // Killed before its first checkpoint: no weights at all.
    let restarted = RunDir::new(runs.join(RUNS[2]));
    std::fs::remove_file(restarted.path().join("model.bpk")).unwrap();
    std::fs::remove_dir_all(restarted.path().join("checkpoint")).unwrap();
    let untouched = mtimes(&runs.join(RUNS[0]));

    let out = sweep(&file, &[]);
    ok(&out);
    assert!(has_line(&out, RUNS[1], "resuming"), "{}", stdout(&out));
    assert!(has_line(&out, RUNS[2], "restarting"), "{}", stdout(&out));
    assert!(has_line(&out, RUNS[0], "skipped"), "{}", stdout(&out));
    let log = std::fs::read_to_string(runs.join(format!("grid/logs/{}.log", RUNS[1]))).unwrap();
    assert!(log.contains("resuming   after epoch 1"), "{log}");
    for (run, whole) in [&resumed, &restarted].into_iter().zip(&whole) {
        let plan = run.plan().unwrap();
        assert_eq!(run.state(&plan, 2), RunState::Finished);
        assert_eq!(
            &metrics(&run.name()),
            whole,
            "{} ended elsewhere",
            run.name()
        );
    }
    assert_eq!(mtimes(&runs.join(RUNS[0])), untouched);
}

#[test]
fn a_run_of_another_config_and_a_changed_sweep_file_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    // A run of another config (3 epochs) under the name of the grid's first point.
    let other = TestConfig::scratch()
        .epochs(3)
        .artifacts(&runs)
        .write(&dir.path().join("other.toml"));
    ok(&mnist(&[
        "train",
        other.to_str().unwrap(),
        "--name",
        RUNS[0],
    ]));
    let before = mtimes(&runs);
    let file = sweep_file(dir.path(), "grid", GRID);
    let out = sweep(&file, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(RUNS[0]) && err.contains("another config") && err.contains("--name"),
        "{err}"
    );
    assert_eq!(mtimes(&runs), before, "the refused sweep wrote something");

    // Under another name the sweep runs; that file changed, the sweep needs a new name again.
    ok(&sweep(&file, &["--name", "grid2"]));
    assert!(runs.join("grid2-lr-0.1-batch_size-50/model.bpk").is_file());
    std::fs::write(
        &file,
        std::fs::read_to_string(&file).unwrap() + "# changed\n",
    )
    .unwrap();
    let out = sweep(&file, &["--name", "grid2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sweep.toml differs") && stderr(&out).contains("--name"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_failed_point_leaves_the_others_to_finish_and_the_sweep_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    // The fixtures have 200 training images: a hold-out of 500 leaves none, which only the
    // point's own `mnist train` finds out, once it has read the data.
    let file = sweep_file(
        dir.path(),
        "holdout",
        "validation = [{ holdout = 50 }, { holdout = 500 }]\n",
    );
    let out = sweep(&file, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let (good, bad) = (
        "holdout-validation-holdout_50",
        "holdout-validation-holdout_500",
    );
    assert!(has_line(&out, good, "finished"), "{}", stdout(&out));
    assert!(has_line(&out, bad, "failed"), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("1 of 2 points failed") && err.contains(bad) && err.contains("leaves nothing"),
        "{err}"
    );
    let runs = dir.path().join("runs");
    assert!(runs.join(good).join("model.bpk").is_file());
    let (_, rows) = csv_rows(&runs.join("holdout/sweep.csv"));
    assert_eq!(rows.len(), 2);
}

#[test]
fn every_mistake_names_the_file_line_key_and_value_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    // The base config takes 16 lines; [sweep] is line 18, its first key line 19.
    for (sweep_table, expected) in [
        (
            "\"optimizer.lrr\" = [0.1]\n",
            &[
                "line 19",
                "`optimizer.lrr`",
                "value 0.1",
                "unknown field `lrr`",
            ][..],
        ),
        (
            "batch_size = [\"ten\"]\n",
            &["line 19", "`batch_size`", "\"ten\"", "invalid type"],
        ),
        (
            "batch_size = [0, 10]\n",
            &[
                "line 19",
                "`batch_size`",
                "value 0",
                "batch_size must be at least 1",
            ],
        ),
        (
            "batch_size = []\n",
            &["line 19", "`batch_size`", "empty list"],
        ),
        (
            "batch_size = [10]\nmode = \"sobol\"\n",
            &["line 20", "`mode`", "\"sobol\""],
        ),
        (
            "batch_size = [10, 20]\nmode = \"random\"\ntrials = 3\n",
            &["line 21", "`trials`", "more than the grid's 2 points"],
        ),
        (
            "batch_size = [10]\nparallel = 2\n",
            &["line 20", "`parallel`", "neither a list"],
        ),
        (
            "\"shuffle.every\" = [1]\n",
            &[
                "line 19",
                "`shuffle.every`",
                "`shuffle` is boolean",
                "not a table",
            ],
        ),
    ] {
        let file = sweep_file(dir.path(), "bad", sweep_table);
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text.lines().position(|l| l == "[sweep]"),
            Some(17),
            "{text}"
        );
        let out = sweep(&file, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{sweep_table}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(file.to_str().unwrap()), "{err}");
        for part in expected {
            assert!(err.contains(part), "{sweep_table}: {part} not in {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            !dir.path().join("runs").exists(),
            "{sweep_table}: a run started"
        );
    }
}
