//! No user action loses a finished run: `--force` replaces a run only after the new one passed
//! every check, one process trains a run at a time (an OS lock, not a PID file), a full disk
//! mid-run and a SIGKILL mid-report leave runs that resume and rebuild.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mnist_trainer::run::config::TrainerKind;
use mnist_trainer::run::dir::{RunDir, RunState};
use mnist_trainer::testing::{TestConfig, mnist_idx as fixtures};

mod common;
use common::{bin, config, mnist, ok, repo};

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Starts `mnist ARGS` in the background (output discarded).
fn spawn(args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .current_dir(repo())
        .env_remove("BURN_DEVICE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (at most 2 minutes) until `done` holds, failing if `child` ends first.
fn wait_until(child: &mut Child, what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{what}: not after 2 minutes"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what}: the process ended first ({status})");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A config on the full data whose epochs last about a second: long enough to act during one.
fn slow_config(dir: &Path, name: &str, hidden: usize, epochs: usize) -> PathBuf {
    let data = repo().join("data/mnist_all.mat");
    config(dir, name, &data, TestConfig::mlp(hidden), epochs)
}

#[test]
fn force_leaves_the_old_run_intact_until_the_new_one_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let good = config(dir.path(), "good", &fixtures(), TestConfig::mlp(16), 2);
    ok(&mnist(&["train", good.to_str().unwrap(), "--name", "keep"]));
    let run = dir.path().join("runs/keep");
    let before = snapshot(&run);
    assert!(before.keys().any(|p| p.ends_with("model.bpk")));
    let force = |cfg: &Path| mnist(&["train", cfg.to_str().unwrap(), "--name", "keep", "--force"]);

    // 1. A mistyped config.
    let typo = dir.path().join("typo.toml");
    let text = std::fs::read_to_string(&good).unwrap();
    std::fs::write(&typo, text.replace("epochs =", "epochz =")).unwrap();
    let out = force(&typo);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("epochz"), "{}", stderr(&out));
    assert_eq!(snapshot(&run), before, "a mistyped config changed the run");

    // 2. A data file that is not there.
    let absent = dir.path().join("absent.mat");
    let nodata = config(dir.path(), "nodata", &absent, TestConfig::mlp(16), 2);
    let out = force(&nodata);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("absent.mat") && stderr(&out).contains("not found"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        snapshot(&run),
        before,
        "a missing data file deleted the run"
    );

    // 3. Too little space: a billion epochs of checkpoints.
    let huge = config(
        dir.path(),
        "huge",
        &fixtures(),
        TestConfig::mlp(300),
        1_000_000_000,
    );
    let out = force(&huge);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("MB free"), "{}", stderr(&out));
    assert_eq!(
        snapshot(&run),
        before,
        "a run too large for the disk deleted the run"
    );

    // 4. A run that is training: another process holds its lock.
    let lock = RunDir::new(&run).lock().unwrap();
    let out = force(&good);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("training this run right now"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&run), before, "a run being trained was replaced");
    drop(lock);

    // Once every check passes, --force does replace it.
    let other = config(dir.path(), "other", &fixtures(), TestConfig::mlp(16), 1);
    ok(&force(&other));
    let config_toml = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config_toml.contains("epochs = 1"), "{config_toml}");
    assert!(!run.join("checkpoint/model-2.bpk").exists());
}

#[test]
fn force_on_a_run_being_trained_by_another_process_is_refused_and_that_run_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let slow = slow_config(dir.path(), "slow", 64, 2);
    let quick = config(dir.path(), "quick", &fixtures(), TestConfig::mlp(16), 1);
    let run = dir.path().join("runs/busy");
    let mut trainer = spawn(&["train", slow.to_str().unwrap(), "--name", "busy"]);
    wait_until(&mut trainer, "the run's config", || {
        run.join("config.toml").exists()
    });
    let out = mnist(&[
        "train",
        quick.to_str().unwrap(),
        "--name",
        "busy",
        "--force",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("training this run right now"),
        "{}",
        stderr(&out)
    );
    let status = trainer.wait().unwrap();
    assert!(status.success(), "the trainer failed: {status}");
    assert!(run.join("model.bpk").is_file());
    assert_eq!(RunDir::new(&run).epochs().unwrap().len(), 2);
}

#[test]
fn of_two_trainers_started_at_once_on_one_run_exactly_one_trains() {
    let dir = tempfile::tempdir().unwrap();
    let slow = slow_config(dir.path(), "slow", 64, 2);
    let args = [
        "train",
        slow.to_str().unwrap(),
        "--name",
        "twice",
        "--force",
    ];
    let (a, b) = (spawn(&args), spawn(&args));
    let outputs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let trained = outputs.iter().filter(|o| o.status.success()).count();
    let why: Vec<String> = outputs.iter().map(stderr).collect();
    assert_eq!(trained, 1, "{why:?}");
    let refused = outputs.iter().find(|o| !o.status.success()).unwrap();
    assert_eq!(refused.status.code(), Some(1), "{why:?}");
    assert!(
        stderr(refused).contains("training this run right now"),
        "{why:?}"
    );
    let run = RunDir::new(dir.path().join("runs/twice"));
    assert_eq!(run.epochs().unwrap().len(), 2);
    assert!(!run.is_training());
}

