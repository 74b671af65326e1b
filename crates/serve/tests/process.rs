//! `mnist serve` in a process of its own, over fixture runs on loopback: its peak memory under
//! sixteen uploads of a 6,300 × 6,300 image at once, and its scratch folder removed when SIGTERM
//! or SIGINT stops it. The server is this binary run again (`common::child`), so `main` is
//! ours (`harness = false`): it serves when it is that child, and otherwise runs the tests in
//! order (`cargo test -p mnist-serve --test process [NAME]` runs those whose name contains NAME).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::child::ChildServer;
use mnist_trainer::testing::mnist_idx;
use serde_json::Value;

/// The goal for the server's peak resident memory (`VmHWM`) through the sixteen uploads.
const PEAK_GOAL: u64 = 400_000_000;
/// Past this the server is killed at once, so that code without the bound cannot take the
/// machine (four such uploads took 3.9 GB before it).
const PEAK_KILL: u64 = 1_500_000_000;

fn test_image(k: usize) -> Vec<u8> {
    mnist_data::load(Some(&mnist_idx()))
        .unwrap()
        .test
        .image(k)
        .to_vec()
}

/// Status and JSON body of a POST; `None` when no answer came.
fn post(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> Option<(u16, Value)> {
    let result = ureq::post(&format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(60))
        .set("Content-Type", "image/png")
        .send_bytes(body);
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(_) => return None,
    };
    let status = response.status();
    let text = response.into_string().ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

fn sixteen_huge_uploads_at_once_are_answered_within_400_mb(artifacts: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = ChildServer::start(artifacts, tmp.path());
    let addr = server.addr;
    let digit = test_image(0);
    let canvas = common::canvas_png(&digit);
    let (status, warm) = post(addr, "/api/runs/mlp/predict", &canvas).unwrap();
    assert_eq!(status, 200, "{warm}");
    let before = server.memory("VmHWM").unwrap();
    // The case: a small PNG (flat blocks) that decodes to 6,300 × 6,300 pixels,
    // under the body limit and the 40-megapixel limit.
    let huge = Arc::new(common::huge_png(&digit, 6_300));
    assert!(huge.len() < 1_000_000, "{} bytes", huge.len());

    // Watches the server's memory while the uploads run; kills it past PEAK_KILL.
    let done = Arc::new(AtomicBool::new(false));
    let pid = server.pid();
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut killed = false;
            while !done.load(Ordering::Relaxed) && !killed {
                match common::child::status_field(pid, "VmRSS") {
                    Some(rss) if rss > PEAK_KILL => {
                        let _ = std::process::Command::new("kill")
                            .args(["-KILL", &pid.to_string()])
                            .status();
                        killed = true;
                    }
                    Some(_) => std::thread::sleep(Duration::from_millis(5)),
                    None => break,
                }
            }
            killed
        })
    };
    let start = Instant::now();
    let uploads: Vec<_> = (0..16)
        .map(|_| {
            let huge = huge.clone();
            std::thread::spawn(move || post(addr, "/api/runs/mlp/predict", &huge))
        })
        .collect();
    let answers: Vec<Option<(u16, Value)>> =
        uploads.into_iter().map(|u| u.join().unwrap()).collect();
    let seconds = start.elapsed().as_secs_f64();
    let peak = server.memory("VmHWM");
    done.store(true, Ordering::Relaxed);
    let killed = watchdog.join().unwrap();
    assert!(
        !killed,
        "the server went past {} MB resident and was killed",
        PEAK_KILL / 1_000_000
    );
    let statuses: Vec<Option<u16>> = answers.iter().map(|a| a.as_ref().map(|a| a.0)).collect();
    eprintln!(
        "16 uploads of a {} KB 6300×6300 PNG: statuses {statuses:?} in {seconds:.1} s; server peak \
         RSS {} MB (before them {} MB)",
        huge.len() / 1000,
        peak.unwrap_or(0) / 1_000_000,
        before / 1_000_000
    );
    for answer in &answers {
        let (status, body) = answer.as_ref().expect("every upload is answered");
        match status {
            200 => assert_eq!(
                body["prepared"].as_array().map(Vec::len),
                Some(784),
                "{body}"
            ),
            400 | 413 | 503 => assert!(body["error"].is_string(), "{status}: {body}"),
            other => panic!("status {other}: {body}"),
        }
    }
    assert!(
        statuses.contains(&Some(200)),
        "not one was predicted: {statuses:?}"
    );
    let peak = peak.expect("the server is still running");
    assert!(
        peak <= PEAK_GOAL,
        "peak RSS {} MB, over the goal of {} MB",
        peak / 1_000_000,
        PEAK_GOAL / 1_000_000
    );
    // And it goes on answering.
    let (status, again) = post(addr, "/api/runs/mlp/predict", &canvas).unwrap();
    assert_eq!(
        (status, &again["probabilities"]),
        (200, &warm["probabilities"])
    );
    server.kill();
}

