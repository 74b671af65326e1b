//! The API against a real server on an ephemeral loopback port, over fixture runs: each endpoint,
//! each bad input with its status code, path traversal, and runs that appear, change or vanish
//! while the server runs.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use mnist_infer::predict;
use mnist_serve::catalog::MAX_POINTS;
use mnist_trainer::backend::default_backend;
use mnist_trainer::run::dir::Weights;
use mnist_trainer::run::metrics::{IterationRecord, metrics_csv};
use mnist_trainer::testing::{TestConfig, mnist_idx};
use serde_json::Value;

/// Status and body (JSON, or the text as a JSON string) of a request.
fn send(request: ureq::Request, body: Option<(&str, &[u8])>) -> (u16, Value) {
    let request = request.timeout(Duration::from_secs(30));
    let result = match body {
        Some((content_type, bytes)) => request.set("Content-Type", content_type).send_bytes(bytes),
        None => request.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("no answer: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    send(ureq::get(&format!("http://{addr}{path}")), None)
}

fn post(addr: SocketAddr, path: &str, content_type: &str, bytes: &[u8]) -> (u16, Value) {
    send(
        ureq::post(&format!("http://{addr}{path}")),
        Some((content_type, bytes)),
    )
}

/// A GET sent byte for byte (HTTP clients normalise `..` and `%2e%2e` away before sending, which
/// would test the client, not the server): status and raw response.
fn raw_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{path}: no status line in {response:?}"));
    (status, response)
}

/// A value as it arrives over the wire: printed and parsed again (floats print as their
/// shortest form, which parses back to the nearest value, not always the same bits).
fn wire(v: Value) -> Value {
    serde_json::from_str(&v.to_string()).unwrap()
}

fn error_of(v: &Value) -> &str {
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {v}"))
}

#[test]
fn the_api_answers_good_and_bad_requests_and_follows_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = common::fixture_runs(dir.path());
    // A half-written run (a folder without config.toml) and a broken one (a damaged config).
    std::fs::create_dir(artifacts.join("half")).unwrap();
    std::fs::create_dir(artifacts.join("broken")).unwrap();
    std::fs::write(artifacts.join("broken/config.toml"), "batch_size = [").unwrap();
    let addr = common::start_server(&artifacts);

    // --- GET /api/runs: every run directory, the bad ones with what is wrong ---
    let (status, runs) = get(addr, "/api/runs");
    assert_eq!(status, 200);
    let runs = runs.as_array().unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["broken", "half", "linear", "mlp"]);
    let by_name = |n: &str| runs.iter().find(|r| r["name"] == n).unwrap().clone();
    let mlp = by_name("mlp");
    assert_eq!(mlp["state"], "finished");
    assert_eq!(
        (mlp["epochs_done"].as_u64(), mlp["epochs_planned"].as_u64()),
        (Some(5), Some(5))
    );
    assert!(mlp["test_accuracy"].as_f64().unwrap() > 0.5, "{mlp}");
    assert_eq!(mlp["trainer"], "learner");
    // When model.bpk was written: what the draw page picks the most recent finished run by.
    let written = std::fs::metadata(artifacts.join("mlp/model.bpk"))
        .and_then(|m| m.modified())
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(mlp["model_time"], written, "{mlp}");
    assert_eq!(by_name("half")["model_time"], Value::Null);
    assert_eq!(by_name("linear")["trainer"], "scratch");
    for bad in ["half", "broken"] {
        let run = by_name(bad);
        assert_eq!(run["state"], "broken", "{run}");
        assert!(
            run["note"].as_str().unwrap().contains("config.toml"),
            "{run}"
        );
    }

    // --- GET /api/runs/<name> ---
    let (status, detail) = get(addr, "/api/runs/mlp");
    assert_eq!(status, 200);
    assert_eq!(detail["epochs"].as_array().unwrap().len(), 5);
    assert!(
        detail["figures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "epochs.png")
    );
    let (status, body) = get(addr, "/api/runs/nothing");
    assert_eq!(status, 404);
    assert!(error_of(&body).contains("nothing"));

    // --- POST /api/runs/<name>/predict: the object `mnist predict --json` prints ---
    let test = mnist_data::load(Some(&mnist_idx())).unwrap().test;
    let drawing = common::canvas_png(test.image(0));
    let (status, answer) = post(addr, "/api/runs/mlp/predict", "image/png", &drawing);
    assert_eq!(status, 200, "{answer}");
    let device = default_backend().device;
    let run = mnist_trainer::run::dir::RunDir::new(artifacts.join("mlp"));
    let (_, model) = mnist_infer::model::open(&run, Weights::Final, &device).unwrap();
    let expected = serde_json::to_value(
        predict::predict_bytes(&model, "upload", &drawing, false, &device).unwrap(),
    )
    .unwrap();
    assert_eq!(answer, wire(expected));
    assert_eq!(answer["probabilities"].as_array().unwrap().len(), 10);
    assert_eq!(answer["prepared"].as_array().unwrap().len(), 784);
    // A 28×28 array, as rows or flat, gives what the same pixels give through --raw.
    let rows: Vec<Vec<u8>> = test.image(0).chunks(28).map(<[u8]>::to_vec).collect();
    let json = serde_json::json!({ "pixels": rows }).to_string();
    let (status, by_rows) = post(
        addr,
        "/api/runs/linear/predict",
        "application/json",
        json.as_bytes(),
    );
    assert_eq!(status, 200, "{by_rows}");
    let flat = serde_json::json!({ "pixels": test.image(0) }).to_string();
    let (_, by_flat) = post(
        addr,
        "/api/runs/linear/predict",
        "application/json",
        flat.as_bytes(),
    );
    assert_eq!(by_rows, by_flat);
    assert_eq!(by_rows["prepared"].as_array().unwrap().len(), 784);

    // --- bad input: 400 with a reason, 404, 413; the server goes on answering ---
    let blank = common::png(&image::GrayImage::from_pixel(280, 280, image::Luma([255])));
    let too_wide = common::png(&image::GrayImage::from_pixel(10_001, 1, image::Luma([0])));
    let big = vec![0u8; mnist_serve::MAX_BODY + 1];
    let cases: [(&str, &str, &[u8], u16, &str); 9] = [
        (
            "/api/runs/mlp/predict",
            "image/png",
            b"not an image at all",
            400,
            "not an image",
        ),
        (
            "/api/runs/mlp/predict",
            "image/png",
            &blank,
            400,
            "blank image",
        ),
        (
            "/api/runs/mlp/predict",
            "image/png",
            &too_wide,
            400,
            "over the limit",
        ),
        ("/api/runs/mlp/predict", "image/png", b"", 400, "empty body"),
        (
            "/api/runs/mlp/predict",
            "application/json",
            b"{\"pixels\": [1, 2",
            400,
            "malformed JSON",
        ),
        (
            "/api/runs/mlp/predict",
            "application/json",
            b"{\"pixels\": [1, 2, 3]}",
            400,
            "784",
        ),
        (
            "/api/runs/mlp/predict",
            "application/json",
            &[b'0'; 10],
            400,
            "malformed JSON",
        ),
        (
            "/api/runs/nothing/predict",
            "image/png",
            &drawing,
            404,
            "nothing",
        ),
        ("/api/runs/mlp/predict", "image/png", &big, 413, ""),
    ];
    for (path, content_type, body, want, why) in cases {
        let (status, answer) = post(addr, path, content_type, body);
        assert_eq!(status, want, "{path} {why}: {answer}");
        if want != 413 {
            assert!(error_of(&answer).contains(why), "{why}: {answer}");
        }
    }
    let zeros = serde_json::json!({ "pixels": vec![0; 784] }).to_string();
    let (status, answer) = post(
        addr,
        "/api/runs/mlp/predict",
        "application/json",
        zeros.as_bytes(),
    );
    assert_eq!(
        (status, error_of(&answer).contains("blank")),
        (400, true),
        "{answer}"
    );
    // --raw wants 28×28.
    let (status, answer) = post(
        addr,
        "/api/runs/mlp/predict?raw=true",
        "image/png",
        &drawing,
    );
    assert_eq!(
        (status, error_of(&answer).contains("28×28")),
        (400, true),
        "{answer}"
    );

    // --- nothing outside the artifacts folder is ever read ---
    std::fs::write(dir.path().join("secret.toml"), "batch_size = 1").unwrap();
    for path in [
        "/api/runs/..",
        "/api/runs/%2e%2e",
        "/api/runs/..%2Fartifacts%2Fmlp",
        "/api/runs/%2Fetc%2Fpasswd",
        "/api/runs/..%2F..%2Fetc",
        "/runs/%2e%2e/",
        "/runs/mlp/..%2Fconfig.toml",
        "/runs/mlp/config.toml",
        "/runs/mlp/%2e%2e%2fsecret.toml",
        "/compare/..%2Fsecret.toml",
        "/assets/..%2F..%2FCargo.toml",
    ] {
        let (status, body) = raw_get(addr, path);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(!body.contains("batch_size"), "{path} leaked a file");
    }
    for path in ["/runs/../Cargo.toml", "/../../etc/passwd"] {
        let (status, body) = raw_get(addr, path);
        assert_eq!(status, 404, "{path}: {body}");
    }

    // --- pages ---
    for path in [
        "/",
        "/draw",
        "/runs/mlp/",
        "/assets/app.js",
        "/assets/app.css",
    ] {
        assert_eq!(get(addr, path).0, 200, "{path}");
    }
    let (status, page) = get(addr, "/runs/mlp/");
    assert_eq!(status, 200);
    let page = page.as_str().unwrap().to_string();
    assert!(
        page.contains("id=\"canvas\"") && page.contains("epochs.png"),
        "{page}"
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the page needs the network"
    );
    assert_eq!(get(addr, "/runs/mlp/epochs.png").0, 200);
    assert_eq!(get(addr, "/runs/nothing/").0, 404);

    // --- runs appear, change and vanish while the server runs ---
    common::train_run(&artifacts, "late", TestConfig::scratch().epochs(1));
    let (_, runs) = get(addr, "/api/runs");
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "late" && r["state"] == "finished")
    );
    let (_, before) = post(addr, "/api/runs/late/predict", "image/png", &drawing);
    // Rewritten (`--force` with another seed): the new weights answer, not the cached ones.
    std::thread::sleep(Duration::from_millis(20)); // a distinct modification time
    common::train_run(&artifacts, "late", TestConfig::scratch().epochs(1).seed(99));
    let (_, after) = post(addr, "/api/runs/late/predict", "image/png", &drawing);
    assert_ne!(before["probabilities"], after["probabilities"]);
    let late = mnist_trainer::run::dir::RunDir::new(artifacts.join("late"));
    let (_, model) = mnist_infer::model::open(&late, Weights::Final, &device).unwrap();
    let fresh = predict::predict_bytes(&model, "upload", &drawing, false, &device).unwrap();
    assert_eq!(after, wire(serde_json::to_value(fresh).unwrap()));
    // Deleted: its pages and API say so; the server goes on.
    std::fs::remove_dir_all(artifacts.join("late")).unwrap();
    assert_eq!(get(addr, "/api/runs/late").0, 404);
    assert_eq!(get(addr, "/runs/late/").0, 404);
    assert_eq!(
        post(addr, "/api/runs/late/predict", "image/png", &drawing).0,
        404
    );
    // Its final model removed: a 409 that says so.
    std::fs::remove_file(artifacts.join("linear/model.bpk")).unwrap();
    let (status, answer) = post(addr, "/api/runs/linear/predict", "image/png", &drawing);
    assert_eq!(status, 409, "{answer}");
    assert!(error_of(&answer).contains("no final model"));
    let (status, runs) = get(addr, "/api/runs");
    assert_eq!(status, 200);
    let linear = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "linear")
        .unwrap()
        .clone();
    assert_eq!(linear["state"], "interrupted", "{linear}");
}

