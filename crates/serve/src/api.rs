//! The JSON API: `GET /api/runs`, `GET /api/runs/<name>`, `GET /api/runs/<name>/metrics`,
//! `GET /api/runs/<name>/snapshots[/<step>]`, `POST /api/runs/<name>/predict[?explain=true]`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mnist_data::{IMAGE_PIXELS, IMAGE_SIDE};
use mnist_infer::{predict, prepare};
use mnist_trainer::Error;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::catalog;
use crate::{AppState, MAX_BODY};

/// An error answered as `{"error": "..."}` with its status.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

pub fn unknown_run(name: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("no run called `{name}`"))
}

/// Every error under `/api/` as `{"error": "..."}`: axum's own answers (a body over the limit,
/// a query string or path it cannot read, a method the route does not take) are plain text, and
/// the page's script, like any client of the API, reads JSON. Headers such as `Allow` and
/// `Retry-After` are kept.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let api = path == "/api" || path.starts_with("/api/");
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !api || json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    // axum's rejections are a line of text; more than this is not one of them.
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            format!("{method} is not allowed here; this address takes {allowed}")
        }
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_lowercase(),
        _ => text,
    };
    let mut answer = ApiError(status, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

fn too_large() -> String {
    format!(
        "request body over the limit of {} MB",
        MAX_BODY / (1024 * 1024)
    )
}

/// An unknown address under `/api/`.
pub fn no_endpoint(method: &Method, path: &str) -> Response {
    ApiError(
        StatusCode::NOT_FOUND,
        format!(
            "no API endpoint {method} {path}: there are GET and POST /api/runs, GET and DELETE \
             /api/runs/<name>, GET /api/runs/<name>/metrics, /log, /snapshots and \
             /snapshots/<step>, POST /api/runs/<name>/stop, /resume and /predict, GET \
             /api/configs and POST /api/configs/check, GET and POST /api/sweeps, POST \
             /api/sweeps/check, GET /api/sweeps/<name>, POST /api/sweeps/<name>/stop and \
             /resume"
        ),
    )
    .into_response()
}

/// Predictions are bounded: at most one per core at a time (decoding and preparing an image is
/// CPU work, and each holds a decoded image in memory), and at most [`QUEUE_PER_CORE`] per core
/// admitted in all; past that a request is answered 503 with `Retry-After` at once, and one
/// that has waited [`WAIT`] for its turn is answered so too. A waiting request holds no body:
/// the body is read when its turn comes.
pub struct PredictGate {
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
}

/// Requests admitted per core, running or waiting.
pub const QUEUE_PER_CORE: usize = 8;
/// Longest wait for a turn.
pub const WAIT: Duration = Duration::from_secs(10);
/// Longest a body may take to arrive once its turn has come (the turn is held meanwhile).
pub const BODY_WAIT: Duration = Duration::from_secs(10);

impl Default for PredictGate {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            running: Arc::new(Semaphore::new(cores)),
            admitted: Arc::new(Semaphore::new(cores * QUEUE_PER_CORE)),
        }
    }
}

fn busy(why: &str) -> Response {
    let mut answer = ApiError(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("busy: {why}; retry in a second"),
    )
    .into_response();
    answer
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    answer
}

impl PredictGate {
    /// A turn: both permits, held until the prediction is done.
    async fn turn(&self) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit), Response> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy("too many predictions waiting"))?;
        let running = tokio::time::timeout(WAIT, self.running.clone().acquire_owned())
            .await
            .map_err(|_| busy("no turn came within 10 s"))?
            .map_err(|_| busy("the server is stopping"))?;
        Ok((admitted, running))
    }
}

