//! The pages: HTML shells that `assets/app.js` fills from the API, the run page with the run's
//! report, the comparison, and the files they show. Assets are compiled into the binary.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use mnist_report::html::{escape, model_table};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::AppState;
use crate::catalog;

const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const CHARTS_JS: &str = include_str!("../assets/charts.js");
/// uPlot 1.6.32, vendored unmodified (see `assets/vendor/README.md`), so charts work offline.
const UPLOT_JS: &str = include_str!("../assets/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/vendor/uPlot.min.css");
const UPLOT_LICENSE: &str = include_str!("../assets/vendor/uPlot.LICENSE");

/// A page of the app: `page` tells `app.js` what to do with it; `run` names its run.
/// The run and compare pages also get the charts' script and uPlot.
fn shell(title: &str, page: &str, run: Option<&str>, body: &str) -> Html<String> {
    let run = run.map_or(String::new(), |r| format!(" data-run=\"{}\"", escape(r)));
    let charts = matches!(page, "run" | "compare" | "sweep");
    let (chart_css, chart_js) = if charts {
        (
            "<link rel=\"stylesheet\" href=\"/assets/uPlot.min.css\">",
            "<script src=\"/assets/uPlot.iife.min.js\"></script><script src=\"/assets/charts.js\"></script>",
        )
    } else {
        ("", "")
    };
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title>{chart_css}<link rel=\"stylesheet\" href=\"/assets/app.css\"></head>\n\
         <body data-page=\"{page}\"{run}><nav><a href=\"/\">Runs</a><a href=\"/new\">New run</a><a href=\"/draw\">Draw</a></nav>\n\
         {body}\n{chart_js}<script src=\"/assets/app.js\"></script></body></html>\n",
        escape(title)
    ))
}

fn not_found_page(what: &str) -> Response {
    let body = format!("<h1>Not found</h1><p>{}</p>", escape(what));
    (
        StatusCode::NOT_FOUND,
        shell("Not found", "none", None, &body),
    )
        .into_response()
}

/// An unknown address: a page, or under `/api/` a JSON error like the rest of the API's.
pub async fn not_found(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return crate::api::no_endpoint(&method, path);
    }
    not_found_page("No such page.")
}

pub async fn asset(Path(file): Path<String>) -> Response {
    const JS: &str = "text/javascript; charset=utf-8";
    match file.as_str() {
        "app.js" => ([(header::CONTENT_TYPE, JS)], APP_JS).into_response(),
        "charts.js" => ([(header::CONTENT_TYPE, JS)], CHARTS_JS).into_response(),
        "uPlot.iife.min.js" => ([(header::CONTENT_TYPE, JS)], UPLOT_JS).into_response(),
        "uPlot.min.css" => (
            [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
            UPLOT_CSS,
        )
            .into_response(),
        // The MIT licence asks that its notice go with the copies served.
        "uPlot.LICENSE" => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            UPLOT_LICENSE,
        )
            .into_response(),
        "app.css" => {
            let css = format!("{}\n{APP_CSS}", mnist_report::html::STYLE);
            ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], css).into_response()
        }
        _ => not_found_page("No such asset."),
    }
}

/// The draw panel: a canvas, a clear button, the probabilities, the image the model saw and why
/// the model answered so (filled in by `app.js` from the prediction's explanation).
const DRAW_PANEL: &str = "<section id=\"draw\" class=\"draw\"><h2>Draw a digit</h2>\
    <p class=\"hint\">Draw with the mouse, a pen or a finger; or drop an image file on the page. \
    The model sees what is shown on the right: your drawing prepared the way MNIST was made.</p>\
    <div class=\"panel\"><div><canvas id=\"canvas\" width=\"280\" height=\"280\"></canvas>\
    <div><button id=\"clear\" type=\"button\">Clear</button></div></div>\
    <div class=\"result\"><div>prediction <span id=\"prediction\">–</span></div>\
    <div id=\"bars\" class=\"bars\"></div>\
    <div>the 28×28 image the model saw</div><canvas id=\"prepared\" width=\"28\" height=\"28\"></canvas>\
    <div id=\"draw-error\" class=\"error\"></div></div></div>\
    <div id=\"explanation\" class=\"explanation\" hidden><h3>Why <span id=\"why-class\"></span>?</h3>\
    <figure class=\"saliency\"><canvas id=\"saliency\" width=\"28\" height=\"28\"></canvas>\
    <figcaption id=\"saliency-caption\"></figcaption></figure><div id=\"explain-detail\"></div></div></section>";

