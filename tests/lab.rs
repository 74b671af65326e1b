//! `mnist serve` as the lab: runs launched, queued, stopped, resumed and deleted over its API by
//! a real server process (this build's binary, which starts `mnist train` children), and every
//! rule that keeps other web pages out of it, each with a request that breaks it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mnist_trainer::testing::{TestConfig, mnist_idx as fixtures};
use serde_json::Value;

mod common;
use common::{bin, config, repo};

/// A `mnist serve` process over `dir/runs`, with `dir` as its configs folder, stopped (SIGTERM,
/// a clean stop of its trainers) when dropped.
struct Lab {
    child: Child,
    base: String,
    port: u16,
    token: String,
    artifacts: PathBuf,
}

impl Lab {
    fn start(dir: &Path, max_parallel: usize) -> Self {
        let artifacts = dir.join("runs");
        std::fs::create_dir_all(&artifacts).unwrap();
        let mut child = Command::new(bin())
            .args(["serve", "--addr", "127.0.0.1:0", "--artifacts"])
            .arg(&artifacts)
            .arg("--configs")
            .arg(dir)
            .args(["--max-parallel", &max_parallel.to_string()])
            .current_dir(repo())
            .env_remove("BURN_DEVICE")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut serving, mut open) = (String::new(), String::new());
        out.read_line(&mut serving).unwrap();
        out.read_line(&mut open).unwrap();
        // `serving  DIR on http://127.0.0.1:PORT/ (…)` and `open     http://…/?token=TOKEN (…)`.
        let addr = serving
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("no address in {serving:?}"))
            .to_string();
        let token = open
            .split("?token=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no token in {open:?}"))
            .to_string();
        let port = addr.rsplit(':').next().unwrap().parse().unwrap();
        Self {
            child,
            base: format!("http://{addr}"),
            port,
            token,
            artifacts,
        }
    }

    /// A request to `path`, no redirects followed, a 30 s limit.
    fn request(&self, method: &str, path: &str) -> ureq::Request {
        ureq::AgentBuilder::new()
            .redirects(0)
            .timeout(Duration::from_secs(30))
            .build()
            .request(method, &format!("{}{path}", self.base))
    }

    /// With the token, as an API client sends it.
    fn authed(&self, method: &str, path: &str) -> ureq::Request {
        self.request(method, path)
            .set("Authorization", &format!("Bearer {}", self.token))
    }

    fn launch(&self, name: &str, config: &str) -> (u16, Value) {
        let body = serde_json::json!({ "name": name, "config": config }).to_string();
        answer(
            self.authed("POST", "/api/runs")
                .set("Content-Type", "application/json")
                .send_string(&body),
        )
    }

    fn runs(&self) -> Vec<Value> {
        let (status, runs) = answer(self.request("GET", "/api/runs").call());
        assert_eq!(status, 200, "{runs}");
        runs.as_array().unwrap().clone()
    }

    /// The state of run `name` in the runs table (`absent` if it is not there).
    fn state(&self, name: &str) -> String {
        self.runs()
            .iter()
            .find(|r| r["name"] == name)
            .map_or("absent".into(), |r| r["state"].as_str().unwrap().into())
    }

    /// Waits (at most 3 minutes) until run `name`'s row satisfies `done`.
    fn wait(&self, name: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let row = self.runs().into_iter().find(|r| r["name"] == name);
            if let Some(row) = row.filter(|r| done(r)) {
                return row;
            }
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "{name}: {what}: not after 3 minutes; the table says {:?}; log: {}",
                self.runs(),
                std::fs::read_to_string(self.artifacts.join(name).join("train.log"))
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while self.child.try_wait().ok().flatten().is_none()
            && start.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status and JSON (or text, as a JSON string) of an answer.
fn answer(result: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("no answer: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Waits (at most 30 s) until the log file `path` holds `text`.
fn wait_for_log(path: &Path, text: &str) {
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(text) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no {text:?} in {} after 30 s: {log}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn error_of(v: &Value) -> String {
    v["error"].as_str().unwrap_or_default().to_string()
}

/// A quick run on the fixture images, as TOML text.
fn quick(epochs: usize) -> String {
    TestConfig::mlp(16)
        .data(&fixtures())
        .batch_size(50)
        .epochs(epochs)
        .toml()
}

/// A run on the full data whose epochs last seconds: long enough to act while it trains.
fn slow(dir: &Path, epochs: usize) -> String {
    let data = repo().join("data/mnist_all.mat");
    let file = config(dir, "slow", &data, TestConfig::mlp(64), epochs);
    std::fs::read_to_string(file).unwrap()
}

#[test]
fn every_request_that_breaks_a_rule_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(dir.path(), 1);
    let config = quick(1);
    let body = serde_json::json!({ "name": "x", "config": config }).to_string();
    let post = |request: ureq::Request| {
        answer(
            request
                .set("Content-Type", "application/json")
                .send_string(&body),
        )
    };

    // The token: none, a wrong one, one of another length.
    let (status, v) = post(lab.request("POST", "/api/runs"));
    assert_eq!(status, 403, "{v}");
    assert!(error_of(&v).contains("token"), "{v}");
    for wrong in [
        format!("Bearer {}x", &lab.token[..lab.token.len() - 1]),
        "Bearer 0".to_string(),
        lab.token.clone(),
    ] {
        let (status, v) = post(
            lab.request("POST", "/api/runs")
                .set("Authorization", &wrong),
        );
        assert_eq!(status, 403, "{wrong}: {v}");
    }
    // Every route that changes something, not only the launch.
    for (method, path) in [
        ("POST", "/api/runs/x/stop"),
        ("POST", "/api/runs/x/resume"),
        ("DELETE", "/api/runs/x"),
        ("POST", "/api/configs/check"),
    ] {
        let (status, v) = answer(lab.request(method, path).send_string(&config));
        assert_eq!(status, 403, "{method} {path}: {v}");
        assert!(error_of(&v).contains("token"), "{method} {path}: {v}");
    }
    // A foreign page, even with the token (a page cannot read it, but must not use it either).
    let (status, v) = post(
        lab.authed("POST", "/api/runs")
            .set("Origin", "http://evil.example"),
    );
    assert_eq!(status, 403, "{v}");
    assert!(error_of(&v).contains("evil.example"), "{v}");
    let (status, v) = post(
        lab.authed("POST", "/api/runs")
            .set("Sec-Fetch-Site", "cross-site"),
    );
    assert_eq!(status, 403, "{v}");
    // A foreign Host on every route, GET included (DNS rebinding), and a wrong port.
    for path in ["/", "/api/runs", "/new", "/assets/app.js"] {
        for host in [
            format!("evil.example:{}", lab.port),
            format!("localhost:{}", lab.port.wrapping_add(1)),
        ] {
            let (status, v) = answer(lab.request("GET", path).set("Host", &host).call());
            assert_eq!(status, 403, "{path} with Host {host}: {v}");
        }
        let host = format!("localhost:{}", lab.port);
        let (status, _) = answer(lab.request("GET", path).set("Host", &host).call());
        assert_eq!(status, 200, "{path} with Host {host}");
    }
    // Names that are not plain names, with a valid config and the token: nothing is made.
    for name in ["..", "../escape", "a/b", ".hidden", "", "a\\b", "tab\there"] {
        let body = serde_json::json!({ "name": name, "config": config }).to_string();
        let (status, v) = answer(
            lab.authed("POST", "/api/runs")
                .set("Content-Type", "application/json")
                .send_string(&body),
        );
        assert_eq!(status, 400, "{name:?}: {v}");
        assert!(error_of(&v).contains("cannot name a run"), "{name:?}: {v}");
    }
    let outside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!outside.iter().any(|n| n.contains("escape")), "{outside:?}");
    assert!(lab.runs().is_empty());
    // An invalid config: the check and the launch answer mnist train's own one-line error.
    let invalid = config.replace("batch_size = 50", "batch_size = 0");
    assert_ne!(invalid, config);
    let (status, v) = answer(
        lab.authed("POST", "/api/configs/check?name=bad")
            .send_string(&invalid),
    );
    assert_eq!(status, 422, "{v}");
    assert!(
        error_of(&v).contains("batch_size must be at least 1") && error_of(&v).contains("line"),
        "{v}"
    );
    assert!(
        error_of(&v).contains("bad.toml"),
        "named as a file of the configs folder: {v}"
    );
    let (status, v) = lab.launch("bad", &invalid);
    assert_eq!(status, 422, "{v}");
    assert!(error_of(&v).contains("batch_size"), "{v}");
    assert_eq!(lab.state("bad"), "absent");

    // The rules kept, each way in: the check passes with the header, with the cookie, and from
    // the server's own page (its Origin).
    let (status, v) = answer(
        lab.authed("POST", "/api/configs/check")
            .send_string(&config),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["epochs"], 1, "{v}");
    // A relative path resolves against the configs folder, as if the text were a file there.
    let relative = format!(
        "data = \"some/data.mat\"\n{}",
        config
            .lines()
            .filter(|l| !l.starts_with("data"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let (status, v) = answer(
        lab.authed("POST", "/api/configs/check")
            .send_string(&relative),
    );
    assert_eq!(status, 200, "{v}");
    let data = std::path::PathBuf::from(v["data"].as_str().unwrap());
    assert!(
        data.ends_with("some/data.mat") && data.starts_with(dir.path()),
        "{v}"
    );
    let cookie = format!("mnist_token_{}={}", lab.port, lab.token);
    let (status, v) = answer(
        lab.request("POST", "/api/configs/check")
            .set("Cookie", &cookie)
            .set("Origin", &lab.base)
            .set("Sec-Fetch-Site", "same-origin")
            .send_string(&config),
    );
    assert_eq!(status, 200, "{v}");
    // Opening the printed address sets the cookie (HttpOnly, SameSite=Strict) and takes the
    // token out of the address bar.
    let response = lab
        .request("GET", &format!("/new?config=a.toml&token={}", lab.token))
        .call()
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.header("Location"), Some("/new?config=a.toml"));
    let set = response
        .header("Set-Cookie")
        .unwrap_or_default()
        .to_string();
    assert!(
        set.starts_with(&cookie) && set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    // A wrong token in the address sets nothing.
    let response = lab.request("GET", "/?token=nope").call().unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.header("Set-Cookie").is_none());

    // A config that names another artifacts folder still trains into the served one.
    let elsewhere = dir.path().join("elsewhere");
    // (A top-level key: before the first table.)
    let moved = format!(
        "artifacts = \"{}\"\n{}",
        elsewhere.display(),
        config
            .lines()
            .filter(|l| !l.starts_with("artifacts"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let (status, v) = lab.launch("kept-in", &moved);
    assert_eq!(status, 201, "{v}");
    lab.wait("kept-in", "finish", |r| r["state"] == "finished");
    assert!(lab.artifacts.join("kept-in/model.bpk").is_file());
    assert!(!elsewhere.exists());
}

#[test]
fn launched_runs_queue_train_stop_resume_and_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(dir.path(), 1);
    // One place: the second run waits until the first ends.
    let (status, v) = lab.launch("first", &slow(dir.path(), 2));
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["state"], "training", "{v}");
    let (status, v) = lab.launch("second", &quick(2));
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["state"], "queued", "{v}");
    assert_eq!(lab.state("second"), "queued");
    // A name in use, queued or trained.
    for name in ["first", "second"] {
        let (status, v) = lab.launch(name, &quick(1));
        assert_eq!(status, 409, "{name}: {v}");
    }
    // Deleting a run that trains or waits is refused.
    for name in ["first", "second"] {
        let (status, v) = answer(lab.authed("DELETE", &format!("/api/runs/{name}")).call());
        assert_eq!(status, 409, "{name}: {v}");
    }
    let start = Instant::now();
    let mut seen_second = Vec::new();
    loop {
        let runs = lab.runs();
        let state = |n: &str| {
            runs.iter()
                .find(|r| r["name"] == n)
                .map_or(String::new(), |r| r["state"].as_str().unwrap().to_string())
        };
        let (a, b) = (state("first"), state("second"));
        assert!(
            !(a == "training" && b == "training"),
            "two runs train at once with --max-parallel 1"
        );
        if seen_second.last() != Some(&b) {
            seen_second.push(b.clone());
        }
        if a == "finished" && b == "finished" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(180), "{runs:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        seen_second.first().map(String::as_str),
        Some("queued"),
        "{seen_second:?}"
    );
    // A run launched here is a run like any other: its own config, records, final model, and
    // the trainer's output in its log.
    let first = lab.artifacts.join("first");
    for file in [
        "config.toml",
        "run.toml",
        "epochs.csv",
        "metrics.csv",
        "model.bpk",
    ] {
        assert!(first.join(file).is_file(), "{file}");
    }
    let log = std::fs::read_to_string(first.join("train.log")).unwrap();
    assert!(
        log.contains("== started by mnist serve") && log.contains("2/2"),
        "{log}"
    );
    // Noted once the server has seen the process end, a moment after the run is `finished`.
    wait_for_log(&first.join("train.log"), "== the trainer finished");

    // Stop one that trains, at a clean point after an epoch; it is `stopped`, resumable.
    let (status, v) = lab.launch("third", &slow(dir.path(), 3));
    assert_eq!(status, 201, "{v}");
    lab.wait("third", "an epoch done", |r| {
        r["epochs_done"].as_u64() >= Some(1)
    });
    let (status, v) = answer(lab.authed("POST", "/api/runs/third/stop").call());
    assert_eq!(status, 202, "{v}");
    let row = lab.wait("third", "stop", |r| r["state"] == "stopped");
    let done = row["epochs_done"].as_u64().unwrap();
    assert!((1..3).contains(&done), "{row}");
    assert!(!lab.artifacts.join("third/model.bpk").exists());
    // The run is `stopped` once its trainer lets go of it, a moment before the process ends;
    // the server notes the end in the log once it no longer counts it as running.
    wait_for_log(&lab.artifacts.join("third/train.log"), "stopped on request");
    // Stopping what does not train is a conflict; so is resuming a finished run.
    let (status, _) = answer(lab.authed("POST", "/api/runs/third/stop").call());
    assert_eq!(status, 409);
    let (status, v) = answer(lab.authed("POST", "/api/runs/first/resume").call());
    assert_eq!(status, 409, "{v}");
    // Resumed, it goes on to its end.
    let (status, v) = answer(lab.authed("POST", "/api/runs/third/resume").call());
    assert_eq!(status, 202, "{v}");
    let row = lab.wait("third", "finish after resuming", |r| {
        r["state"] == "finished"
    });
    assert_eq!(row["epochs_done"], 3, "{row}");
    let log = std::fs::read_to_string(lab.artifacts.join("third/train.log")).unwrap();
    assert!(log.contains("== resumed by mnist serve"), "{log}");

    // Deleted: gone from the table and the disk; a second delete finds nothing.
    let (status, v) = answer(lab.authed("DELETE", "/api/runs/second").call());
    assert_eq!(status, 204, "{v}");
    assert!(!lab.artifacts.join("second").exists());
    assert_eq!(lab.state("second"), "absent");
    let (status, _) = answer(lab.authed("DELETE", "/api/runs/second").call());
    assert_eq!(status, 404);
}

#[test]
fn a_queued_run_can_be_taken_out_of_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(dir.path(), 1);
    let (status, v) = lab.launch("long", &slow(dir.path(), 2));
    assert_eq!(status, 201, "{v}");
    let (status, v) = lab.launch("waiting", &quick(1));
    assert_eq!((status, v["state"].as_str()), (201, Some("queued")), "{v}");
    let (status, v) = answer(lab.authed("POST", "/api/runs/waiting/stop").call());
    assert_eq!(status, 200, "{v}");
    assert_eq!(lab.state("waiting"), "absent");
    lab.wait("long", "finish", |r| r["state"] == "finished");
    // It never started: no directory was made for it.
    assert!(!lab.artifacts.join("waiting").exists());
}

impl Lab {
    fn launch_sweep(&self, name: &str, config: &str) -> (u16, Value) {
        let body = serde_json::json!({ "name": name, "config": config }).to_string();
        answer(
            self.authed("POST", "/api/sweeps")
                .set("Content-Type", "application/json")
                .send_string(&body),
        )
    }

    fn sweep(&self, name: &str) -> Value {
        let (status, sweep) = answer(self.request("GET", &format!("/api/sweeps/{name}")).call());
        assert_eq!(status, 200, "{sweep}");
        sweep
    }

    /// Waits (at most 3 minutes) until sweep `name` is in `state`.
    fn wait_sweep(&self, name: &str, state: &str) -> Value {
        let start = Instant::now();
        loop {
            let sweep = self.sweep(name);
            if sweep["state"] == state {
                return sweep;
            }
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "{name}: not {state} after 3 minutes: {sweep}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A sweep file: `base` (a run config's text) with `sweep` as its [sweep] table.
fn sweep_of(base: &str, sweep: &str) -> String {
    format!("{base}\n[sweep]\n{sweep}")
}

#[test]
fn a_sweep_launched_over_the_api_trains_its_points_one_run_each() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(dir.path(), 1);
    let base = TestConfig::scratch().data(&fixtures()).epochs(1).toml();
    let sweep = sweep_of(&base, "batch_size = [20, 50]\n");

    // Without the token, nothing.
    for (method, path) in [
        ("POST", "/api/sweeps"),
        ("POST", "/api/sweeps/check"),
        ("POST", "/api/sweeps/x/stop"),
        ("POST", "/api/sweeps/x/resume"),
    ] {
        let (status, v) = answer(lab.request(method, path).send_string(&sweep));
        assert_eq!(status, 403, "{method} {path}: {v}");
    }
    // An invalid sweep: the check and the launch answer `mnist sweep`'s error, naming the key.
    let empty = sweep_of(&base, "batch_size = []\n");
    let (status, v) = answer(
        lab.authed("POST", "/api/sweeps/check?name=bad")
            .send_string(&empty),
    );
    assert_eq!(status, 422, "{v}");
    assert!(
        error_of(&v).contains("`batch_size`") && error_of(&v).contains("empty list"),
        "{v}"
    );
    let (status, v) = lab.launch_sweep("bad", &empty);
    assert_eq!(status, 422, "{v}");
    assert!(error_of(&v).contains("`batch_size`"), "{v}");
    assert!(!lab.artifacts.join("bad").exists());
    // A run config without [sweep] is not a sweep.
    let (status, v) = lab.launch_sweep("bad", &base);
    assert_eq!(status, 422, "{v}");
    assert!(error_of(&v).contains("[sweep]"), "{v}");

    let (status, v) = answer(
        lab.authed("POST", "/api/sweeps/check?name=bs")
            .send_string(&sweep),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["points"][1]["run"], "bs-batch_size-50", "{v}");
    let (status, v) = lab.launch_sweep("bs", &sweep);
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        v["points"],
        serde_json::json!(["bs-batch_size-20", "bs-batch_size-50"]),
        "{v}"
    );
    assert_eq!(v["state"], "running", "{v}");
    // A name in use: the sweep's, or one of a run.
    let (status, v) = lab.launch_sweep("bs", &sweep);
    assert_eq!(status, 409, "{v}");
    let listed = answer(lab.request("GET", "/api/sweeps").call()).1;
    assert_eq!(listed[0]["name"], "bs", "{listed}");
    assert_eq!(listed[0]["points"], 2, "{listed}");

    let done = lab.wait_sweep("bs", "finished");
    assert_eq!(done["finished"], 2, "{done}");
    let rows = done["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{done}");
    for (row, batch) in rows.iter().zip(["20", "50"]) {
        assert_eq!(row["state"], "finished", "{row}");
        assert_eq!(row["values"][0]["key"], "batch_size", "{row}");
        assert_eq!(row["values"][0]["text"], batch, "{row}");
        assert!(row["best_valid_accuracy"].as_f64().is_some(), "{row}");
    }
    assert_eq!(done["keys"], serde_json::json!(["batch_size"]), "{done}");
    assert_eq!(
        done["figures"],
        serde_json::json!(["sweep.png", "curves.png"])
    );
    // Its points are runs like any other, in the served folder.
    for run in ["bs-batch_size-20", "bs-batch_size-50"] {
        assert_eq!(lab.state(run), "finished");
    }
    assert_eq!(lab.state("bs"), "absent", "a sweep's folder is not a run");
    let log = lab.artifacts.join("bs/sweep.log");
    wait_for_log(&log, "== the sweep finished");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("== started by mnist serve"), "{log}");
    // Its figures are served, and nothing else of its folder.
    let figure = lab.request("GET", "/sweeps/bs/sweep.png").call().unwrap();
    assert_eq!(figure.header("Content-Type"), Some("image/png"));
    for file in [
        "sweep.toml",
        "sweep.log",
        "sweep.csv",
        "..%2Fbs-batch_size-20",
    ] {
        let (status, _) = answer(lab.request("GET", &format!("/sweeps/bs/{file}")).call());
        assert_eq!(status, 404, "{file}");
    }
    let (status, _) = answer(lab.request("GET", "/sweeps/bs/").call());
    assert_eq!(status, 200);
    let (status, _) = answer(lab.request("GET", "/sweeps/nope/").call());
    assert_eq!(status, 404);
    // A point's run name is taken too; a finished sweep has nothing to resume.
    let (status, v) = lab.launch_sweep("bs-batch_size-20", &sweep);
    assert_eq!(status, 409, "{v}");
    let (status, v) = answer(lab.authed("POST", "/api/sweeps/bs/resume").call());
    assert_eq!(status, 409, "{v}");
}

#[test]
fn a_stopped_sweep_keeps_its_points_resumable_and_goes_on_when_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(dir.path(), 1);
    // Epochs of seconds (the full data), two points.
    let sweep = sweep_of(&slow(dir.path(), 3), "seed = [1, 2]\n");
    let (status, v) = lab.launch_sweep("long", &sweep);
    assert_eq!(status, 201, "{v}");
    lab.wait("long-seed-1", "an epoch done", |r| {
        r["epochs_done"].as_u64() >= Some(1)
    });
    let (status, v) = answer(lab.authed("POST", "/api/sweeps/long/stop").call());
    assert_eq!(status, 202, "{v}");
    let stopped = lab.wait_sweep("long", "stopped");
    // The point that trained stopped at a clean point; the next one never started.
    assert_eq!(stopped["points_detail"][0]["state"], "stopped", "{stopped}");
    assert_eq!(stopped["points_detail"][1]["state"], "missing", "{stopped}");
    assert_eq!(lab.state("long-seed-2"), "absent");
    wait_for_log(&lab.artifacts.join("long/sweep.log"), "stopped on request");
    // Resumed: the stopped point goes on from its checkpoint, the other one trains.
    let (status, v) = answer(lab.authed("POST", "/api/sweeps/long/resume").call());
    assert_eq!(status, 202, "{v}");
    let done = lab.wait_sweep("long", "finished");
    assert_eq!(done["finished"], 2, "{done}");
    let point_log =
        std::fs::read_to_string(lab.artifacts.join("long/logs/long-seed-1.log")).unwrap();
    assert!(point_log.contains("--resume"), "{point_log}");
}