/// The server stops on `signal`, removing its scratch folder (figures drawn in it first).
fn stops_on_signal_leaving_no_scratch_folder(artifacts: &Path, signal: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = ChildServer::start(artifacts, tmp.path());
    let response = ureq::get(&format!("http://{}/compare?runs=linear,mlp", server.addr))
        .timeout(Duration::from_secs(60))
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    let scratch = common::scratch_folders(tmp.path());
    assert_eq!(scratch.len(), 1, "{scratch:?}");
    // Each run's confusion matrix and the disagreements (the web page draws its curves with
    // the interactive charts, not as figures).
    let figures = std::fs::read_dir(&scratch[0]).unwrap().count();
    assert!(
        figures >= 3,
        "{figures} figures in {}",
        scratch[0].display()
    );
    server.signal(signal);
    let status = server
        .wait(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the server did not stop within 20 s of SIG{signal}"));
    assert!(status.success(), "SIG{signal}: {status}");
    let left = common::scratch_folders(tmp.path());
    assert!(left.is_empty(), "left behind after SIG{signal}: {left:?}");
}

fn sigterm_stops_the_server_and_removes_its_scratch_folder(artifacts: &Path) {
    stops_on_signal_leaving_no_scratch_folder(artifacts, "TERM");
}

fn sigint_stops_the_server_and_removes_its_scratch_folder(artifacts: &Path) {
    stops_on_signal_leaving_no_scratch_folder(artifacts, "INT");
}

/// A test: its name and its body, given the fixture runs' artifacts folder.
type Test = (&'static str, fn(&Path));

fn main() {
    common::child::serve_if_child();
    let tests: [Test; 3] = [
        (
            "sixteen_huge_uploads_at_once_are_answered_within_400_mb",
            sixteen_huge_uploads_at_once_are_answered_within_400_mb,
        ),
        (
            "sigterm_stops_the_server_and_removes_its_scratch_folder",
            sigterm_stops_the_server_and_removes_its_scratch_folder,
        ),
        (
            "sigint_stops_the_server_and_removes_its_scratch_folder",
            sigint_stops_the_server_and_removes_its_scratch_folder,
        ),
    ];
    // libtest's options (--nocapture, --test-threads, ...) mean nothing here; a word is a filter.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if std::env::args().any(|a| a == "--list") {
        for (name, _) in tests {
            println!("{name}: test");
        }
        return;
    }
    let chosen: Vec<_> = tests
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", chosen.len());
    if chosen.is_empty() {
        return;
    }
    // Fixture runs, trained once for all the tests, in a folder removed before exiting.
    let dir = tempfile::tempdir().unwrap();
    let artifacts = common::fixture_runs(dir.path());
    let mut failed = Vec::new();
    for (name, test) in chosen {
        let outcome = std::panic::catch_unwind(|| test(&artifacts));
        println!(
            "test {name} ... {}",
            if outcome.is_ok() { "ok" } else { "FAILED" }
        );
        if outcome.is_err() {
            failed.push(*name);
        }
    }
    drop(dir);
    if !failed.is_empty() {
        println!("\nfailures: {failed:?}");
        std::process::exit(1);
    }
    println!("\ntest result: ok");
}