pub async fn runs() -> Html<String> {
    let body = "<h1>Runs</h1><p id=\"status\" class=\"hint\">loading…</p>\
        <section id=\"sweeps\" hidden><h2>Sweeps</h2><ul id=\"sweep-list\"></ul></section>\
        <p><label>filter <input id=\"filter\" type=\"search\" placeholder=\"name, model, state…\" \
        autocomplete=\"off\"></label></p>\
        <table id=\"runs\" class=\"runs\"><thead></thead><tbody></tbody></table>\
        <p><button id=\"compare\" type=\"button\" disabled>Compare the checked runs</button></p>";
    shell("Runs", "runs", None, body)
}

/// The New run page: a config from the configs folder or a run, edited as TOML with live
/// validation, a name, and a launch button; `app.js` does the work through the API.
pub async fn new_run() -> Html<String> {
    let body = "<h1>New run</h1>\
        <p class=\"hint\">Start from a config file or from a run's own config, change what you \
        like, name the run and launch it. The server checks the config as <code>mnist train</code> \
        does while you type; the run trains in <code>mnist train</code>, a process of its own, \
        into this server's artifacts folder. A config with a <code>[sweep]</code> table is a \
        sweep: it is checked as <code>mnist sweep</code> does, and launching it trains one run \
        per point, one at a time, its page showing them together.</p>\
        <p id=\"new-status\" class=\"hint\"></p>\
        <form id=\"new-run\" class=\"new-run\">\
        <p><label>start from <select id=\"source\"></select></label> \
        <label>run name <input id=\"run-name\" required autocomplete=\"off\" spellcheck=\"false\"></label></p>\
        <textarea id=\"config\" rows=\"28\" cols=\"90\" spellcheck=\"false\" \
        aria-label=\"the run's config (TOML)\"></textarea>\
        <p id=\"check\" class=\"hint\">–</p>\
        <p><button id=\"launch\" type=\"submit\" disabled>Launch</button></p></form>";
    shell("New run", "new", None, body)
}

pub async fn draw() -> Html<String> {
    let body = format!(
        "<h1>Draw</h1><p><label>run <select id=\"run-select\"></select></label></p>{DRAW_PANEL}"
    );
    shell("Draw", "draw", None, &body)
}

pub async fn run_redirect(Path(name): Path<String>) -> Response {
    Redirect::permanent(&format!("/runs/{}/", encode(&name))).into_response()
}

/// What a run name keeps in a URL path segment: RFC 3986's unreserved characters; every other
/// byte (of UTF-8) is percent-encoded.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a run name for a URL path segment.
pub(crate) fn encode(name: &str) -> String {
    utf8_percent_encode(name, PATH_SEGMENT).to_string()
}

pub async fn run(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(run) = catalog::find(&state.artifacts, &name) else {
        if state.lab.is_queued(&name) {
            // Queued before its directory exists: the page fills in once it starts.
            let body = run_body(&name, &details(None, None));
            return shell(&format!("Run {name}"), "run", Some(&name), &body).into_response();
        }
        return not_found_page(&format!("No run called `{name}`."));
    };
    let (report, model) = tokio::task::spawn_blocking(move || {
        let report = std::fs::read_to_string(run.report_html())
            .ok()
            .and_then(|html| {
                let start = html.find("<body>")? + "<body>".len();
                let end = html.rfind("</body>")?;
                Some(html[start..end].to_string())
            });
        // Until the report exists, the model's layers come from the run's own config.
        let model = match &report {
            Some(_) => None,
            None => run
                .plan()
                .ok()
                .map(|plan| model_table(&plan.model_summary())),
        };
        (report, model)
    })
    .await
    .unwrap_or((None, None));
    let body = run_body(&name, &details(report.as_deref(), model.as_deref()));
    shell(&format!("Run {name}"), "run", Some(&name), &body).into_response()
}

/// The run page top-down: name, summary and controls, charts, the weights forming, the draw
/// panel, then the details
/// and the trainer's log (where the web app launched it).
fn run_body(name: &str, details: &str) -> String {
    format!(
        "<h1>Run <code>{}</code></h1><p id=\"state\" class=\"hint\"></p>\
         <p id=\"controls\" class=\"controls\"></p>\
         <section id=\"charts\" class=\"charts\"></section>{EVOLUTION}{DRAW_PANEL}\
         <section id=\"details\"><h2>Details</h2>{details}\
         <section id=\"log\" hidden><h2>Log</h2><pre id=\"log-text\"></pre></section></section>",
        escape(name)
    )
}

