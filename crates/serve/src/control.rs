//! The routes that change something: launch, stop, resume and delete runs, launch, stop and
//! resume sweeps, and check a config or a sweep file before launching it. All of them pass the token and Origin checks of `security` first.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use mnist_trainer::run::dir::RunState;
use serde::Deserialize;

use crate::AppState;
use crate::api::ApiError;
use crate::lab::Refusal;
use crate::sweeps::SweepState;

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, why) = match self {
            Refusal::BadName(why) => (StatusCode::BAD_REQUEST, why),
            Refusal::Invalid(why) => (StatusCode::UNPROCESSABLE_ENTITY, why),
            Refusal::NoSuchRun(name) => (StatusCode::NOT_FOUND, format!("no run called `{name}`")),
            Refusal::Conflict(why) => (StatusCode::CONFLICT, why),
            Refusal::CannotLaunch => (
                StatusCode::SERVICE_UNAVAILABLE,
                "this server was started without a trainer to launch runs with".into(),
            ),
            Refusal::Failed(why) => (StatusCode::INTERNAL_SERVER_ERROR, why),
        };
        ApiError(status, why).into_response()
    }
}

/// `answer` with `Location: /<kind>/<name>/`, the page of what it made.
fn located(mut answer: Response, kind: &str, name: &str) -> Response {
    if let Ok(location) = format!("/{kind}/{}/", crate::pages::encode(name)).parse() {
        answer.headers_mut().insert(header::LOCATION, location);
    }
    answer
}