pub async fn runs(State(state): State<Arc<AppState>>) -> Response {
    let work = move || {
        let mut list = catalog::list(&state.artifacts);
        state.lab.overlay(&mut list);
        list
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `GET /api/sweeps`: every sweep under the artifacts folder, with its points, how many have
/// finished and its state.
pub async fn sweeps(State(state): State<Arc<AppState>>) -> Response {
    let work = move || crate::sweeps::list(&state.artifacts, |n| state.lab.sweep_job(n));
    match tokio::task::spawn_blocking(work).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `GET /api/sweeps/<name>`: the sweep's summary rows (one per point), its swept keys, each
/// point's run and state, its figures and the end of its log.
pub async fn sweep(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(dir) = crate::sweeps::find(&state.artifacts, &name) else {
        return ApiError(StatusCode::NOT_FOUND, format!("no sweep called `{name}`"))
            .into_response();
    };
    let lab = state.lab.clone();
    let work = move || crate::sweeps::detail(&dir, lab.sweep_job(&name));
    match tokio::task::spawn_blocking(work).await {
        Ok(detail) => Json(detail).into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Largest part of a run's log `GET /api/runs/<name>/log` answers: its end.
const LOG_TAIL: u64 = 64 * 1024;

/// `GET /api/runs/<name>/log`: the end of the run's `train.log` as text (404 if it has none: it
/// was trained from a terminal, whose output went there).
pub async fn log(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(run) = catalog::find(&state.artifacts, &name) else {
        return unknown_run(&name).into_response();
    };
    match tokio::task::spawn_blocking(move || catalog::log_tail(&run, LOG_TAIL)).await {
        Ok(Some(text)) => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
        Ok(None) => ApiError(
            StatusCode::NOT_FOUND,
            format!("`{name}` has no train.log: it was not launched from the web app"),
        )
        .into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub async fn run(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(run) = catalog::find(&state.artifacts, &name) else {
        let mut queued = vec![];
        state.lab.overlay(&mut queued);
        if let Some(summary) = queued.into_iter().find(|r| r.name == name) {
            return Json(summary).into_response();
        }
        return unknown_run(&name).into_response();
    };
    let lab = state.lab.clone();
    let work = move || {
        let mut detail = catalog::detail(&run);
        let mut one = vec![detail.summary.clone()];
        lab.overlay(&mut one);
        if let Some(summary) = one.into_iter().next() {
            detail.summary = summary;
        }
        detail
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(detail) => Json(detail).into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
pub struct MetricsQuery {
    /// Only iterations after this one (what a page already has).
    #[serde(default)]
    since: usize,
    /// Iterations per point, at least; raised to keep the answer within `MAX_POINTS`.
    every: Option<usize>,
}

/// The run's epochs and its iterations after `since`, averaged in buckets (`catalog::metrics`).
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(query): Query<MetricsQuery>,
) -> Response {
    if query.every == Some(0) {
        return ApiError(
            StatusCode::BAD_REQUEST,
            "every must be at least 1 (iterations per point)".into(),
        )
        .into_response();
    }
    let Some(run) = catalog::find(&state.artifacts, &name) else {
        return unknown_run(&name).into_response();
    };
    let work = move || catalog::metrics(&run, query.since, query.every);
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(metrics)) => Json(metrics).into_response(),
        // A damaged records file: the run is there, but its records cannot be read now.
        Ok(Err(e)) => ApiError(StatusCode::CONFLICT, e.to_string()).into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `GET /api/runs/<name>/snapshots`: the steps of the run's weight snapshots, each with its
/// epoch and training batch's loss and accuracy (404 for a run without snapshots).
pub async fn snapshots(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(run) = catalog::find(&state.artifacts, &name) else {
        return unknown_run(&name).into_response();
    };
    let missing = format!(
        "`{name}` has no weight snapshots (a CNN, or a run trained before they were recorded)"
    );
    answer(move || catalog::snapshots(&run), missing).await
}

/// `GET /api/runs/<name>/snapshots/<step>`: the snapshot after `step` as ten 28×28 templates.
pub async fn snapshot(
    State(state): State<Arc<AppState>>,
    Path((name, step)): Path<(String, usize)>,
) -> Response {
    let Some(run) = catalog::find(&state.artifacts, &name) else {
        return unknown_run(&name).into_response();
    };
    let missing = format!("`{name}` has no weight snapshot after step {step}");
    answer(move || catalog::snapshot(&run, step), missing).await
}

/// Runs `work` off the async threads and answers its value as JSON: 404 with `missing` for
/// `None`, 409 for a run file that cannot be read now.
async fn answer<T: Serialize + Send + 'static>(
    work: impl FnOnce() -> Result<Option<T>, Error> + Send + 'static,
    missing: String,
) -> Response {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(Some(value))) => Json(value).into_response(),
        Ok(Ok(None)) => ApiError(StatusCode::NOT_FOUND, missing).into_response(),
        Ok(Err(e)) => ApiError(StatusCode::CONFLICT, e.to_string()).into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
pub struct PredictQuery {
    /// The image is already 28×28, light ink on dark: take it as is.
    #[serde(default)]
    raw: bool,
    /// Add the explanation of the answer (`mnist_infer::explain`).
    #[serde(default)]
    explain: bool,
}

/// A 28×28 image as JSON: `{"pixels": [[…28…] ×28]}` or 784 values in a row, 0–255, ink bright
/// on dark (MNIST's own form, as `--raw` takes it).
#[derive(Deserialize)]
struct PixelsBody {
    pixels: serde_json::Value,
}

fn pixels_from_json(body: &[u8]) -> Result<Vec<u8>, String> {
    let parsed: PixelsBody =
        serde_json::from_slice(body).map_err(|e| format!("malformed JSON: {e}"))?;
    let flat: Vec<&serde_json::Value> = match &parsed.pixels {
        serde_json::Value::Array(rows) if rows.iter().all(|r| r.is_array()) => {
            if rows.len() != IMAGE_SIDE {
                return Err(format!(
                    "pixels has {} rows, expected {IMAGE_SIDE}",
                    rows.len()
                ));
            }
            // Rows of 29 and 27 values add up to 784 too, but are not a 28×28 image.
            let lengths = rows.iter().map(|r| r.as_array().map_or(0, Vec::len));
            if let Some((k, n)) = lengths.enumerate().find(|&(_, n)| n != IMAGE_SIDE) {
                return Err(format!(
                    "pixels row {k} has {n} values, expected {IMAGE_SIDE}"
                ));
            }
            rows.iter()
                .flat_map(|r| r.as_array().into_iter().flatten())
                .collect()
        }
        serde_json::Value::Array(values) => values.iter().collect(),
        _ => return Err("pixels must be an array of 784 numbers or 28 rows of 28".into()),
    };
    if flat.len() != IMAGE_PIXELS {
        return Err(format!(
            "pixels has {} values, expected {IMAGE_PIXELS} (28×28)",
            flat.len()
        ));
    }
    let pixels = flat
        .iter()
        .map(|v| {
            v.as_f64()
                .filter(|x| (0.0..=255.0).contains(x))
                .map(|x| x.round() as u8)
                .ok_or_else(|| format!("pixel {v} is not a number in 0..=255"))
        })
        .collect::<Result<Vec<u8>, String>>()?;
    if pixels.iter().all(|&p| p == 0) {
        return Err("blank image: every pixel is 0".into());
    }
    Ok(pixels)
}

/// Predicts an uploaded image (PNG, JPEG, BMP: prepared as `mnist predict` does) or a JSON
/// 28×28 array; answers with the object `mnist predict --json` prints (with `?explain=true`, its
/// `explanation` too).
pub async fn predict(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(query): Query<PredictQuery>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let Some(run) = catalog::find(&state.artifacts, &name) else {
        return unknown_run(&name).into_response();
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let turn = match state.predictions.turn().await {
        Ok(t) => t,
        Err(answer) => return answer,
    };
    let body = match tokio::time::timeout(BODY_WAIT, Bytes::from_request(request, &())).await {
        Ok(Ok(body)) => body,
        Ok(Err(rejection)) => {
            let status = rejection.status();
            let why = if status == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                rejection.body_text()
            };
            return ApiError(status, why).into_response();
        }
        Err(_) => {
            return ApiError(
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive within 10 s".into(),
            )
            .into_response();
        }
    };
    let work = move || -> Result<predict::Prediction, ApiError> {
        // The turn ends when the work does, even if the client has gone.
        let _turn = turn;
        let bad = |why: String| ApiError(StatusCode::BAD_REQUEST, why);
        if body.is_empty() {
            return Err(bad(
                "empty body: send an image file or {\"pixels\": [...]}".into()
            ));
        }
        // Prepare before taking the model, so a bad image costs no model load.
        let pixels = if json {
            pixels_from_json(&body).map_err(bad)?
        } else {
            let img = prepare::decode(&body).map_err(bad)?;
            let prepared = prepare::for_model(&img, query.raw);
            prepared.map_err(bad)?
        };
        let device = &state.backend.device;
        let model = state
            .models
            .get(&run, device)
            .map_err(|why| ApiError(StatusCode::CONFLICT, why))?;
        let model = model.lock().map_err(|_| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "model lock poisoned".into(),
            )
        })?;
        let mut prediction = predict::predict_pixels(&model, "upload", pixels, device);
        if query.explain {
            prediction.explain(&model, device);
        }
        Ok(prediction)
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