#[test]
fn compare_needs_two_readable_runs() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = common::fixture_runs(dir.path());
    let addr = common::start_server(&artifacts);
    let (status, page) = get(addr, "/compare?runs=linear,mlp");
    assert_eq!(status, 200, "{page}");
    let page = page.as_str().unwrap().to_string();
    // The curves are the page's interactive charts, not figures drawn a second time.
    assert!(page.contains("id=\"charts\""), "{page}");
    for curves in ["epochs.png", "nll.png"] {
        assert!(!page.contains(curves), "{curves} on the page: {page}");
    }
    for figure in ["disagreements.png", "matrix-0.png", "matrix-1.png"] {
        let src = page
            .split("src=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap())
            .find(|s| s.ends_with(figure))
            .unwrap_or_else(|| panic!("no {figure} in {page}"));
        assert_eq!(get(addr, src).0, 200, "{src}");
    }
    for bad in [
        "/compare",
        "/compare?runs=mlp",
        "/compare?runs=mlp,nothing",
        "/compare?runs=mlp,..",
    ] {
        assert_eq!(get(addr, bad).0, 404, "{bad}");
    }
}

/// Status, content type and JSON body of a request with any method, with the server's token (so
/// that what is tested is the route, not the token check).
fn call(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String, Value) {
    let request = ureq::request(method, &format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(30))
        .set("Content-Type", "image/png")
        .set("Authorization", &format!("Bearer {}", common::TEST_TOKEN));
    let result = if body.is_empty() {
        request.call()
    } else {
        request.send_bytes(body)
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: no answer: {e}"),
    };
    let status = response.status();
    let content_type = response.header("Content-Type").unwrap_or("").to_string();
    let text = response.into_string().unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, json)
}