#[test]
fn a_killed_run_is_interrupted_and_resumable_whatever_pid_file_it_left() {
    let dir = tempfile::tempdir().unwrap();
    let slow = slow_config(dir.path(), "slow", 64, 3);
    let slow_s = slow.to_str().unwrap();
    let run_path = dir.path().join("runs/killed");
    let mut trainer = spawn(&["train", slow_s, "--name", "killed"]);
    let run = RunDir::new(&run_path);
    // What a resume needs after epoch 1: every part of its checkpoint and its records. Waiting
    // for one part only raced the others (and the records) on a loaded machine.
    wait_until(&mut trainer, "epoch 1's checkpoint and records", || {
        run.checkpoint_epochs(TrainerKind::Learner).contains(&1)
            && run.epochs().is_ok_and(|e| !e.is_empty())
            && run
                .iterations()
                .is_ok_and(|i| i.iter().any(|r| r.epoch == 1))
    });
    assert!(run.is_training(), "a training run does not hold its lock");
    assert_eq!(
        mnist_serve::catalog::summarize(&run).state,
        RunState::Training
    );
    trainer.kill().unwrap(); // SIGKILL
    trainer.wait().unwrap();
    // What the PID file of earlier versions did wrong: a reused PID (here a live process, this
    // test's own) made a killed run look like it was training forever.
    std::fs::write(
        run_path.join("training.pid"),
        std::process::id().to_string(),
    )
    .unwrap();
    assert!(!run.is_training());
    let summary = mnist_serve::catalog::summarize(&run);
    assert_eq!(summary.state, RunState::Interrupted, "{:?}", summary.note);
    let out = mnist(&["train", slow_s, "--name", "killed", "--resume"]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("resuming   after epoch"));
    assert_eq!(run.epochs().unwrap().len(), 3);
    assert_eq!(
        mnist_serve::catalog::summarize(&run).state,
        RunState::Finished
    );
}

#[test]
fn a_disk_full_while_checkpointing_fails_in_one_line_and_the_run_resumes_to_the_same_end() {
    let dir = tempfile::tempdir().unwrap();
    // 256 hidden units: each checkpoint file (≥ 0.8 MB) is larger than the limit set below,
    // the records written by then (≤ 0.3 MB) are not.
    let cfg = slow_config(dir.path(), "full", 256, 3);
    let cfg_s = cfg.to_str().unwrap();
    ok(&mnist(&["train", cfg_s, "--name", "whole"]));

    // The disk "fills" after the first checkpoint: the kernel's file-size limit on the running
    // process (RLIMIT_FSIZE through prlimit), with SIGXFSZ ignored so a write past it fails
    // with EFBIG as a write to a full disk fails with ENOSPC, instead of killing the process.
    let mut trainer = Command::new("sh")
        .args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\""])
        .arg(bin())
        .args(["train", cfg_s, "--name", "full"])
        .current_dir(repo())
        .env_remove("BURN_DEVICE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run_path = dir.path().join("runs/full");
    let first =
        ["model", "optim", "scheduler"].map(|k| run_path.join(format!("checkpoint/{k}-1.bpk")));
    wait_until(&mut trainer, "the first checkpoint", || {
        first.iter().all(|f| f.exists())
            && RunDir::new(&run_path).epochs().is_ok_and(|e| e.len() == 1)
    });
    // burn writes checkpoints on a thread of its own: let it finish (an epoch here takes ~2 s).
    std::thread::sleep(Duration::from_millis(150));
    let limit = Command::new("prlimit")
        .args(["--pid", &trainer.id().to_string(), "--fsize=400000"])
        .status()
        .expect("prlimit (util-linux) is installed");
    assert!(limit.success());
    let out = trainer.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("runs/full/checkpoint"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // The checkpoint before still loads, and with the space back the run ends where the
    // uninterrupted one ended.
    ok(&mnist(&[
        "eval",
        run_path.to_str().unwrap(),
        "--checkpoint",
        "1",
    ]));
    let out = mnist(&["train", cfg_s, "--name", "full", "--resume"]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("resuming   after epoch 1"));
    let metrics =
        |name: &str| std::fs::read(dir.path().join("runs").join(name).join("metrics.csv"));
    assert_eq!(metrics("full").unwrap(), metrics("whole").unwrap());
}

#[test]
fn sigkill_during_the_report_then_report_rebuilds_every_figure() {
    use mnist_trainer::run::dir::Figure;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "rep", &fixtures(), TestConfig::mlp(16), 1);
    ok(&mnist(&["train", cfg.to_str().unwrap(), "--name", "rep"]));
    let run = RunDir::new(dir.path().join("runs/rep"));
    let run_s = run.path().to_str().unwrap().to_string();
    let figures: Vec<PathBuf> = Figure::ALL
        .iter()
        .map(|&f| run.figure(f))
        .filter(|p| p.exists())
        .collect();
    assert!(figures.len() >= 6, "{figures:?}");
    // Killed at 20 points of its work (loading, evaluating, drawing, writing).
    for ms in (0..20).map(|i| 10 + 30 * i) {
        let mut report = spawn(&["report", &run_s]);
        std::thread::sleep(Duration::from_millis(ms));
        let _ = report.kill();
        report.wait().unwrap();
        for figure in &figures {
            if figure.exists() {
                image::open(figure).unwrap_or_else(|e| {
                    panic!(
                        "{} is damaged after a kill at {ms} ms: {e}",
                        figure.display()
                    )
                });
            }
        }
    }
    ok(&mnist(&["report", &run_s]));
    for figure in &figures {
        image::open(figure).unwrap_or_else(|e| panic!("{}: {e}", figure.display()));
    }
    let html = std::fs::read_to_string(run.report_html()).unwrap();
    assert!(
        html.trim_end().ends_with("</html>"),
        "report.html is incomplete"
    );
}

