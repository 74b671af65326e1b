//! The web app in a real browser: headless Chromium driven through ChromeDriver (W3C WebDriver,
//! loopback only, every wait bounded). The runs page, a run page, a test-set 7 traced onto the
//! canvas with mouse strokes, and the compare page.
//!
//! Needs Debian's `chromium` and `chromium-driver` (or `MNIST_CHROMIUM` and `MNIST_CHROMEDRIVER`
//! naming others). Where the build finds them missing (`build.rs`), the test is ignored, with
//! the reason in the summary; with `MNIST_REQUIRE_BROWSER` set (CI sets it) it runs and fails.
//! `MNIST_SCREENSHOTS=1` saves the pages to `docs/screenshots/`; `MNIST_BROWSER_ARTIFACTS=DIR`
//! serves DIR (with an `mlp` and a `linear-scratch` run) instead of the fixture runs, for
//! screenshots of real runs.

mod common;
mod webdriver;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use webdriver::Browser;

/// The strokes a pen would draw to copy a 28×28 image onto the 280×280 canvas: each horizontal
/// run of ink (levels above half) in a row, as one stroke through the pixel centres.
fn strokes(image: &[u8]) -> Vec<Vec<(f64, f64)>> {
    let centre = |c: usize| c as f64 * 10.0 + 5.0;
    let mut out = Vec::new();
    for y in 0..28 {
        let mut x = 0;
        while x < 28 {
            if image[y * 28 + x] > 128 {
                let start = x;
                while x < 28 && image[y * 28 + x] > 128 {
                    x += 1;
                }
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

/// What the server's API predicts for `image` drawn as a user would (black on white, 280×280).
fn api_prediction(addr: SocketAddr, run: &str, image: &[u8]) -> i64 {
    let answer: Value = ureq::post(&format!("http://{addr}/api/runs/{run}/predict"))
        .set("Content-Type", "image/png")
        .timeout(Duration::from_secs(30))
        .send_bytes(&common::canvas_png(image))
        .unwrap_or_else(|e| panic!("POST /api/runs/{run}/predict: {e}"))
        .into_json()
        .unwrap();
    answer["prediction"].as_i64().unwrap()
}

/// "12.34%" as 12.34, if the text is a percentage.
fn percentage(text: &str) -> Option<f64> {
    text.strip_suffix('%')?
        .parse()
        .ok()
        .filter(|p| (0.0..=100.0).contains(p))
}

/// `GET /api/runs/<run>/metrics`.
fn metrics(addr: SocketAddr, run: &str, query: &str) -> Value {
    ureq::get(&format!("http://{addr}/api/runs/{run}/metrics{query}"))
        .timeout(Duration::from_secs(30))
        .call()
        .unwrap_or_else(|e| panic!("GET /api/runs/{run}/metrics{query}: {e}"))
        .into_json()
        .unwrap()
}

/// The size of `css`'s box on the page: (width, height).
fn size_of(browser: &Browser, css: &str) -> (f64, f64) {
    let size = browser.run(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();\
         return [r.width, r.height];",
        json!([css]),
    );
    (size[0].as_f64().unwrap(), size[1].as_f64().unwrap())
}

/// The iteration-loss chart's x range: (min, max) of its scale, and of its data.
fn x_range(browser: &Browser) -> [f64; 4] {
    let v = browser.run(
        "const u = window.charts['iter-loss'];\
         return [u.scales.x.min, u.scales.x.max, u.data[0][0], u.data[0][u.data[0].length - 1]];",
        json!([]),
    );
    serde_json::from_value(v).unwrap()
}

/// On a run page (open): the charts are drawn by uPlot with the API's points; the legend under
/// the pointer shows the iteration and NLL the API has for it; a drag zooms, a double-click
/// zooms out, a click on a legend entry hides its series, the log box makes the scale log. No
/// console errors.
fn charts_work(browser: &Browser, addr: SocketAddr, run: &str) {
    let api = metrics(addr, run, "");
    let points = api["iterations"].as_array().unwrap();
    assert!(
        points.len() > 2,
        "{run} has {} iteration points",
        points.len()
    );
    let drawn = browser.wait(
        "uPlot to draw the run's iteration and epoch charts",
        "const u = window.charts && window.charts['iter-loss'];\
         const e = window.charts && window.charts['epoch-acc'];\
         return !!u && !!e && !!document.querySelector('#chart-iter-loss canvas')\
             && [u.data[0].length, e.data[0].length];",
    );
    assert_eq!(drawn[0], points.len(), "points on the chart");
    assert_eq!(
        drawn[1],
        api["epochs"].as_array().unwrap().len(),
        "epochs on the chart"
    );
    browser.run("window.scrollTo(0, 0);", json!([]));
    let over = browser.element("#chart-iter-loss .u-over");
    let (width, height) = size_of(browser, "#chart-iter-loss .u-over");
    assert!(
        width > 100.0 && height > 100.0,
        "the plot is {width}×{height}"
    );
    // A third of the way across: the legend shows the point the cursor snapped to.
    browser.hover(&over, (-width / 6.0, 0.0));
    let legend = browser.wait(
        "the legend to show the values under the pointer",
        "const v = [...document.querySelectorAll('#chart-iter-loss .u-legend .u-series .u-value')]\
             .map(td => td.textContent);\
         return v.length === 2 && v.every(t => t !== '–' && t !== '') && v;",
    );
    let iteration: u64 = legend[0].as_str().unwrap().parse().unwrap();
    let shown: f64 = legend[1].as_str().unwrap().parse().unwrap();
    let point = points
        .iter()
        .find(|p| p["iteration"] == iteration)
        .unwrap_or_else(|| panic!("the legend shows iteration {iteration}, not in the API's"));
    let loss = point["loss"].as_f64().unwrap();
    assert!(
        (shown - loss).abs() <= 0.5e-4 + 1e-12,
        "the legend shows NLL {shown} at iteration {iteration}; the API has {loss}"
    );
    // Where the pointer is: a third of the way along the iterations, give or take a point and
    // the pixels the pointer's position was rounded to.
    let (first, last) = (
        points[0]["iteration"].as_f64().unwrap(),
        points[points.len() - 1]["iteration"].as_f64().unwrap(),
    );
    let expected = first + (last - first) / 3.0;
    let step = (last - first) / (points.len() - 1) as f64;
    let pixel = (last - first) / width;
    assert!(
        (iteration as f64 - expected).abs() <= 2.0 * step + 2.0 * pixel + 1.0,
        "the pointer a third of the way across shows iteration {iteration}, not about {expected}"
    );
    screenshot(browser, "run-chart.png");

    // Drag from 20% to 60% of the width: the x scale narrows; a double-click restores it.
    let [_, _, lo, hi] = x_range(browser);
    browser.drag(&over, (-0.3 * width, 0.0), (0.1 * width, 0.0));
    let zoomed = browser.wait(
        "the drag to zoom the chart in",
        &format!(
            "const u = window.charts['iter-loss'];\
             return u.scales.x.max - u.scales.x.min < 0.6 * ({hi} - {lo})\
                 && [u.scales.x.min, u.scales.x.max];"
        ),
    );
    let (zmin, zmax) = (zoomed[0].as_f64().unwrap(), zoomed[1].as_f64().unwrap());
    assert!(
        zmin > lo && zmax < hi,
        "zoomed to {zmin}..{zmax} of {lo}..{hi}"
    );
    browser.double_click(&over, (0.0, 0.0));
    browser.wait(
        "a double-click to zoom out",
        &format!(
            "const u = window.charts['iter-loss'];\
             return u.scales.x.min <= {lo} && u.scales.x.max >= {hi};"
        ),
    );
    // A click on the NLL's legend entry hides the series, another shows it again.
    let entry = browser.element("#chart-iter-loss .u-legend .u-series:nth-child(2) > th");
    browser.click(&entry);
    browser.wait(
        "a click on the legend to hide the NLL",
        "return window.charts['iter-loss'].series[1].show === false;",
    );
    browser.click(&entry);
    browser.wait(
        "a second click to show it again",
        "return window.charts['iter-loss'].series[1].show === true;",
    );
    // The log box: a log scale (uPlot's distr 3), with the data kept.
    browser.click(&browser.element("input[data-log=\"iter-loss\"]"));
    browser.wait(
        "the log box to make the NLL's scale logarithmic",
        &format!(
            "const u = window.charts['iter-loss'];\
             return u.scales.y.distr === 3 && u.data[0].length === {};",
            points.len()
        ),
    );
    let errors = browser.console_errors();
    assert!(
        errors.is_empty(),
        "console errors on the run page: {errors:?}"
    );
}

/// A run that trains (its lock held here, as a trainer holds it): its page's chart takes the
/// iterations written after it opened, asking only for what is new. The run goes at the end.
fn live_run_grows(browser: &Browser, addr: SocketAddr, artifacts: &Path) {
    use mnist_trainer::run::dir::RunDir;
    use mnist_trainer::run::live::LiveProgress;
    use mnist_trainer::run::metrics::{IterationRecord, metrics_csv};
    let live = artifacts.join("live");
    std::fs::create_dir(&live).unwrap();
    std::fs::copy(artifacts.join("mlp/config.toml"), live.join("config.toml")).unwrap();
    let record = |i: usize| IterationRecord {
        epoch: 1 + (i - 1) / 30,
        iteration: i,
        loss: 1.0 / i as f64,
        accuracy: 0.5,
        weights_updated: None,
    };
    // Epoch 1 (30 iterations) in metrics.csv; epoch 2's come through the trainer's live file.
    let iterations: Vec<IterationRecord> = (1..=30).map(record).collect();
    std::fs::write(live.join("metrics.csv"), metrics_csv(&[], &iterations)).unwrap();
    let run = RunDir::new(&live);
    let lock = run.lock().unwrap();
    let mut writer = run.live_writer();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let progress = |items_done: usize| LiveProgress {
        epoch: 2,
        epochs: 2,
        phase: "train".into(),
        items_done,
        items_total: 200,
        epoch_started: started - 30.0,
    };
    writer.flush(&progress(0)).unwrap();
    // Count the metrics requests and what each asked for.
    browser.open(&format!("http://{addr}/runs/live/"));
    browser.run(
        "window.asked = [];\
         const send = window.fetch;\
         window.fetch = function (url, ...rest) {\
             if (String(url).includes('/metrics')) window.asked.push(String(url));\
             return send.call(this, url, ...rest);\
         };",
        json!([]),
    );
    browser.wait(
        "the live run's chart with its 30 iterations",
        "const u = window.charts && window.charts['iter-loss'];\
         return !!u && u.data[0].length === 30;",
    );
    // A run without weight snapshots (as every run from before them) has no slider.
    let hidden = browser.run(
        "return document.getElementById('evolution').hidden;",
        json!([]),
    );
    assert_eq!(
        hidden, true,
        "the weights-forming section of a run without snapshots"
    );
    for i in 31..=45 {
        writer.push(&record(i), None);
    }
    writer.flush(&progress(150)).unwrap();
    let grown = browser.wait_showing(
        "the chart to grow to 45 iterations",
        "const u = window.charts['iter-loss'];\
         return u.data[0].length === 45 && u.data[0][44] === 45 && [u.data[1][44], window.asked];",
        Some("return [window.charts['iter-loss'].data[0].length, window.asked];"),
    );
    assert_eq!(grown[0], 1.0 / 45.0, "the NLL of iteration 45 on the chart");
    let asked: Vec<String> = serde_json::from_value(grown[1].clone()).unwrap();
    assert!(
        asked.iter().any(|u| u.contains("since=30")),
        "the polls asked for everything again: {asked:?}"
    );
    let status = browser.run(
        "return document.querySelector('.charts-status').textContent;",
        json!([]),
    );
    assert!(
        status.as_str().unwrap().starts_with("training"),
        "the charts' status: {status}"
    );
    // The run page's line and the runs table say where the epoch stands: 150 of 200 images
    // 30 s into it, so a third of that to go: 10 s, and more as the test's own seconds pass
    // with no more images done.
    let line = browser.wait(
        "the run page's state line to show the progress",
        "const t = document.getElementById('state').textContent;\
         return t.includes('75%') && t;",
    );
    let line = line.as_str().unwrap_or_default().to_string();
    assert!(
        line.starts_with("training · epoch 2/2 · 75% · ETA ") && line.contains(" s"),
        "{line}"
    );
    browser.open(&format!("http://{addr}/"));
    let cell = browser.wait(
        "the runs table's state cell of the live run",
        "const row = document.querySelector('tr[data-run=\"live\"]');\
         return !!row && row.cells[2].textContent;",
    );
    let cell = cell.as_str().unwrap_or_default().to_string();
    let eta: u64 = cell
        .strip_prefix("training · epoch 2/2 · 75% · ETA ")
        .and_then(|rest| rest.strip_suffix(" s"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("the state cell says {cell:?}"));
    assert!((10..=20).contains(&eta), "{cell}");
    drop(lock);
    std::fs::remove_dir_all(&live).unwrap();
}

/// `/draw` opens on the finished run whose model.bpk was written last, not the first by name.
fn draw_opens_on_the_latest_run(browser: &Browser, addr: SocketAddr, artifacts: &Path) {
    let now = std::time::SystemTime::now();
    for (run, age) in [("linear", 3600), ("mlp", 60)] {
        std::fs::File::options()
            .write(true)
            .open(artifacts.join(run).join("model.bpk"))
            .unwrap()
            .set_modified(now - Duration::from_secs(age))
            .unwrap();
    }
    browser.open(&format!("http://{addr}/draw"));
    let chosen = browser.wait(
        "the draw page's run selector to be filled",
        "const s = document.getElementById('run-select');\
         return s.options.length === 2 && s.value;",
    );
    assert_eq!(
        chosen, "mlp",
        "/draw opened on {chosen}, not the latest run"
    );
    // Still selectable, and ?run= still names one.
    browser.open(&format!("http://{addr}/draw?run=linear"));
    let chosen = browser.wait(
        "the draw page's run selector to be filled",
        "const s = document.getElementById('run-select');\
         return s.options.length === 2 && s.value;",
    );
    assert_eq!(chosen, "linear");
}

/// Fails the test unless Chromium and ChromeDriver are there: a browser test runs only where the
/// build found both, where MNIST_REQUIRE_BROWSER was set, or with --ignored.
fn require_browser() {
    assert!(
        Browser::available(),
        "no {} or no {}: install Debian's chromium and chromium-driver (bash .ci/run does)",
        webdriver::CHROMIUM,
        webdriver::CHROMEDRIVER
    );
}

fn screenshot(browser: &Browser, name: &str) {
    if std::env::var_os("MNIST_SCREENSHOTS").is_none() {
        return;
    }
    let dir = mnist_data::repo_root().join("docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, browser.screenshot()).unwrap();
    eprintln!("saved {}", path.display());
}

#[test]
#[cfg_attr(
    not(has_browser),
    ignore = "no Chromium or ChromeDriver when built: apt-get install chromium chromium-driver \
              (or set MNIST_CHROMIUM and MNIST_CHROMEDRIVER)"
)]
fn runs_run_draw_and_compare_pages_work_in_chromium() {
    require_browser();
    let clock = Instant::now();
    let lap = |what: &str| eprintln!("[{:5.2} s] {what}", clock.elapsed().as_secs_f64());
    let dir = tempfile::tempdir().unwrap();
    let (artifacts, mlp, linear, fixtures) = match std::env::var_os("MNIST_BROWSER_ARTIFACTS") {
        Some(a) => (PathBuf::from(a), "mlp", "linear-scratch", false),
        None => (common::fixture_runs(dir.path()), "mlp", "linear", true),
    };
    lap(if fixtures {
        "fixture runs trained"
    } else {
        "serving MNIST_BROWSER_ARTIFACTS"
    });
    let addr = common::start_server(&artifacts);
    let base = format!("http://{addr}");
    let browser = Browser::start();
    lap("server and Chromium started");

    // --- The runs page: both runs, with their accuracies, filled in by the script. ---
    browser.open(&format!("{base}/"));
    let rows = browser.wait(
        &format!("rows for {mlp} and {linear} in the runs table"),
        &format!(
            "const col = [...document.querySelectorAll('#runs thead th')]\
                 .findIndex(th => th.dataset.key === 'test_accuracy');\
             const rows = [...document.querySelectorAll('#runs tbody tr')];\
             const names = rows.map(r => r.dataset.run);\
             return col > 0 && names.includes('{mlp}') && names.includes('{linear}')\
                 && rows.map(r => [r.dataset.run, r.cells[col].textContent,\
                     !!r.querySelector('input[type=checkbox][data-run=\"' + r.dataset.run + '\"]')]);"
        ),
    );
    for name in [mlp, linear] {
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("no {name} in {rows}"));
        let accuracy = row[1].as_str().unwrap();
        assert!(
            percentage(accuracy).is_some(),
            "{name}'s test accuracy is {accuracy:?}, not a percentage"
        );
        assert_eq!(row[2], true, "{name}'s row has no checkbox");
    }
    let status = browser.run(
        "return document.getElementById('status').textContent;",
        json!([]),
    );
    if fixtures {
        assert_eq!(status, "2 runs");
    }
    lap(&format!("runs page: {rows}, status {status}"));
    screenshot(&browser, "runs.png");

    // Checking both runs enables the compare button, which opens their comparison.
    let compare_button = browser.run(
        &format!(
            "for (const name of ['{mlp}', '{linear}'])\
                 document.querySelector('input[type=checkbox][data-run=\"' + name + '\"]').click();\
             const button = document.getElementById('compare');\
             const enabled = !button.disabled;\
             if (enabled) button.click();\
             return enabled;"
        ),
        json!([]),
    );
    assert_eq!(
        compare_button, true,
        "#compare stays disabled with 2 runs checked"
    );
    let target = browser.wait(
        "the compare button to open /compare",
        "return location.pathname === '/compare' && decodeURIComponent(location.search);",
    );
    let target = target.as_str().unwrap();
    assert!(
        target.contains(mlp) && target.contains(linear),
        "the compare button opened /compare{target}"
    );
    lap(&format!("compare button opened /compare{target}"));

    // --- A run page: its report's figures load. ---
    browser.open(&format!("{base}/runs/{mlp}/"));
    browser.wait(
        "img[src=\"epochs.png\"] on the run page to load",
        "const img = document.querySelector('img[src=\"epochs.png\"]');\
         return !!img && img.complete && img.naturalWidth > 0;",
    );
    lap("run page's epochs figure loaded");

    // --- The run page's charts: drawn, values under the pointer, zoom, hide, log scale. ---
    charts_work(&browser, addr, mlp);
    lap("run page's charts: the legend under the pointer matches the API");

    // --- Draw a test-set 7 with the mouse, a stroke per horizontal run of ink. ---
    // The first 7 the model gets right from a clean upload, so that a wrong answer below
    // means the drawing went wrong, not the model.
    let plan = mnist_trainer::run::dir::RunDir::new(artifacts.join(mlp))
        .plan()
        .unwrap();
    let test = mnist_data::load(Some(plan.data())).unwrap().test;
    let seven = (0..test.len())
        .filter(|&i| test.label(i) == 7)
        .find(|&i| api_prediction(addr, mlp, test.image(i)) == 7)
        .unwrap_or_else(|| panic!("{mlp} predicts none of the test set's 7s as 7 through the API"));
    let strokes = strokes(test.image(seven));
    // The actions' points must lie in the viewport.
    browser.run(
        "document.getElementById('canvas').scrollIntoView({block: 'center'});",
        json!([]),
    );
    // Every stroke's pointerup sends a prediction, after an asynchronous toBlob, and answers
    // can arrive out of order; count the requests sent, so the wait below ends only when the
    // last stroke's request has been sent and every request has been answered.
    browser.run(
        "window.lastPrediction = null;\
         window.predictionsSent = 0;\
         const send = window.fetch;\
         window.fetch = function (url, ...rest) {\
             if (String(url).includes('/predict')) window.predictionsSent++;\
             return send.call(this, url, ...rest);\
         };",
        json!([]),
    );
    let canvas = browser.element("#canvas");
    browser.draw(&canvas, (280.0, 280.0), &strokes);
    let result = browser.wait_showing(
        &format!(
            "the prediction after the last of {n} strokes (window.lastPrediction, \
             {n} predict requests answered)",
            n = strokes.len(),
        ),
        &format!(
            "return window.predictionsSent === {} && window.pendingPredictions === 0\
                 && window.lastPrediction;",
            strokes.len()
        ),
        Some(
            "return {sent: window.predictionsSent, pending: window.pendingPredictions,\
                     error: document.getElementById('draw-error').textContent};",
        ),
    );
    let (shown, error, top) = {
        let v = browser.run(
            "return [document.getElementById('prediction').textContent,\
                     document.getElementById('draw-error').textContent,\
                     document.querySelector('#bars .bar.top')?.dataset.digit,\
                     document.querySelectorAll('#bars .bar[data-digit]').length];",
            json!([]),
        );
        assert_eq!(v[3], 10, "#bars has {} bars, not 10", v[3]);
        (v[0].clone(), v[1].clone(), v[2].clone())
    };
    lap(&format!(
        "test image {seven} (a 7) drawn in {} strokes: the page shows {shown}, top {}",
        strokes.len(),
        result["top"]
    ));
    assert_eq!(error, "", "#draw-error after drawing");
    assert_eq!(
        shown, "7",
        "#prediction shows {shown} for a 7: {}",
        result["top"]
    );
    assert_eq!(result["prediction"], 7, "window.lastPrediction: {result}");
    assert_eq!(top, "7", "the highlighted bar is {top}");
    let probabilities: Vec<f64> = serde_json::from_value(result["probabilities"].clone()).unwrap();
    assert_eq!(probabilities.len(), 10);
    assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-3);
    // The 28×28 image on the page is the one the model saw, pixel for pixel.
    let displayed = browser.run(
        "const d = document.getElementById('prepared').getContext('2d')\
             .getImageData(0, 0, 28, 28).data;\
         return Array.from({length: 784}, (_, i) => d[4 * i]);",
        json!([]),
    );
    let prepared: Vec<u8> = serde_json::from_value(result["prepared"].clone()).unwrap();
    let displayed: Vec<u8> = serde_json::from_value(displayed).unwrap();
    assert_eq!(prepared.len(), 784);
    let differ: Vec<usize> = (0..784).filter(|&i| displayed[i] != prepared[i]).collect();
    if let Some(&i) = differ.first() {
        panic!(
            "#prepared differs from the model's input at {} of 784 pixels; first at \
             (x {}, y {}): shown {}, model {}",
            differ.len(),
            i % 28,
            i / 28,
            displayed[i],
            prepared[i]
        );
    }
    let ink = prepared.iter().filter(|&&p| p > 128).count();
    assert!(
        ink > 30,
        "the model saw a near-blank image ({ink} inked pixels)"
    );
    let (cx, cy) = centre_of_mass(&prepared);
    assert!(
        (cx - 14.0).abs() < 3.0 && (cy - 14.0).abs() < 3.0,
        "the prepared image's centre of mass is ({cx:.1}, {cy:.1}), not near (14, 14)"
    );
    lap(&format!(
        "#prepared matches the model's input: {ink} inked pixels, centre of mass ({cx:.1}, {cy:.1})"
    ));
    browser.run(
        "document.getElementById('draw').scrollIntoView();",
        json!([]),
    );
    screenshot(&browser, "draw.png");
    // Why: the MLP's strongest units for the drawn 7, as the API explains the image it saw.
    let api = api_explanation(addr, mlp, &prepared);
    assert_eq!(api["predicted"], 7, "{}", api["logits"]);
    assert_eq!(
        page_units(&browser, &api["predicted"]),
        units_of(&api["units"])
    );
    lap("the drawn 7's explanation: the API's 8 strongest units");

    if fixtures {
        live_run_grows(&browser, addr, &artifacts);
        lap("a training run's chart grew with its new iterations");
    }

    // --- The comparison: curves, disagreements and confusion matrices render. ---
    browser.open(&format!("{base}/compare?runs={linear},{mlp}"));
    let images = browser.wait(
        "every figure on the compare page to load",
        "const imgs = [...document.images];\
         return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)\
             && imgs.map(i => i.getAttribute('src'));",
    );
    let srcs: Vec<String> = serde_json::from_value(images).unwrap();
    assert!(srcs.len() >= 3, "only {} figures: {srcs:?}", srcs.len());
    for figure in ["disagreements.png", "matrix-0.png", "matrix-1.png"] {
        assert!(
            srcs.iter().any(|s| s.ends_with(figure)),
            "no {figure} in {srcs:?}"
        );
    }
    // The epoch and NLL curves are the charts above, not figures as well.
    for curves in ["epochs.png", "nll.png"] {
        assert!(
            !srcs.iter().any(|s| s.ends_with(curves)),
            "{curves} in {srcs:?}"
        );
    }
    let page = browser.run(
        "const t = [...document.querySelectorAll('table')]\
             .find(t => t.rows[0] && t.rows[0].cells[0].textContent === 'class');\
         return [document.querySelector('h1')?.textContent,\
                 t ? [...t.tBodies[0].rows].map(r => r.cells[0].textContent) : null];",
        json!([]),
    );
    let heading = page[0].as_str().unwrap_or_default();
    assert!(
        heading.contains(mlp) && heading.contains(linear),
        "the compare page's heading is {heading:?}"
    );
    let classes: Vec<String> = serde_json::from_value(page[1].clone())
        .unwrap_or_else(|_| panic!("no per-class table on the compare page: {page}"));
    assert_eq!(
        classes,
        (0..10).map(|c| c.to_string()).collect::<Vec<_>>(),
        "the per-class table's rows"
    );
    lap(&format!(
        "compare page: {} figures, per-class table of 10 rows",
        srcs.len()
    ));
    screenshot(&browser, "compare.png");
    // The compare page's charts: a series per run and quantity.
    let series = browser.wait(
        "the compare page's charts",
        "const u = window.charts && window.charts['epoch-loss'];\
         return !!u && u.series.slice(1).map(s => s.label);",
    );
    assert_eq!(
        series,
        json!([
            format!("{linear} train loss"),
            format!("{linear} valid loss"),
            format!("{mlp} train loss"),
            format!("{mlp} valid loss")
        ])
    );
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    if fixtures {
        draw_opens_on_the_latest_run(&browser, addr, &artifacts);
        lap("/draw opened on the latest finished run");
    }
    explanations_match_the_api(&browser, addr, (mlp, linear), test.image(seven));
    lap("the explanation panel shows the API's units and evidence");
    // Runs trained before snapshots existed (MNIST_BROWSER_ARTIFACTS may hold some) have none.
    let snapshots = ureq::get(&format!("{base}/api/runs/{linear}/snapshots")).call();
    if fixtures || snapshots.is_ok() {
        weights_form_under_the_slider(&browser, addr, linear);
        lap("the run page's slider and play button go through the snapshots");
    }
}

/// The explanation the API gives for a prepared image (sent as raw 28×28 pixels).
fn api_explanation(addr: SocketAddr, run: &str, prepared: &[u8]) -> Value {
    let body = json!({ "pixels": prepared }).to_string();
    let answer: Value = ureq::post(&format!(
        "http://{addr}/api/runs/{run}/predict?explain=true"
    ))
    .set("Content-Type", "application/json")
    .send_string(&body)
    .unwrap()
    .into_json()
    .unwrap();
    answer["explanation"].clone()
}

/// An explanation's units as (unit, contribution).
fn units_of(list: &Value) -> Vec<(u64, f64)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["unit"].as_u64().unwrap(),
                u["contribution"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The units the explanation panel shows, as (unit, contribution), checked to be `class`'s and
/// to have their 28×28 templates.
fn page_units(browser: &Browser, class: &Value) -> Vec<(u64, f64)> {
    let v = browser.run(
        "const list = document.querySelector('#explain-detail .units');\
         return [list.dataset.class, [...list.querySelectorAll('.unit')].map(u =>\
             [Number(u.dataset.unit), Number(u.dataset.contribution),\
              u.querySelector('canvas').width])];",
        json!([]),
    );
    assert_eq!(
        v[0].as_str().unwrap(),
        class.to_string(),
        "the units' class"
    );
    v[1].as_array()
        .unwrap()
        .iter()
        .map(|u| {
            assert_eq!(u[2], 28, "a unit's template is 28 wide");
            (u[0].as_u64().unwrap(), u[1].as_f64().unwrap())
        })
        .collect()
}

/// On /draw: a test-set digit dropped as an image file, explained by the MLP (its strongest
/// units, then the runner-up's) and, once the run selector says so, by the linear model (its
/// evidence maps), each as the API explains the image the model saw.
fn explanations_match_the_api(
    browser: &Browser,
    addr: SocketAddr,
    (mlp, linear): (&str, &str),
    digit: &[u8],
) {
    browser.open(&format!("http://{addr}/draw?run={mlp}"));
    browser.wait(
        "the draw page's run selector to be filled",
        &format!("return document.getElementById('run-select').value === '{mlp}';"),
    );
    // The digit as a user's file: black ink on white, 10× up, dropped on the page.
    browser.run(
        "const [pixels] = arguments;\
         const c = document.createElement('canvas'); c.width = 280; c.height = 280;\
         const g = c.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, 280, 280);\
         pixels.forEach((v, i) => { if (v > 0) { const k = 255 - v;\
             g.fillStyle = `rgb(${k},${k},${k})`;\
             g.fillRect(10 * (i % 28), 10 * Math.floor(i / 28), 10, 10); } });\
         window.lastPrediction = null;\
         c.toBlob((blob) => { const dt = new DataTransfer();\
             dt.items.add(new File([blob], 'seven.png', {type: 'image/png'}));\
             document.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));\
         }, 'image/png');",
        json!([digit]),
    );
    let shown = |model: &str| {
        browser.wait(
            &format!("the {model}'s explanation on the draw page"),
            &format!(
                "const p = window.lastPrediction; const e = document.getElementById('explanation');\
                 return !!p && !!p.explanation && p.explanation.model === '{model}' && !e.hidden\
                 && e.dataset.model === '{model}' && p;"
            ),
        )
    };
    let result = shown("mlp");
    let prepared: Vec<u8> = serde_json::from_value(result["prepared"].clone()).unwrap();
    let api = api_explanation(addr, mlp, &prepared);
    assert_eq!(
        page_units(browser, &api["predicted"]),
        units_of(&api["units"])
    );
    // The saliency map is drawn: coloured pixels where the gradient is large.
    let coloured = browser.run(
        "const d = document.getElementById('saliency').getContext('2d').getImageData(0, 0, 28, 28).data;\
         let n = 0;\
         for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2]) n++;\
         return n;",
        json!([]),
    );
    assert!(
        coloured.as_u64().unwrap() > 20,
        "{coloured} coloured saliency pixels"
    );
    browser.run(
        "document.getElementById('explanation').scrollIntoView();",
        json!([]),
    );
    screenshot(browser, "explain-mlp.png");
    // The runner-up's units on demand.
    browser.run(
        "document.getElementById('runner-up-toggle').click();",
        json!([]),
    );
    assert_eq!(
        page_units(browser, &api["runner_up"]),
        units_of(&api["runner_up_units"])
    );

    // Another run explains the same image: the linear model's evidence for its answer and the
    // runner-up, whose sums and biases are the API's.
    browser.run(
        &format!(
            "const s = document.getElementById('run-select'); s.value = '{linear}';\
             s.dispatchEvent(new Event('change'));"
        ),
        json!([]),
    );
    let result = shown("linear");
    let prepared: Vec<u8> = serde_json::from_value(result["prepared"].clone()).unwrap();
    let api = api_explanation(addr, linear, &prepared);
    let figures = browser.run(
        "return [...document.querySelectorAll('#explain-detail figure.evidence')].map(f =>\
             [Number(f.dataset.class), Number(f.dataset.sum), Number(f.dataset.bias)]);",
        json!([]),
    );
    let figures = figures.as_array().unwrap();
    assert_eq!(figures.len(), 2, "{figures:?}");
    for (figure, class) in figures.iter().zip([&api["predicted"], &api["runner_up"]]) {
        let c = class.as_u64().unwrap();
        assert_eq!(figure[0].as_u64(), Some(c));
        let map = api["evidence"][c as usize].as_array().unwrap();
        let sum: f64 = map.iter().map(|v| v.as_f64().unwrap()).sum();
        let bias = api["bias"][c as usize].as_f64().unwrap();
        assert!(
            (figure[1].as_f64().unwrap() - sum).abs() < 1e-4,
            "{figure} vs Σ {sum}"
        );
        assert!(
            (figure[2].as_f64().unwrap() - bias).abs() < 1e-6,
            "{figure} vs bias {bias}"
        );
        let logit = api["logits"][c as usize].as_f64().unwrap();
        assert!(
            (sum + bias - logit).abs() < 1e-4,
            "Σ + bias {} vs logit {logit}",
            sum + bias
        );
    }
    browser.run(
        "document.getElementById('explanation').scrollIntoView();",
        json!([]),
    );
    screenshot(browser, "explain-linear.png");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// On a run page: the weights forming, under a slider and a play button that go through every
/// snapshot the API lists.
fn weights_form_under_the_slider(browser: &Browser, addr: SocketAddr, run: &str) {
    let list: Value = ureq::get(&format!("http://{addr}/api/runs/{run}/snapshots"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let steps: Vec<u64> = list["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["step"].as_u64().unwrap())
        .collect();
    assert!(steps.len() > 5, "{list}");
    browser.open(&format!("http://{addr}/runs/{run}/"));
    // It opens on the last snapshot: the finished weights.
    let at = browser.wait(
        "the weights-forming section with its slider",
        "const s = document.getElementById('snapshot-slider');\
         const c = document.getElementById('snapshot-caption');\
         return !document.getElementById('evolution').hidden && c.dataset.step !== undefined\
                 && document.querySelectorAll('#templates canvas').length === 10\
                 && [Number(s.max), Number(c.dataset.step)];",
    );
    assert_eq!(at, json!([steps.len() - 1, steps[steps.len() - 1]]));
    // Back to the start by hand, then played to the end.
    browser.run(
        "const s = document.getElementById('snapshot-slider'); s.value = 0;\
         s.dispatchEvent(new Event('input'));",
        json!([]),
    );
    let caption = browser.wait(
        "the first snapshot's caption",
        "const c = document.getElementById('snapshot-caption');\
         return c.dataset.step === '0' && c.textContent;",
    );
    assert!(
        caption.as_str().unwrap().starts_with("before training"),
        "{caption}"
    );
    browser.run(
        "window.stepsSeen = [];\
         const caption = document.getElementById('snapshot-caption');\
         new MutationObserver(() => window.stepsSeen.push(Number(caption.dataset.step)))\
             .observe(caption, {attributes: true});\
         document.getElementById('play').click();",
        json!([]),
    );
    let seen = browser.wait(
        "the play button to reach the last snapshot",
        &format!(
            "return document.getElementById('snapshot-caption').dataset.step === '{}'\
                 && document.getElementById('play').textContent === 'Play' && window.stepsSeen;",
            steps[steps.len() - 1]
        ),
    );
    let mut seen: Vec<u64> = serde_json::from_value(seen).unwrap();
    seen.dedup();
    assert!(
        seen.ends_with(&steps[1..]),
        "the play button showed steps {seen:?}, not {steps:?}"
    );
    screenshot(browser, "weights-forming.png");
}

/// The `mnist` binary the lab launches runs with: `MNIST_TEST_BIN`, or this build's, beside the
/// `deps` folder this test runs from (`cargo test --workspace` builds it with the tests).
fn mnist_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("MNIST_TEST_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("mnist"))
        .filter(|bin| bin.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no mnist binary beside {}: run the tests with `cargo test --release \
                 --workspace` (which builds it) or set MNIST_TEST_BIN",
                exe.display()
            )
        })
}

/// On the New run page (open): picks `config`, replaces `from` by `to` in the editor as a user's
/// typing would, names the run `name`, waits for the server's check to pass and launches; waits
/// for the run page.
fn launch_from_new_run_page(browser: &Browser, config: &str, edit: (&str, &str), name: &str) {
    browser.wait(
        &format!("the editor to hold {config}"),
        &format!(
            "const s = document.getElementById('source');\
             if (s.value !== 'config:{config}') {{ s.value = 'config:{config}';\
                 s.dispatchEvent(new Event('change')); return false; }}\
             return document.getElementById('config').value.includes('{}');",
            edit.0
        ),
    );
    let edited = browser.run(
        "const [from, to, name] = arguments;\
         const text = document.getElementById('config');\
         if (!text.value.includes(from)) return false;\
         text.value = text.value.replace(from, to);\
         text.dispatchEvent(new Event('input'));\
         const box = document.getElementById('run-name');\
         box.value = name;\
         box.dispatchEvent(new Event('input'));\
         return true;",
        json!([edit.0, edit.1, name]),
    );
    assert_eq!(edited, true, "{config} has no `{}`", edit.0);
    let checked = browser.wait_showing(
        "the server's check of the edited config to pass",
        "const c = document.getElementById('check');\
         return c.textContent.startsWith('✓') && !document.getElementById('launch').disabled\
             && c.textContent;",
        Some("return document.getElementById('check').textContent;"),
    );
    eprintln!("check: {checked}");
    browser.click(&browser.element("#launch"));
    browser.wait(
        &format!("the run page of {name}"),
        &format!(
            "return decodeURIComponent(location.pathname) === '/runs/{name}/'\
                 && document.getElementById('state').textContent;"
        ),
    );
}

/// Longest wait for a launched run to reach a state (loading the full data and training a few
/// epochs on a busy 2-core machine).
const TRAINING_WAIT: Duration = Duration::from_secs(120);

/// What a run page shows of its state and controls (an error a button met is among them).
const PAGE_STATE: &str = "return [document.getElementById('state').textContent,\
     document.getElementById('controls').textContent];";

#[test]
#[cfg_attr(
    not(has_browser),
    ignore = "no Chromium or ChromeDriver when built: apt-get install chromium chromium-driver \
              (or set MNIST_CHROMIUM and MNIST_CHROMEDRIVER)"
)]
fn the_lab_launches_stops_and_resumes_runs_in_chromium() {
    require_browser();
    let dir = tempfile::tempdir().unwrap();
    let configs = dir.path().join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    let artifacts = dir.path().join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    // A quick run on the fixture images, and one on the full data whose epochs last seconds
    // (time enough to press Stop).
    use mnist_trainer::testing::{TestConfig, mnist_idx};
    TestConfig::mlp(16)
        .data(&mnist_idx())
        .epochs(2)
        .write(&configs.join("quick.toml"));
    let full = mnist_data::repo_root().join("data/mnist_all.mat");
    TestConfig::mlp(64)
        .data(&full.canonicalize().unwrap())
        .epochs(2)
        .write(&configs.join("slow.toml"));
    let mut config = mnist_serve::ServeConfig::new(&artifacts, "127.0.0.1:0".parse().unwrap());
    config.configs = configs;
    config.max_parallel = 1;
    config.trainer = Some(mnist_serve::TrainerProgram {
        program: mnist_binary(),
        backend: mnist_trainer::backend::default_backend().name.to_string(),
    });
    let serving = common::start_with(config);
    let base = format!("http://{}", serving.addr);
    let browser = Browser::start();

    // Opened with the token, as `mnist serve` prints it: the page keeps it in its cookie.
    browser.open(&format!("{base}/new?token={}", serving.token));
    browser.wait(
        "the token to leave the address bar",
        "return location.pathname === '/new' && !location.search.includes('token');",
    );
    // A bad edit is caught by the server's check, with mnist train's message.
    browser.wait(
        "the configs in the New run page's list",
        "return document.querySelectorAll('#source option').length >= 2;",
    );
    let bad = browser.wait(
        "the editor to hold quick.toml",
        "const s = document.getElementById('source');\
         if (s.value !== 'config:quick.toml') { s.value = 'config:quick.toml';\
             s.dispatchEvent(new Event('change')); return false; }\
         const t = document.getElementById('config');\
         if (!t.value.includes('epochs = 2')) return false;\
         t.value = t.value.replace('epochs = 2', 'epochs = 0');\
         t.dispatchEvent(new Event('input')); return true;",
    );
    assert_eq!(bad, true);
    let message = browser.wait(
        "the check to report the bad epochs",
        "const c = document.getElementById('check');\
         return c.className === 'error' && document.getElementById('launch').disabled\
             && c.textContent;",
    );
    assert!(
        message
            .as_str()
            .unwrap()
            .contains("epochs must be at least 1"),
        "{message}"
    );

    browser.run(
        "const t = document.getElementById('config');\
         t.value = t.value.replace('epochs = 0', 'epochs = 2');\
         t.dispatchEvent(new Event('input'));",
        json!([]),
    );

    // Change the epochs, launch, and watch it reach `finished` in the runs table.
    launch_from_new_run_page(
        &browser,
        "quick.toml",
        ("epochs = 2", "epochs = 3"),
        "from-browser",
    );
    browser.open(&format!("{base}/"));
    browser.wait_within(
        "from-browser to finish in the runs table",
        TRAINING_WAIT,
        "const row = document.querySelector('#runs tbody tr[data-run=\"from-browser\"]');\
         return !!row && [...row.cells].some(c => c.textContent === 'finished')\
             && [...row.cells].some(c => c.textContent === '3 / 3');",
        None,
    );
    let epochs = std::fs::read_to_string(artifacts.join("from-browser/epochs.csv")).unwrap();
    assert_eq!(epochs.lines().count(), 4, "a header and 3 epochs: {epochs}");

    // One more, stopped from its page, then resumed to its end.
    browser.open(&format!("{base}/new"));
    launch_from_new_run_page(
        &browser,
        "slow.toml",
        ("epochs = 2", "epochs = 3"),
        "to-stop",
    );
    browser.wait_within(
        "to-stop to train, with a Stop button",
        TRAINING_WAIT,
        // Found and pressed in one script: the controls are drawn anew every 2 s while the run
        // trains, so an element found in one command may be gone by the next.
        "const s = (document.getElementById('state').textContent || '').split(' ')[0];\
         const b = document.querySelector('#controls button[data-action=stop]');\
         if (s !== 'training' || !b) return false;\
         b.click(); return true;",
        Some(PAGE_STATE),
    );
    browser.wait_within(
        "to-stop to be stopped, with a Resume button",
        TRAINING_WAIT,
        "const s = (document.getElementById('state').textContent || '').split(' ')[0];\
         return s === 'stopped' && !!document.querySelector('#controls button[data-action=resume]');",
        Some(PAGE_STATE),
    );
    assert!(!artifacts.join("to-stop/model.bpk").exists());
    browser.wait(
        "the Resume button, pressed",
        "const b = document.querySelector('#controls button[data-action=resume]');\
         if (!b) return false; b.click(); return true;",
    );
    let finished = browser.wait_within(
        "to-stop to finish after resuming",
        TRAINING_WAIT,
        "const s = (document.getElementById('state').textContent || '').split(' ')[0];\
         return s === 'finished' && document.getElementById('state').textContent;",
        Some(PAGE_STATE),
    );
    assert!(
        finished.as_str().unwrap().contains("3 of 3 epochs"),
        "{finished}"
    );
    let log = browser.wait(
        "the run's log on its page",
        "const l = document.getElementById('log');\
         return !l.hidden && document.getElementById('log-text').textContent;",
    );
    assert!(
        log.as_str().unwrap().contains("stopped on request"),
        "{log}"
    );
    // The browser logs the 422 of the bad edit's check as a failed load; nothing else may fail.
    let errors: Vec<String> = browser
        .console_errors()
        .into_iter()
        .filter(|e| !(e.contains("/api/configs/check") && e.contains("422")))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// A sweep of two points made on disk as `mnist sweep` makes it (its folder with the sweep file,
/// its points' runs beside it, its figures), in `dir/artifacts`; returns the artifacts folder.
fn fixture_sweep(dir: &Path) -> PathBuf {
    use mnist_trainer::run::sweep_dir::SweepDir;
    use mnist_trainer::testing::TestConfig;
    let artifacts = dir.join("artifacts");
    let base = TestConfig::scratch().epochs(2);
    let sweep = SweepDir::new(artifacts.join("bs"));
    sweep.create().unwrap();
    let text = format!("{}\n[sweep]\nbatch_size = [20, 50]\n", base.toml());
    sweep.write(&sweep.sweep_file(), text.as_bytes()).unwrap();
    for (point, batch) in sweep.points().unwrap().iter().zip([20, 50]) {
        common::train_run(&artifacts, &point.run, base.clone().batch_size(batch));
    }
    let rows = sweep.rows().unwrap();
    mnist_report::figures::sweep::write(&sweep, &rows).unwrap();
    artifacts
}

#[test]
#[cfg_attr(
    not(has_browser),
    ignore = "no Chromium or ChromeDriver when built: apt-get install chromium chromium-driver \
              (or set MNIST_CHROMIUM and MNIST_CHROMEDRIVER)"
)]
fn a_sweep_page_shows_its_points_table_charts_and_figures_in_chromium() {
    require_browser();
    let dir = tempfile::tempdir().unwrap();
    let artifacts = fixture_sweep(dir.path());
    let addr = common::start_server(&artifacts);
    let base = format!("http://{addr}");
    let browser = Browser::start();

    // The runs page links to it.
    browser.open(&format!("{base}/"));
    let link = browser.wait(
        "the sweep in the runs page's list of sweeps",
        "const a = document.querySelector('#sweep-list li[data-sweep=bs] a');\
         return !!a && !document.getElementById('sweeps').hidden && a.getAttribute('href');",
    );
    assert_eq!(link, "/sweeps/bs/");

    browser.open(&format!("{base}/sweeps/bs/"));
    let rows = browser.wait(
        "the sweep's table with both points",
        "const rows = [...document.querySelectorAll('#sweep-table tr[data-run]')];\
         return rows.length === 2 && rows.map(r => [...r.cells].map(c => c.textContent));",
    );
    let rows = rows.as_array().unwrap();
    // Best first: rank, run, batch_size, state, epochs, best valid accuracy …
    let accuracy = |r: &Value| percentage(r[5].as_str().unwrap()).unwrap();
    assert!(accuracy(&rows[0]) >= accuracy(&rows[1]), "{rows:?}");
    for row in rows {
        assert_eq!(row[3], "finished", "{row}");
        assert_eq!(row[4], "2", "{row}");
        assert!(
            row[1].as_str().unwrap().starts_with("bs-batch_size-"),
            "{row}"
        );
    }
    // Every point's curves in one chart.
    let series = browser.wait(
        "the sweep page's charts",
        "const u = window.charts && window.charts['epoch-loss'];\
         return !!u && u.series.slice(1).map(s => s.label);",
    );
    let labels: Vec<&str> = series
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for run in ["bs-batch_size-20", "bs-batch_size-50"] {
        assert!(
            labels.contains(&format!("{run} train loss").as_str()),
            "{labels:?}"
        );
    }
    // Its two figures, loaded.
    let figures = browser.wait(
        "the sweep's figures to load",
        "const imgs = [...document.querySelectorAll('#figures img')];\
         return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0)\
             && imgs.map(i => i.dataset.figure);",
    );
    assert_eq!(figures, json!(["sweep.png", "curves.png"]));
    let state = browser.run(
        "return document.getElementById('state').textContent;",
        json!([]),
    );
    assert!(
        state
            .as_str()
            .unwrap()
            .starts_with("finished · 2 of 2 points"),
        "{state}"
    );
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}
