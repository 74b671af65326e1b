//! `mnist serve`: a local web app over the artifacts folder. Runs (a live table), a page per run
//! (its report and a canvas to draw digits on), a comparison of runs, and a JSON API. It reads
//! runs through `RunDir` and draws through `mnist-report`; its page assets are compiled in.

mod api;
pub mod catalog;
mod models;
mod pages;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use mnist_trainer::Error;
use mnist_trainer::backend::Backend;

/// Largest request body accepted: a photo of a digit is far smaller; larger bodies get 413.
pub const MAX_BODY: usize = 10 * 1024 * 1024;

/// What the server serves, from where.
pub struct ServeConfig {
    /// The folder of run directories.
    pub artifacts: PathBuf,
    pub addr: SocketAddr,
}

/// Shared by every request.
pub(crate) struct AppState {
    pub artifacts: PathBuf,
    pub backend: Backend,
    pub models: models::ModelCache,
    /// Where the comparison figures are drawn (a folder of this process, removed at exit).
    pub scratch: PathBuf,
}

/// The app's routes over `artifacts`.
pub fn router(artifacts: &Path, backend: Backend, scratch: &Path) -> Router {
    let state = Arc::new(AppState {
        artifacts: artifacts.to_path_buf(),
        backend,
        models: models::ModelCache::default(),
        scratch: scratch.to_path_buf(),
    });
    Router::new()
        .route("/", get(pages::runs))
        .route("/draw", get(pages::draw))
        .route("/compare", get(pages::compare))
        .route("/compare/{file}", get(pages::compare_figure))
        .route("/runs/{name}", get(pages::run_redirect))
        .route("/runs/{name}/", get(pages::run))
        .route("/runs/{name}/{file}", get(pages::run_figure))
        .route("/assets/{file}", get(pages::asset))
        .route("/api/runs", get(api::runs))
        .route("/api/runs/{name}", get(api::run))
        .route("/api/runs/{name}/predict", post(api::predict))
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Serves until Ctrl-C. `ready` is called with the bound address before the first request.
pub fn serve(
    config: &ServeConfig,
    backend: Backend,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), Error> {
    let artifacts = &config.artifacts;
    if !artifacts.is_dir() {
        return Err(Error::run(
            artifacts,
            "no such folder of runs; train a run first (mnist train configs/mlp.toml) or pass --artifacts DIR",
        ));
    }
    let artifacts = artifacts
        .canonicalize()
        .map_err(|e| Error::io(artifacts, "cannot open", e))?;
    // Made when the first comparison is drawn.
    let scratch = std::env::temp_dir().join(format!("mnist-serve-{}", std::process::id()));
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| Error::Check(format!("cannot start the server's runtime: {e}")))?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| Error::Check(format!("cannot listen on {}: {e}", config.addr)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Check(format!("cannot listen on {}: {e}", config.addr)))?;
        ready(addr);
        let app = router(&artifacts, backend, &scratch);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| Error::Check(format!("the server stopped: {e}")))
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result
}