/// The weights forming: a slider and a play button over the run's snapshots, shown by `app.js`
/// where the run has them.
const EVOLUTION: &str = "<section id=\"evolution\" class=\"evolution\" hidden><h2>Weights forming</h2>\
    <p class=\"hint\" id=\"evolution-hint\"></p>\
    <p class=\"controls\"><button id=\"play\" type=\"button\">Play</button>\
    <input id=\"snapshot-slider\" type=\"range\" min=\"0\" max=\"0\" step=\"1\" value=\"0\" \
    aria-label=\"snapshot\"><span id=\"snapshot-caption\"></span></p>\
    <div id=\"templates\" class=\"templates\"></div></section>";

/// The run's epochs, filled and kept current by `app.js` (a run that trains has no report yet).
const LIVE_EPOCHS: &str = "<h2>Per epoch</h2><table id=\"epochs\"></table>";

/// The run page's details: the body of the run's `report.html` without its title (the page has
/// its own) and with its per-epoch table swapped for the live one, so each table is there once;
/// or, before the report is written, the model's layers and the live epochs.
fn details(report: Option<&str>, model: Option<&str>) -> String {
    let Some(report) = report else {
        return format!(
            "<p class=\"hint\">No report yet: it is written when training ends.</p>{}{LIVE_EPOCHS}",
            model.unwrap_or_default()
        );
    };
    let mut body = report.trim_start();
    if body.starts_with("<h1>")
        && let Some(end) = body.find("</h1>")
    {
        body = &body[end + "</h1>".len()..];
    }
    // The report's per-epoch table is a heading and the table after it (`mnist_report::html`).
    let heading = "<h2>Per epoch</h2>";
    let table = body.find(heading).and_then(|start| {
        let end = body[start..].find("</table>")? + start + "</table>".len();
        Some((start, end))
    });
    match table {
        Some((start, end)) => format!("{}{LIVE_EPOCHS}{}", &body[..start], &body[end..]),
        None => format!("{LIVE_EPOCHS}{body}"),
    }
}

pub async fn run_figure(
    State(state): State<Arc<AppState>>,
    Path((name, file)): Path<(String, String)>,
) -> Response {
    let Some(run) = catalog::find(&state.artifacts, &name) else {
        return not_found_page(&format!("No run called `{name}`."));
    };
    match catalog::figure_file(&run, &file) {
        Some(path) => figure_response(path).await,
        None => not_found_page("No such figure."),
    }
}

/// A figure's file: PNG, or GIF for `weights_evolution.gif`.
async fn figure_response(path: PathBuf) -> Response {
    let kind = if path.extension().is_some_and(|e| e == "gif") {
        "image/gif"
    } else {
        "image/png"
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, kind)], bytes).into_response(),
        Err(_) => not_found_page("The figure is gone (the run changed)."),
    }
}

pub async fn sweep_redirect(Path(name): Path<String>) -> Response {
    Redirect::permanent(&format!("/sweeps/{}/", encode(&name))).into_response()
}

/// The sweep page: its state and controls, its points ranked, their curves together, its
/// figures and its log; `app.js` fills it from `GET /api/sweeps/<name>`.
pub async fn sweep(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    if crate::sweeps::find(&state.artifacts, &name).is_none() {
        return not_found_page(&format!("No sweep called `{name}`."));
    }
    let body = format!(
        "<h1>Sweep <code>{}</code></h1><p id=\"state\" class=\"hint\">loading…</p>\
         <p id=\"controls\" class=\"controls\"></p>\
         <h2>Points, best first</h2><table id=\"sweep-table\" class=\"runs\"></table>\
         <section id=\"charts\" class=\"charts\"></section>\
         <section id=\"figures\"></section>\
         <section id=\"log\" hidden><h2>Log</h2><pre id=\"log-text\"></pre></section>",
        escape(&name)
    );
    shell(&format!("Sweep {name}"), "sweep", Some(&name), &body).into_response()
}

/// `sweep.png` or `curves.png` of a sweep: only its known figure names are served.
pub async fn sweep_figure(
    State(state): State<Arc<AppState>>,
    Path((name, file)): Path<(String, String)>,
) -> Response {
    let Some(dir) = crate::sweeps::find(&state.artifacts, &name) else {
        return not_found_page(&format!("No sweep called `{name}`."));
    };
    match crate::sweeps::figure_file(&dir, &file) {
        Some(path) => figure_response(path).await,
        None => not_found_page("No such figure."),
    }
}

