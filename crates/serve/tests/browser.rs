//! The web app in a real browser: headless Chromium driven through ChromeDriver (W3C WebDriver,
//! loopback only, every wait bounded). The runs page, a run page, a test-set 7 traced onto the
//! canvas with mouse strokes, and the compare page.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Where they are missing the test says so and
//! passes, unless `MNIST_REQUIRE_BROWSER` is set (CI sets it). `MNIST_SCREENSHOTS=1` saves the
//! pages to `docs/screenshots/`; `MNIST_BROWSER_ARTIFACTS=DIR` serves DIR (with an `mlp` and a
//! `linear-scratch` run) instead of the fixture runs.

mod common;
mod webdriver;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use webdriver::Browser;

/// The strokes a pen would draw to copy a 28×28 image onto the 280×280 canvas: each horizontal
/// run of ink (levels above half) in a row, as one stroke through the pixel centres.
fn strokes(image: &[u8]) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    for y in 0..28 {
        let mut x = 0;
        while x < 28 {
            if image[y * 28 + x] > 128 {
                let start = x;
                while x < 28 && image[y * 28 + x] > 128 {
                    x += 1;
                }
                let centre = |c: usize| c as f64 * 10.0 + 5.0;
                out.push(vec![(centre(start), centre(y)), (centre(x - 1), centre(y))]);
            }
            x += 1;
        }
    }
    out
}

/// Centre of mass (x, y) of a 28×28 image.
fn centre_of_mass(pixels: &[u8]) -> (f64, f64) {
    let (mut m, mut mx, mut my) = (0.0, 0.0, 0.0);
    for (i, &p) in pixels.iter().enumerate() {
        let p = p as f64;
        m += p;
        mx += p * (i % 28) as f64;
        my += p * (i / 28) as f64;
    }
    (mx / m, my / m)
}

fn screenshot(browser: &Browser, name: &str) {
    if std::env::var_os("MNIST_SCREENSHOTS").is_none() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), browser.screenshot()).unwrap();
}

#[test]
fn runs_run_draw_and_compare_pages_work_in_chromium() {
    if !Browser::available() {
        assert!(
            std::env::var_os("MNIST_REQUIRE_BROWSER").is_none(),
            "install Debian's chromium and chromium-driver (bash .ci/run does)"
        );
        eprintln!(
            "skipping: no {} or {}",
            webdriver::CHROMIUM,
            webdriver::CHROMEDRIVER
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (artifacts, mlp, linear) = match std::env::var_os("MNIST_BROWSER_ARTIFACTS") {
        Some(a) => (PathBuf::from(a), "mlp", "linear-scratch"),
        None => (common::fixture_runs(dir.path()), "mlp", "linear"),
    };
    let addr = common::start_server(&artifacts);
    let base = format!("http://{addr}");
    let browser = Browser::start();

    // The runs page lists both runs with their accuracies, from the API, by script.
    browser.open(&format!("{base}/"));
    let rows = browser.wait(
        "the runs table",
        "const rows = [...document.querySelectorAll('#runs tbody tr')];\
         return rows.length >= 2 ? rows.map(r => [r.dataset.run, r.cells[9].textContent]) : null;",
    );
    for name in [mlp, linear] {
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("no {name} in {rows}"));
        assert!(row[1].as_str().unwrap().ends_with('%'), "{row}");
    }
    screenshot(&browser, "runs.png");

    // A run page: its report's figures load.
    browser.open(&format!("{base}/runs/{mlp}/"));
    browser.wait(
        "the epochs figure",
        "const img = document.querySelector('img[src=\"epochs.png\"]');\
         return img && img.complete && img.naturalWidth > 0;",
    );

    // Draw the first test-set 7 with the mouse, a stroke per horizontal run of ink.
    let plan = mnist_trainer::rundir::RunDir::new(artifacts.join(mlp))
        .plan()
        .unwrap();
    let test = mnist_data::load(Some(plan.data())).unwrap().test;
    let seven = (0..test.len()).find(|&i| test.label(i) == 7).unwrap();
    let strokes = strokes(test.image(seven));
    let canvas = browser.element("#canvas");
    browser.run(
        "window.scrollTo(0, document.getElementById('canvas').offsetTop - 20);",
        json!([]),
    );
    browser.draw(&canvas, (280.0, 280.0), &strokes);
    // Every stroke sent a prediction; the page shows the last drawing's.
    let result = browser.wait(
        "the prediction of the whole drawing",
        "return window.pendingPredictions === 0 && window.lastPrediction;",
    );
    let shown = browser.run(
        "return document.getElementById('prediction').textContent;",
        json!([]),
    );
    eprintln!(
        "test image {seven} (a 7) in {} strokes: predicted {} ({:?})",
        strokes.len(),
        shown,
        result["top"]
    );
    assert_eq!(
        shown, "7",
        "the page shows {shown} for a 7: {}",
        result["top"]
    );
    assert_eq!(result["prediction"], 7);
    // The 28×28 image on the page is the one the model saw, pixel for pixel.
    let displayed = browser.run(
        "const d = document.getElementById('prepared').getContext('2d').getImageData(0, 0, 28, 28).data;\
         return Array.from({length: 784}, (_, i) => d[4 * i]);",
        json!([]),
    );
    assert_eq!(displayed, result["prepared"]);
    let prepared: Vec<u8> = serde_json::from_value(result["prepared"].clone()).unwrap();
    assert!(
        prepared.iter().filter(|&&p| p > 128).count() > 30,
        "a blank image was predicted"
    );
    let (cx, cy) = centre_of_mass(&prepared);
    assert!(
        (cx - 14.0).abs() < 3.0 && (cy - 14.0).abs() < 3.0,
        "centre of mass ({cx}, {cy})"
    );
    let bars = browser.run(
        "return document.querySelectorAll('#bars .bar').length;",
        json!([]),
    );
    assert_eq!(bars, 10);
    browser.run(
        "document.getElementById('draw').scrollIntoView();",
        json!([]),
    );
    screenshot(&browser, "draw.png");

    // The comparison: curves, disagreements and confusion matrices render.
    browser.open(&format!("{base}/compare?runs={linear},{mlp}"));
    let images = browser.wait(
        "the comparison's figures",
        "const imgs = [...document.images];\
         return imgs.length >= 5 && imgs.every(i => i.complete && i.naturalWidth > 0)\
                && imgs.map(i => i.getAttribute('src'));",
    );
    let srcs: Vec<String> = serde_json::from_value(images).unwrap();
    for figure in ["epochs.png", "nll.png", "disagreements.png"] {
        assert!(
            srcs.iter().any(|s| s.ends_with(figure)),
            "no {figure} in {srcs:?}"
        );
    }
    let classes: Value = browser.run(
        "const t = [...document.querySelectorAll('table')].find(t => t.rows[0].cells[0].textContent === 'class');\
         return t ? t.rows.length - 1 : 0;",
        json!([]),
    );
    assert_eq!(classes, 10);
    screenshot(&browser, "compare.png");
}