/// A 28×28 PNG of a stroke, for the predict API.
fn digit_png() -> Vec<u8> {
    let mut img = image::GrayImage::new(28, 28);
    for y in 6..22 {
        img.put_pixel(14, y, image::Luma([255]));
    }
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

#[test]
fn the_server_answers_without_5xx_while_a_run_trains_is_forced_and_is_deleted() {
    use std::io::{BufRead, BufReader};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let mut server = Command::new(bin())
        .args(["serve", "--artifacts", runs.to_str().unwrap()])
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches('/')
        .to_string();

    // 8 clients, each at most 20,000 requests (10 ms apart) and 3 minutes, until the run's life below is over.
    let stop = Arc::new(AtomicBool::new(false));
    let png = Arc::new(digit_png());
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let (stop, png, base) = (stop.clone(), png.clone(), base.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(30))
                    .build();
                let paths = [
                    "/",
                    "/api/runs",
                    "/api/runs/live",
                    "/runs/live/",
                    "/runs/live/epochs.png",
                    "/runs/live/report.html",
                    "/compare?runs=live,live",
                ];
                let start = Instant::now();
                let (mut answered, mut failures) = (0usize, Vec::new());
                for n in 0..20_000 {
                    if stop.load(Ordering::Relaxed) || start.elapsed() > Duration::from_secs(180) {
                        break;
                    }
                    let result = if (n + i) % 4 == 0 {
                        agent
                            .post(&format!("{base}/api/runs/live/predict"))
                            .set("Content-Type", "image/png")
                            .send_bytes(&png)
                    } else {
                        agent
                            .get(&format!("{base}{}", paths[(n + i) % paths.len()]))
                            .call()
                    };
                    match result {
                        Ok(_) => answered += 1,
                        Err(ureq::Error::Status(code, r)) if code < 500 => {
                            let _ = r.into_string();
                            answered += 1
                        }
                        Err(ureq::Error::Status(code, r)) => {
                            let url = r.get_url().to_owned();
                            let body = r.into_string().unwrap_or_default();
                            failures.push(format!("{url} {code}: {body}"))
                        }
                        Err(e) => failures.push(format!("no answer: {e}")),
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                (answered, failures)
            })
        })
        .collect();

    let slow = slow_config(dir.path(), "slow", 64, 2);
    let slow_s = slow.to_str().unwrap();
    ok(&mnist(&["train", slow_s, "--name", "live"]));
    ok(&mnist(&["train", slow_s, "--name", "live", "--force"]));
    std::fs::remove_dir_all(runs.join("live")).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);

    let mut answered = 0;
    let mut failures = Vec::new();
    for client in clients {
        let (a, f) = client.join().unwrap();
        answered += a;
        failures.extend(f);
    }
    // SIGTERM, as a user's Ctrl-C or a service manager would: the server removes its scratch
    // folder on the way out (a SIGKILL would leave it in the temp folder).
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let start = Instant::now();
    while server.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(answered > 100, "only {answered} answers");
    assert!(
        failures.is_empty(),
        "{} of {} requests failed, e.g. {:?}",
        failures.len(),
        answered + failures.len(),
        &failures[..failures.len().min(5)]
    );
}

#[test]
fn a_path_that_cannot_be_stored_in_the_config_is_refused_in_one_line() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    // A folder whose name is not UTF-8 (legal on Linux), holding the data and the config; the
    // runs elsewhere, so config.toml would have to spell the data's path through it.
    let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"data-\xff"));
    let data = odd.join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let from = entry.unwrap().path();
        std::fs::copy(&from, data.join(from.file_name().unwrap())).unwrap();
    }
    let cfg = TestConfig::mlp(16)
        .epochs(1)
        .data(Path::new("mnist"))
        .artifacts(&dir.path().join("runs"))
        .write(&odd.join("odd.toml"));
    let out = Command::new(bin())
        .arg("train")
        .arg(&cfg)
        .current_dir(repo())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("runs/odd") && err.contains("UTF-8"), "{err}");
    assert!(
        !dir.path().join("runs/odd").exists(),
        "a refused run left its folder"
    );
}