#[derive(Deserialize)]
pub struct CompareQuery {
    #[serde(default)]
    runs: String,
}

pub async fn compare(
    State(state): State<Arc<AppState>>,
    Query(q): Query<CompareQuery>,
) -> Response {
    let names: Vec<String> = q
        .runs
        .split(',')
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    // The charts' runs, for `app.js`; names as JSON, since a name may hold any character.
    let runs = serde_json::to_string(&names).unwrap_or_default();
    let work = move || {
        state
            .comparisons
            .page(&state.artifacts, &state.backend, &names)
    };
    let title = format!("Compare {}", q.runs);
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(html)) => {
            let body = format!(
                "<h1>{}</h1><section id=\"charts\" class=\"charts\" data-runs=\"{}\"></section>{html}",
                escape(&title),
                escape(&runs)
            );
            shell(&title, "compare", None, &body).into_response()
        }
        Ok(Err(why)) => {
            let body = format!("<h1>Compare</h1><p class=\"error\">{}</p>", escape(&why));
            (
                StatusCode::NOT_FOUND,
                shell("Compare", "compare", None, &body),
            )
                .into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub async fn compare_figure(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
) -> Response {
    let plain = file.ends_with(".png") && !file.contains(['/', '\\']) && !file.starts_with('.');
    if !plain {
        return not_found_page("No such figure.");
    }
    match state.comparisons.figure(&file) {
        Some(path) => figure_response(path).await,
        None => not_found_page("No such figure."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_have_one_epoch_table_and_no_second_title() {
        let report = "\n<h1>Run <code>mlp</code></h1>\n<table><tbody><tr><td>summary</td></tr></tbody></table>\
            <section id=\"model\"><table><tr><td>layers</td></tr></table></section>\
            <h2>Per epoch</h2><table><thead><tr><th>epoch</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>\
            <h2>Per class (test set)</h2><table><tr><td>class</td></tr></table><h2>Figures</h2>";
        let html = details(Some(report), None);
        assert!(!html.contains("<h1>"), "{html}");
        assert_eq!(html.matches("<h2>Per epoch</h2>").count(), 1, "{html}");
        assert_eq!(html.matches("<table").count(), 4, "{html}");
        assert!(html.contains("<td>summary</td>") && html.contains("<td>layers</td>"));
        assert!(
            !html.contains("<td>1</td>"),
            "the report's epoch table stays: {html}"
        );
        // Summary, model, live epochs, per class: in the report's order.
        let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("no {s} in {html}"));
        assert!(at("summary") < at("layers") && at("layers") < at("id=\"epochs\""));
        assert!(at("id=\"epochs\"") < at("Per class"));
        // Before the report: the model's table and the live epochs.
        let html = details(None, Some("<table><tr><td>layers</td></tr></table>"));
        assert!(html.contains("No report yet") && html.contains("<td>layers</td>"));
        assert_eq!(html.matches("id=\"epochs\"").count(), 1, "{html}");
        // A report without a per-epoch table still gets the live one.
        let html = details(Some("<h1>x</h1><p>old</p>"), None);
        assert!(
            html.contains("id=\"epochs\"") && html.contains("<p>old</p>"),
            "{html}"
        );
    }

    /// The hand-written encoder this module had before `percent-encoding`: the reference.
    fn encode_before(name: &str) -> String {
        name.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    #[test]
    fn run_names_are_encoded_as_before() {
        for (name, encoded) in [
            ("mlp", "mlp"),
            ("linear-scratch_2.v~1", "linear-scratch_2.v~1"),
            ("my run", "my%20run"),
            ("a/b", "a%2Fb"),
            ("100%", "100%25"),
            ("what?", "what%3F"),
            ("#1", "%231"),
            ("a&b=c+d", "a%26b%3Dc%2Bd"),
            ("ü 7", "%C3%BC%207"),
            ("数字", "%E6%95%B0%E5%AD%97"),
            ("a:b@c;d", "a%3Ab%40c%3Bd"),
            ("", ""),
        ] {
            assert_eq!(encode(name), encode_before(name), "{name:?}");
            assert_eq!(encode(name), encoded, "{name:?}");
        }
        // Every ASCII character, a C1 control character and an emoji.
        let all: String = (0u8..128).map(char::from).chain(['\u{80}', '🙂']).collect();
        assert_eq!(encode(&all), encode_before(&all));
    }
}