#[test]
fn every_api_error_is_json_with_its_status() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = common::fixture_runs(dir.path());
    let addr = common::start_server(&artifacts);
    let test = mnist_data::load(Some(&mnist_idx())).unwrap().test;
    let drawing = common::canvas_png(test.image(0));
    let big = vec![0u8; mnist_serve::MAX_BODY + 1];
    // Rows of 29 and 27 values: 784 in all, but not 28×28.
    let uneven: Vec<Vec<u8>> = (0..28).map(|r| vec![9; 28 + 1 - 2 * (r % 2)]).collect();
    let uneven = serde_json::json!({ "pixels": uneven }).to_string();
    let cases: [(&str, &str, &[u8], u16, &str); 9] = [
        (
            "POST",
            "/api/runs/mlp/predict",
            &big,
            413,
            "over the limit of 10 MB",
        ),
        (
            "POST",
            "/api/runs/mlp/predict?raw=maybe",
            &drawing,
            400,
            "query string",
        ),
        (
            "GET",
            "/api/runs/mlp/predict",
            b"",
            405,
            "GET is not allowed",
        ),
        ("DELETE", "/api/runs", b"", 405, "DELETE is not allowed"),
        (
            "POST",
            "/api/runs/mlp",
            &drawing,
            405,
            "POST is not allowed",
        ),
        (
            "GET",
            "/api/nothing",
            b"",
            404,
            "no API endpoint GET /api/nothing",
        ),
        (
            "GET",
            "/api/runs/mlp/predict/more",
            b"",
            404,
            "no API endpoint",
        ),
        ("GET", "/api", b"", 404, "no API endpoint"),
        (
            "GET",
            "/api/runs/nothing",
            b"",
            404,
            "no run called `nothing`",
        ),
    ];
    for (method, path, body, want, why) in cases {
        let (status, content_type, answer) = call(addr, method, path, body);
        assert_eq!(status, want, "{method} {path}: {answer}");
        assert!(
            content_type.starts_with("application/json"),
            "{method} {path}: {content_type} {answer}"
        );
        assert!(error_of(&answer).contains(why), "{method} {path}: {answer}");
    }
    let (status, answer) = post(
        addr,
        "/api/runs/mlp/predict",
        "application/json",
        uneven.as_bytes(),
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(error_of(&answer), "pixels row 0 has 29 values, expected 28");
    // The page is still HTML where there is no page.
    let (status, content_type, _) = call(addr, "GET", "/nothing", b"");
    assert_eq!((status, content_type.starts_with("text/html")), (404, true));
    // And after all that the API answers.
    let (status, answer) = post(addr, "/api/runs/mlp/predict", "image/png", &drawing);
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn a_model_copied_over_with_its_time_kept_is_loaded_again() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = dir.path().join("artifacts");
    common::train_run(&artifacts, "a", TestConfig::scratch().epochs(1));
    common::train_run(&artifacts, "b", TestConfig::scratch().epochs(1).seed(99));
    let addr = common::start_server(&artifacts);
    let test = mnist_data::load(Some(&mnist_idx())).unwrap().test;
    let drawing = common::canvas_png(test.image(0));
    let (_, from_a) = post(addr, "/api/runs/a/predict", "image/png", &drawing);
    let (_, from_b) = post(addr, "/api/runs/b/predict", "image/png", &drawing);
    assert_ne!(from_a["probabilities"], from_b["probabilities"]);
    // `cp -p b/model.bpk a/model.bpk`: the same file written over, same size, time kept.
    let (a, b) = (artifacts.join("a/model.bpk"), artifacts.join("b/model.bpk"));
    let before = std::fs::metadata(&a).unwrap();
    let bytes = std::fs::read(&b).unwrap();
    assert_eq!(
        bytes.len() as u64,
        before.len(),
        "same architecture, same size"
    );
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&a)
        .unwrap();
    std::io::Write::write_all(&mut file, &bytes).unwrap();
    file.set_modified(before.modified().unwrap()).unwrap();
    drop(file);
    let after = std::fs::metadata(&a).unwrap();
    assert_eq!(
        (after.modified().unwrap(), after.len()),
        (before.modified().unwrap(), before.len())
    );
    let (status, now) = post(addr, "/api/runs/a/predict", "image/png", &drawing);
    assert_eq!(status, 200, "{now}");
    assert_eq!(now["probabilities"], from_b["probabilities"]);
}

