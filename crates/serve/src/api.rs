//! The JSON API: `GET /api/runs`, `GET /api/runs/<name>`, `POST /api/runs/<name>/predict`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mnist_data::{IMAGE_PIXELS, IMAGE_SIDE};
use mnist_trainer::predict;
use serde::Deserialize;

use crate::AppState;
use crate::catalog;

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

pub async fn runs(State(state): State<Arc<AppState>>) -> Response {
    let artifacts = state.artifacts.clone();
    match tokio::task::spawn_blocking(move || catalog::list(&artifacts)).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub async fn run(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(run) = catalog::find(&state.artifacts, &name) else {
        return unknown_run(&name).into_response();
    };
    match tokio::task::spawn_blocking(move || catalog::detail(&run)).await {
        Ok(detail) => Json(detail).into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
pub struct PredictQuery {
    /// The image is already 28×28, light ink on dark: take it as is.
    #[serde(default)]
    raw: bool,
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
/// 28×28 array; answers with the object `mnist predict --json` prints.
pub async fn predict(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(query): Query<PredictQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(run) = catalog::find(&state.artifacts, &name) else {
        return unknown_run(&name).into_response();
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let work = move || -> Result<serde_json::Value, ApiError> {
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
            let img = predict::decode(&body).map_err(bad)?;
            let prepared = if query.raw {
                predict::prepare_raw(&img)
            } else {
                predict::prepare(&img)
            };
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
        Ok(predict::predict_pixels(&model, "upload", pixels, device).json_value())
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