/// The state a request left a run in.
fn state(status: StatusCode, name: &str, state: RunState) -> Response {
    (
        status,
        Json(serde_json::json!({ "name": name, "state": state })),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct CheckQuery {
    /// The run's name, if chosen: the config is read as `<configs>/<name>.toml`.
    #[serde(default)]
    name: String,
}

/// `POST /api/configs/check`, body: a config's TOML text. 200 with what the run would be, or
/// 422 with the one-line error `mnist train` would print.
pub async fn check(
    State(state): State<Arc<AppState>>,
    axum::extract::Query(q): axum::extract::Query<CheckQuery>,
    body: String,
) -> Response {
    match state.lab.check(&body, &q.name) {
        Ok(checked) => Json(checked).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// `GET /api/configs`: the config files of the configs folder, with their text.
pub async fn configs(State(state): State<Arc<AppState>>) -> Response {
    let folder = state.lab.configs().to_path_buf();
    let list = tokio::task::spawn_blocking(move || crate::catalog::configs(&folder)).await;
    match list {
        Ok(list) => Json(list).into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
pub struct LaunchBody {
    name: String,
    /// The config's TOML text.
    config: String,
}

/// The `{name, config}` body of a launch, or 400 saying what it must be (`config`: what the
/// config's text is).
fn launch_body(
    body: Result<Json<LaunchBody>, JsonRejection>,
    config: &str,
) -> Result<LaunchBody, ApiError> {
    body.map(|Json(b)| b).map_err(|rejection| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "the body must be JSON {{\"name\": \"...\", \"config\": \"<{config}>\"}}: {}",
                rejection.body_text()
            ),
        )
    })
}

/// `POST /api/runs`, body `{name, config}`: 201 with the run's state (`queued` or `training`),
/// 409 for a name in use, 422 for a config that does not pass the checks.
pub async fn launch(
    State(state): State<Arc<AppState>>,
    body: Result<Json<LaunchBody>, JsonRejection>,
) -> Response {
    let body = match launch_body(body, "TOML text") {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let lab = state.lab.clone();
    let name = body.name.clone();
    match tokio::task::spawn_blocking(move || lab.launch(&body.name, &body.config)).await {
        Ok(Ok(run_state)) => {
            let answer = self::state(StatusCode::CREATED, &name, run_state);
            located(answer, "runs", &name)
        }
        Ok(Err(refusal)) => refusal.into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `POST /api/runs/<name>/stop`: out of the queue, or its trainer stops at the next clean point
/// (202: the state changes to `stopped` when it has).
pub async fn stop(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    match state.lab.stop(&name) {
        Ok(RunState::Training) => self::state(StatusCode::ACCEPTED, &name, RunState::Training),
        Ok(s) => self::state(StatusCode::OK, &name, s),
        Err(refusal) => refusal.into_response(),
    }
}

/// `POST /api/runs/<name>/resume`: a stopped or interrupted run goes on from its last
/// checkpoint (202, `queued` or `training`).
pub async fn resume(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let lab = state.lab.clone();
    let run = name.clone();
    match tokio::task::spawn_blocking(move || lab.resume(&run)).await {
        Ok(Ok(s)) => self::state(StatusCode::ACCEPTED, &name, s),
        Ok(Err(refusal)) => refusal.into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `DELETE /api/runs/<name>`: 204, or 409 while it is queued or training.
pub async fn delete(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let lab = state.lab.clone();
    match tokio::task::spawn_blocking(move || lab.delete(&name)).await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(refusal)) => refusal.into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `POST /api/sweeps/check?name=<sweep>`, body: a sweep file's TOML text. 200 with its points
/// (run names and values) and swept keys, or 422 with the one-line error `mnist sweep` would
/// print.
pub async fn check_sweep(
    State(state): State<Arc<AppState>>,
    axum::extract::Query(q): axum::extract::Query<CheckQuery>,
    body: String,
) -> Response {
    let lab = state.lab.clone();
    match tokio::task::spawn_blocking(move || lab.check_sweep(&body, &q.name)).await {
        Ok(Ok(sweep)) => {
            let points: Vec<_> = sweep
                .points
                .iter()
                .map(|p| serde_json::json!({ "run": p.spec.run, "values": p.spec.describe() }))
                .collect();
            let keys: Vec<_> = sweep.spec.keys.iter().map(|k| k.path.clone()).collect();
            Json(serde_json::json!({ "points": points, "keys": keys })).into_response()
        }
        Ok(Err(refusal)) => refusal.into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `POST /api/sweeps`, body `{name, config}` (a sweep file's text): 201 with the sweep's name,
/// its points' run names and its state (`queued` or `running`), 409 for a name in use, 422 for
/// a sweep that does not pass `mnist sweep`'s checks.
pub async fn launch_sweep(
    State(state): State<Arc<AppState>>,
    body: Result<Json<LaunchBody>, JsonRejection>,
) -> Response {
    let body = match launch_body(body, "TOML text of a sweep file") {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let lab = state.lab.clone();
    let name = body.name.clone();
    match tokio::task::spawn_blocking(move || lab.launch_sweep(&body.name, &body.config)).await {
        Ok(Ok((points, run_state))) => {
            let state = if run_state == RunState::Queued {
                SweepState::Queued
            } else {
                SweepState::Running
            };
            let answer = (
                StatusCode::CREATED,
                Json(serde_json::json!({ "name": name, "points": points, "state": state })),
            )
                .into_response();
            located(answer, "sweeps", &name)
        }
        Ok(Err(refusal)) => refusal.into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `POST /api/sweeps/<name>/stop`: out of the queue, or its `mnist sweep` is asked to stop
/// (SIGTERM: no new point starts, the training one stops at a clean point; 202).
pub async fn stop_sweep(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let answer = |status, s| {
        (
            status,
            Json(serde_json::json!({ "name": name, "state": s })),
        )
    };
    match state.lab.stop(&name) {
        Ok(RunState::Training) => answer(StatusCode::ACCEPTED, SweepState::Running).into_response(),
        Ok(_) => answer(StatusCode::OK, SweepState::Stopped).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// `POST /api/sweeps/<name>/resume`: the sweep runs again, skipping its finished points and
/// resuming the others (202, `queued` or `running`).
pub async fn resume_sweep(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Response {
    let lab = state.lab.clone();
    let sweep = name.clone();
    match tokio::task::spawn_blocking(move || lab.resume_sweep(&sweep)).await {
        Ok(Ok(s)) => {
            let s = if s == RunState::Queued {
                SweepState::Queued
            } else {
                SweepState::Running
            };
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({ "name": name, "state": s })),
            )
                .into_response()
        }
        Ok(Err(refusal)) => refusal.into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