/// The figure addresses of a compare page, in order.
fn figure_sources(page: &Value) -> Vec<String> {
    let page = page.as_str().unwrap();
    page.split("src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .filter(|s| s.starts_with("/compare/"))
        .collect()
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn comparisons_are_kept_per_weights_version_and_old_figures_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = common::fixture_runs(dir.path());
    common::train_run(&artifacts, "third", TestConfig::scratch().epochs(1).seed(7));
    let addr = common::start_server(&artifacts);
    // Made at the first comparison: a server killed before one leaves nothing behind.
    assert_eq!(
        common::scratch_folders(dir.path()),
        Vec::<std::path::PathBuf>::new()
    );

    let (status, first) = get(addr, "/compare?runs=linear,mlp");
    assert_eq!(status, 200, "{first}");
    let scratch = common::scratch_folders(dir.path());
    assert_eq!(scratch.len(), 1, "{scratch:?}");
    let scratch = &scratch[0];
    let figures = figure_sources(&first);
    // Disagreements and two confusion matrices (the curves are the page's charts).
    assert_eq!(figures.len(), 3, "{figures:?}");
    let drawn = files_in(scratch);
    assert_eq!(drawn, 3);
    // Asked again: the same page and figures, nothing drawn anew.
    let start = std::time::Instant::now();
    let (status, again) = get(addr, "/compare?runs=linear,mlp");
    eprintln!("repeated comparison: {:?}", start.elapsed());
    assert_eq!(status, 200);
    assert_eq!(again, first);
    assert_eq!(files_in(scratch), drawn);

    // New weights for a run: compared anew.
    common::train_run(&artifacts, "mlp", TestConfig::mlp(64).epochs(2).seed(5));
    let (status, retrained) = get(addr, "/compare?runs=linear,mlp");
    assert_eq!(status, 200);
    assert_ne!(figure_sources(&retrained), figures);
    for src in figure_sources(&retrained) {
        assert_eq!(get(addr, &src).0, 200, "{src}");
    }

    // Many different comparisons: only the last few keep their figures on disk.
    let runs = ["linear", "mlp", "third"];
    let mut asked = 0;
    for a in runs {
        for b in runs.iter().filter(|&&b| b != a) {
            for c in [None, runs.iter().find(|&&c| c != a && c != *b)] {
                let names = match c {
                    Some(c) => format!("{a},{b},{c}"),
                    None => format!("{a},{b}"),
                };
                let (status, page) = get(addr, &format!("/compare?runs={names}"));
                assert_eq!(status, 200, "{names}: {page}");
                asked += 1;
            }
        }
    }
    assert_eq!(asked, 12);
    let kept = files_in(scratch);
    assert!(
        kept <= mnist_serve::KEPT_COMPARISONS * 6,
        "{kept} figure files kept"
    );
    // The retrained comparison was asked for since; the very first one is long gone.
    assert_eq!(get(addr, &figures[0]).0, 404, "{}", figures[0]);
}

/// `GET /api/runs/<name>/metrics`'s iteration points as (iteration, epoch, loss, accuracy,
/// count).
fn points(answer: &Value) -> Vec<(u64, u64, f64, f64, u64)> {
    answer["iterations"]
        .as_array()
        .unwrap_or_else(|| panic!("no iterations in {answer}"))
        .iter()
        .map(|p| {
            (
                p["iteration"].as_u64().unwrap(),
                p["epoch"].as_u64().unwrap(),
                p["loss"].as_f64().unwrap(),
                p["accuracy"].as_f64().unwrap(),
                p["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `n` iterations of `per_epoch` each whose loss is the iteration's number and whose accuracy
/// is its remainder by 100, over 100: every bucket's mean is known.
fn numbered_iterations(n: usize, per_epoch: usize) -> Vec<IterationRecord> {
    (1..=n)
        .map(|i| IterationRecord {
            epoch: (i - 1) / per_epoch + 1,
            iteration: i,
            loss: i as f64,
            accuracy: (i % 100) as f64 / 100.0,
            weights_updated: None,
        })
        .collect()
}

#[test]
fn metrics_come_after_since_averaged_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = dir.path().join("artifacts");
    let mlp = common::train_run(&artifacts, "mlp", TestConfig::mlp(16).epochs(2));
    // `fresh`: a run with its config and no records yet. `long`: 12,345 iterations, more than
    // the answer may hold.
    for name in ["fresh", "long"] {
        std::fs::create_dir(artifacts.join(name)).unwrap();
        std::fs::copy(mlp.config_file(), artifacts.join(name).join("config.toml")).unwrap();
    }
    let metrics_csv = |name: &str, n: usize| {
        let text = metrics_csv(&[], &numbered_iterations(n, 1000));
        std::fs::write(artifacts.join(name).join("metrics.csv"), text).unwrap();
    };
    metrics_csv("long", 12_345);
    let addr = common::start_server(&artifacts);

    // A real run, under the bound: every iteration as recorded, and its epochs.
    let (status, answer) = get(addr, "/api/runs/mlp/metrics");
    assert_eq!(status, 200, "{answer}");
    let recorded = mlp.iterations().unwrap();
    assert!(recorded.len() > 2, "{} iterations", recorded.len());
    // Through the wire, as the answer came (its floats parse back to the nearest value).
    let expected = points(&wire(serde_json::json!({
        "iterations": recorded
            .iter()
            .map(|r| serde_json::json!({
                "iteration": r.iteration, "epoch": r.epoch, "loss": r.loss,
                "accuracy": r.accuracy, "count": 1
            }))
            .collect::<Vec<_>>()
    })));
    assert_eq!(points(&answer), expected);
    assert_eq!(answer["every"], 1);
    assert_eq!(answer["state"], "finished");
    assert_eq!(
        answer["epochs"],
        wire(serde_json::to_value(mlp.epochs().unwrap()).unwrap())
    );
    let last = recorded.last().unwrap().iteration;
    assert_eq!(answer["next_since"], last);
    // `since` leaves out what the page has.
    let (_, later) = get(addr, &format!("/api/runs/mlp/metrics?since={}", last - 2));
    assert_eq!(points(&later), expected[expected.len() - 2..]);
    let (_, none) = get(addr, &format!("/api/runs/mlp/metrics?since={last}"));
    assert_eq!(points(&none), []);
    assert_eq!(none["next_since"], last);

    // 12,345 iterations: at most MAX_POINTS points, each the mean of its bucket.
    let check_means = |answer: &Value, since: u64| {
        let every = answer["every"].as_u64().unwrap();
        let points = points(answer);
        assert!(points.len() <= MAX_POINTS, "{} points", points.len());
        let mut next = since + 1;
        for &(iteration, epoch, loss, accuracy, count) in &points {
            // The bucket holds iterations `next..=iteration`, aligned to multiples of `every`.
            assert_eq!(count, iteration - next + 1, "{iteration}");
            assert!(iteration % every == 0 || iteration == 12_345, "{iteration}");
            assert_eq!((iteration - 1) / every, (next - 1) / every, "{iteration}");
            assert_eq!(loss, (next + iteration) as f64 / 2.0, "{iteration}");
            let acc: f64 = (next..=iteration).map(|i| (i % 100) as f64 / 100.0).sum();
            assert!((accuracy - acc / count as f64).abs() < 1e-12, "{iteration}");
            assert_eq!(epoch, (iteration - 1) / 1000 + 1);
            next = iteration + 1;
        }
        assert_eq!(next, 12_346, "the points end at the last iteration");
        assert_eq!(answer["recorded"], 12_345 - since);
        points
    };
    let (status, long) = get(addr, "/api/runs/long/metrics");
    assert_eq!(status, 200, "{long}");
    let all = check_means(&long, 0);
    assert_eq!(long["every"], 7, "12,345 / 2,000 rounded up");
    // Asking for every iteration still keeps the bound.
    let (_, raw) = get(addr, "/api/runs/long/metrics?every=1");
    assert_eq!(raw["every"], 7);
    // Coarser buckets when asked; raw points past a `since` near the end.
    let (_, coarse) = get(addr, "/api/runs/long/metrics?every=100&since=5000");
    assert_eq!(coarse["every"], 100);
    assert_eq!(check_means(&coarse, 5000).len(), 74);
    let (_, tail) = get(addr, "/api/runs/long/metrics?every=1&since=12000");
    assert_eq!(tail["every"], 1);
    assert_eq!(check_means(&tail, 12_000).len(), 345);
    // The next request, from `next_since`, gets the bucket still open again, whole and the same.
    let next = long["next_since"].as_u64().unwrap();
    assert_eq!(next, 12_341, "the end of the last full bucket of 7");
    let (_, again) = get(
        addr,
        &format!("/api/runs/long/metrics?since={next}&every=7"),
    );
    assert_eq!(points(&again), all[all.len() - 1..]);

    // While a run trains, each poll from `next_since` brings only what is new.
    let _lock = mnist_trainer::run::dir::RunDir::new(artifacts.join("long"))
        .lock()
        .unwrap();
    metrics_csv("long", 12_400);
    let (_, polled) = get(
        addr,
        &format!("/api/runs/long/metrics?since={next}&every=7"),
    );
    assert_eq!(polled["state"], "training");
    let polled = points(&polled);
    assert_eq!(
        polled.iter().map(|p| p.0).collect::<Vec<_>>(),
        (12_348..=12_400)
            .step_by(7)
            .chain([12_400])
            .collect::<Vec<_>>()
    );
    assert_eq!(polled.iter().map(|p| p.4).sum::<u64>(), 12_400 - next);

    // A run with no records yet.
    let (status, fresh) = get(addr, "/api/runs/fresh/metrics?since=5");
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(points(&fresh), []);
    assert_eq!(fresh["epochs"], Value::Array(vec![]));
    assert_eq!(fresh["next_since"], 5);

    // Unknown runs, bad queries and damaged records: JSON errors.
    for (path, code, says) in [
        ("/api/runs/nothing/metrics", 404, "nothing"),
        ("/api/runs/..%2Fartifacts/metrics", 404, "no run"),
        ("/api/runs/mlp/metrics?since=-1", 400, "since"),
        ("/api/runs/mlp/metrics?since=abc", 400, "since"),
        ("/api/runs/mlp/metrics?every=0", 400, "every"),
    ] {
        let (status, answer) = get(addr, path);
        assert_eq!(status, code, "{path}: {answer}");
        assert!(error_of(&answer).contains(says), "{path}: {answer}");
    }
    std::fs::write(
        artifacts.join("fresh/metrics.csv"),
        "scope,epoch,iteration,split,loss,accuracy,weights_updated\niteration,1,x,train,1,1,\n",
    )
    .unwrap();
    let (status, damaged) = get(addr, "/api/runs/fresh/metrics");
    assert_eq!(status, 409, "{damaged}");
    assert!(error_of(&damaged).contains("line 2"), "{damaged}");
}

#[test]
fn a_training_run_shows_its_epoch_in_progress() {
    use mnist_trainer::run::dir::RunDir;
    use mnist_trainer::run::live::LiveProgress;
    use mnist_trainer::run::metrics::{EpochRecord, epochs_csv};
    let dir = tempfile::tempdir().unwrap();
    let artifacts = dir.path().join("artifacts");
    let mlp = common::train_run(&artifacts, "mlp", TestConfig::mlp(16).epochs(2));
    // `live`: epoch 1 (10 iterations, 10 s) recorded, epoch 2 of 3 in progress.
    let run = RunDir::new(artifacts.join("live"));
    std::fs::create_dir(run.path()).unwrap();
    std::fs::copy(mlp.config_file(), run.config_file()).unwrap();
    let epoch_1 = EpochRecord {
        epoch: 1,
        train_loss: 1.0,
        train_acc: 0.5,
        valid_loss: 1.0,
        valid_acc: 0.5,
        seconds: 10.0,
        train_seconds: 9.0,
    };
    let recorded = |n: usize| {
        let iterations = numbered_iterations(n, 10);
        std::fs::write(
            run.path().join("metrics.csv"),
            metrics_csv(std::slice::from_ref(&epoch_1), &iterations),
        )
        .unwrap();
    };
    std::fs::write(
        run.path().join("epochs.csv"),
        epochs_csv(std::slice::from_ref(&epoch_1)),
    )
    .unwrap();
    recorded(10);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let progress = |items_done: usize| LiveProgress {
        epoch: 2,
        epochs: 3,
        phase: "train".into(),
        items_done,
        items_total: 200,
        epoch_started: now - 4.0,
    };
    let all = numbered_iterations(20, 10);
    let mut writer = run.live_writer();
    for r in &all[10..14] {
        writer.push(r, None);
    }
    writer.flush(&progress(80)).unwrap();
    let addr = common::start_server(&artifacts);
    let summary = || {
        let (status, runs) = get(addr, "/api/runs");
        assert_eq!(status, 200, "{runs}");
        runs.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "live")
            .unwrap()
            .clone()
    };
    let iterations = |since: usize| {
        let (status, answer) = get(addr, &format!("/api/runs/live/metrics?since={since}"));
        assert_eq!(status, 200, "{answer}");
        points(&answer).iter().map(|p| p.0).collect::<Vec<u64>>()
    };

    // Nobody trains it: the live files are a killed trainer's, neither shown nor counted.
    let idle = summary();
    assert_eq!(idle["state"], "interrupted", "{idle}");
    assert_eq!(idle["progress"], Value::Null, "{idle}");
    assert_eq!(iterations(0), (1..=10).collect::<Vec<_>>());

    // Trained (its lock held): the progress, and the iterations of the epoch so far.
    let lock = run.lock().unwrap();
    let training = summary();
    assert_eq!(training["state"], "training", "{training}");
    let p = &training["progress"];
    assert_eq!(
        (&p["epoch"], &p["epochs"], &p["phase"]),
        (&Value::from(2), &Value::from(3), &Value::from("train")),
        "{p}"
    );
    assert_eq!(
        (&p["items_done"], &p["items_total"]),
        (&Value::from(80), &Value::from(200))
    );
    // 6 s left of a 10 s epoch, and one more epoch: 16 s (less the test's own time).
    let eta = p["eta_seconds"].as_f64().unwrap_or_else(|| panic!("{p}"));
    assert!((10.0..=16.0).contains(&eta), "{eta}");
    assert_eq!(iterations(0), (1..=14).collect::<Vec<_>>());
    assert_eq!(iterations(12), [13, 14]);
    // The values are the live file's, as written.
    let (_, answer) = get(addr, "/api/runs/live/metrics?since=13");
    assert_eq!(points(&answer), [(14, 2, 14.0, 0.14, 1)]);
    // Appended rows come with the next poll.
    writer.push(&all[14], None);
    writer.push(&all[15], None);
    writer.flush(&progress(120)).unwrap();
    assert_eq!(iterations(14), [15, 16]);
    assert_eq!(summary()["progress"]["items_done"], 120);
    // The epoch ends: metrics.csv has it, the live rows still there are not counted twice.
    recorded(20);
    assert_eq!(iterations(0), (1..=20).collect::<Vec<_>>());
    // A live file that does not continue metrics.csv (numbered past a gap) is not shown.
    recorded(10);
    writer.start_epoch().unwrap();
    writer.push(&all[15], None);
    writer.flush(&progress(20)).unwrap();
    assert_eq!(iterations(0), (1..=10).collect::<Vec<_>>());
    // Training over: no progress.
    drop(lock);
    assert_eq!(summary()["progress"], Value::Null);
}

/// The numbers of a JSON array.
fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn predict_explains_its_answer_and_runs_serve_their_weight_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = common::fixture_runs(dir.path());
    // A run from before snapshots: a copy of `linear` without its snapshots folder.
    let old = artifacts.join("old");
    std::fs::create_dir(&old).unwrap();
    for entry in std::fs::read_dir(artifacts.join("linear")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), old.join(entry.file_name())).unwrap();
        }
    }
    let addr = common::start_server(&artifacts);
    let device = default_backend().device;
    let test = mnist_data::load(Some(&mnist_idx())).unwrap().test;
    let drawing = common::canvas_png(test.image(0));

    // --- ?explain=true adds the explanation the library computes for the prepared image ---
    for name in ["linear", "mlp"] {
        let path = format!("/api/runs/{name}/predict?explain=true");
        let (status, answer) = post(addr, &path, "image/png", &drawing);
        assert_eq!(status, 200, "{answer}");
        let run = mnist_trainer::run::dir::RunDir::new(artifacts.join(name));
        let (_, model) = mnist_infer::model::open(&run, Weights::Final, &device).unwrap();
        let prepared: Vec<u8> = serde_json::from_value(answer["prepared"].clone()).unwrap();
        let expected = mnist_infer::explain::explain(&model, &prepared, &device);
        let e = &answer["explanation"];
        // As the server writes it: f32s printed in their shortest form (`to_value` would widen
        // them to f64 first).
        let expected: Value =
            serde_json::from_str(&serde_json::to_string(&expected).unwrap()).unwrap();
        assert!(
            *e == expected,
            "{name}: the explanation is not the library's"
        );
        assert_eq!(e["predicted"], answer["prediction"], "{name}");
        let logits = numbers(&e["logits"]);
        assert_eq!((logits.len(), numbers(&e["saliency"]).len()), (10, 784));
        if name == "linear" {
            // Each class's evidence map plus its bias is its logit.
            let bias = numbers(&e["bias"]);
            for (c, map) in e["evidence"].as_array().unwrap().iter().enumerate() {
                let map = numbers(map);
                assert_eq!(map.len(), 784);
                let sum: f64 = map.iter().sum::<f64>() + bias[c];
                assert!(
                    (sum - logits[c]).abs() < 1e-4,
                    "class {c}: {sum} vs {}",
                    logits[c]
                );
            }
        } else {
            let units = e["units"].as_array().unwrap();
            assert_eq!(units.len(), 8);
            for u in units {
                assert_eq!(numbers(&u["template"]).len(), 784, "{}", u["unit"]);
            }
            let total = numbers(&e["contributions"]).iter().sum::<f64>()
                + e["output_bias"].as_f64().unwrap();
            let logit = logits[e["predicted"].as_u64().unwrap() as usize];
            assert!((total - logit).abs() < 1e-4, "{total} vs {logit}");
        }
    }
    // Without the query there is no explanation: the answer stays what it was.
    let (_, plain) = post(addr, "/api/runs/mlp/predict", "image/png", &drawing);
    assert!(plain.get("explanation").is_none(), "{plain}");

    // --- GET /api/runs/<name>/snapshots and /snapshots/<step> ---
    // 5 epochs of 10 steps: the 1-2-5 steps and every epoch's end.
    let steps = [0, 1, 2, 5, 10, 20, 30, 40, 50];
    let metrics = mnist_trainer::run::dir::RunDir::new(artifacts.join("linear"))
        .iterations()
        .unwrap();
    for (name, model) in [("linear", "linear"), ("mlp", "mlp")] {
        let (status, list) = get(addr, &format!("/api/runs/{name}/snapshots"));
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["model"], model);
        let points = list["snapshots"].as_array().unwrap();
        let listed: Vec<u64> = points.iter().map(|p| p["step"].as_u64().unwrap()).collect();
        assert_eq!(listed, steps, "{name}");
        assert_eq!(
            points[0]["loss"],
            Value::Null,
            "no batch before the first step"
        );
        assert_eq!(points[4]["epoch"], 1);
        assert_eq!(points[4]["epoch_end"], true);
        if name == "linear" {
            // Each point's batch is metrics.csv's iteration of that number.
            let fifth = metrics.iter().find(|r| r.iteration == 5).unwrap();
            assert_eq!(points[3]["loss"].as_f64(), Some(fifth.loss));
        }
        let units = list["units"].as_array().unwrap().len();
        assert_eq!(units, if name == "mlp" { 10 } else { 0 });
        let (status, frame) = get(addr, &format!("/api/runs/{name}/snapshots/20"));
        assert_eq!(status, 200, "{frame}");
        let templates = frame["templates"].as_array().unwrap();
        assert_eq!(templates.len(), 10);
        assert!(templates.iter().all(|t| numbers(t).len() == 784));
        let (status, missing) = get(addr, &format!("/api/runs/{name}/snapshots/3"));
        assert_eq!(status, 404, "{missing}");
        assert!(error_of(&missing).contains("step 3"), "{missing}");
    }
    // The first linear snapshot is the seeded initial weights; the last, the final model's.
    let (_, last) = get(addr, "/api/runs/linear/snapshots/50");
    let run = mnist_trainer::run::dir::RunDir::new(artifacts.join("linear"));
    let (_, model) = mnist_infer::model::open(&run, Weights::Final, &device).unwrap();
    let mnist_models::Model::Linear(linear) = model else {
        unreachable!()
    };
    let w = linear.weights_vec();
    let digit_3: Vec<f64> = (1..=784).map(|r| w[r * 10 + 3] as f64).collect();
    let served = numbers(&last["templates"][3]);
    assert!(
        served
            .iter()
            .zip(&digit_3)
            .all(|(a, b)| (a - b).abs() < 1e-6),
        "the last snapshot is not the final weights"
    );
    // A run from before snapshots, and a step that is not a number.
    let (status, answer) = get(addr, "/api/runs/old/snapshots");
    assert_eq!(status, 404);
    assert!(
        error_of(&answer).contains("no weight snapshots"),
        "{answer}"
    );
    let (status, _) = get(addr, "/api/runs/linear/snapshots/many");
    assert_eq!(status, 400);
    let (status, _) = get(addr, "/api/runs/nothing/snapshots");
    assert_eq!(status, 404);
}
