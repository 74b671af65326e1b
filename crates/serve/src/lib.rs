//! `mnist serve`: a local web app over the artifacts folder. Runs (a live table), a page per run
//! (its report and a canvas to draw digits on), a comparison of runs, and a JSON API. It reads
//! runs through `RunDir` and draws through `mnist-report`; its page assets are compiled in.

mod api;
pub mod catalog;
mod compare;
mod control;
pub mod lab;
mod models;
mod pages;
mod security;
mod sweeps;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
pub use lab::TrainerProgram;
use mnist_trainer::Error;
use mnist_trainer::backend::Backend;
use mnist_trainer::run::plan::resolve;

pub use compare::KEPT_COMPARISONS;

/// How long a stopping server waits for the trainers it started to stop.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// Largest request body accepted: a photo of a digit is far smaller; larger bodies get 413.
pub const MAX_BODY: usize = 10 * 1024 * 1024;

/// What the server serves, from where.
pub struct ServeConfig {
    /// The folder of run directories.
    pub artifacts: PathBuf,
    pub addr: SocketAddr,
    /// The folder of config files the New run page starts from.
    pub configs: PathBuf,
    /// How to start `mnist train` for a run launched from the browser; `None`: runs cannot be
    /// launched (the pages say so).
    pub trainer: Option<TrainerProgram>,
    /// Runs trained at once; the rest wait in the queue.
    pub max_parallel: usize,
    /// The token for requests that change something; `None`: a random one, made at start.
    pub token: Option<String>,
}

impl ServeConfig {
    /// Serves `artifacts` at `addr`: configs from `configs/`, no launching, one run at a time per
    /// two cores, a random token.
    pub fn new(artifacts: impl Into<PathBuf>, addr: SocketAddr) -> Self {
        Self {
            artifacts: artifacts.into(),
            addr,
            configs: PathBuf::from("configs"),
            trainer: None,
            max_parallel: default_max_parallel(),
            token: None,
        }
    }
}

/// Trainers at once by default: each uses every core for its tensor work, so two on a 2-core
/// machine only slow each other down.
pub fn default_max_parallel() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Where a started server is: its address and its token (the address to open is
/// `http://<addr>/?token=<token>`).
pub struct Serving {
    pub addr: SocketAddr,
    pub token: String,
}

/// Shared by every request.
pub(crate) struct AppState {
    pub artifacts: PathBuf,
    pub backend: Backend,
    pub models: models::ModelCache,
    /// The comparisons' evaluations and figures (drawn into the server's scratch folder).
    pub comparisons: compare::Comparisons,
    pub predictions: api::PredictGate,
    pub lab: Arc<lab::Lab>,
}

/// The app's routes over `artifacts`; comparison figures are drawn into `scratch`, runs are
/// launched through `lab`, and every request passes `guard`.
fn router(
    artifacts: &Path,
    backend: Backend,
    scratch: Arc<compare::Scratch>,
    lab: Arc<lab::Lab>,
    guard: Arc<security::Guard>,
) -> Router {
    let state = Arc::new(AppState {
        artifacts: artifacts.to_path_buf(),
        backend,
        models: models::ModelCache::default(),
        comparisons: compare::Comparisons::new(scratch),
        predictions: api::PredictGate::default(),
        lab,
    });
    Router::new()
        .route("/", get(pages::runs))
        .route("/draw", get(pages::draw))
        .route("/compare", get(pages::compare))
        .route("/compare/{file}", get(pages::compare_figure))
        .route("/runs/{name}", get(pages::run_redirect))
        .route("/runs/{name}/", get(pages::run))
        .route("/runs/{name}/{file}", get(pages::run_figure))
        .route("/sweeps/{name}", get(pages::sweep_redirect))
        .route("/sweeps/{name}/", get(pages::sweep))
        .route("/sweeps/{name}/{file}", get(pages::sweep_figure))
        .route("/assets/{file}", get(pages::asset))
        .route("/new", get(pages::new_run))
        .route("/api/configs", get(control::configs))
        .route("/api/configs/check", post(control::check))
        .route("/api/runs", get(api::runs).post(control::launch))
        .route("/api/runs/{name}", get(api::run).delete(control::delete))
        .route("/api/runs/{name}/metrics", get(api::metrics))
        .route("/api/runs/{name}/log", get(api::log))
        .route("/api/runs/{name}/snapshots", get(api::snapshots))
        .route("/api/runs/{name}/snapshots/{step}", get(api::snapshot))
        .route("/api/runs/{name}/stop", post(control::stop))
        .route("/api/runs/{name}/resume", post(control::resume))
        .route("/api/runs/{name}/predict", post(api::predict))
        .route("/api/sweeps", get(api::sweeps).post(control::launch_sweep))
        .route("/api/sweeps/check", post(control::check_sweep))
        .route("/api/sweeps/{name}", get(api::sweep))
        .route("/api/sweeps/{name}/stop", post(control::stop_sweep))
        .route("/api/sweeps/{name}/resume", post(control::resume_sweep))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(api::json_errors))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        // Outermost: a request from a foreign page or host is refused before anything else.
        .layer(axum::middleware::from_fn_with_state(guard, security::check))
        .with_state(state)
}

/// Serves until Ctrl-C (SIGINT) or SIGTERM. `ready` is called with the bound address before
/// the first request. The comparison figures go into a folder of the system's temporary
/// folder, `mnist-serve-XXXXXX`, made at the first comparison and removed when the server stops.
pub fn serve(
    config: &ServeConfig,
    backend: Backend,
    ready: impl FnOnce(&Serving),
) -> Result<(), Error> {
    serve_until(config, backend, &std::env::temp_dir(), ready, stop_signal())
}

/// [`serve`], with the scratch folder made in `scratch_in` and serving until `stop` resolves.
/// On stopping, requests in progress get up to 5 s to finish; the scratch folder is removed.
pub fn serve_until(
    config: &ServeConfig,
    backend: Backend,
    scratch_in: &Path,
    ready: impl FnOnce(&Serving),
    stop: impl Future<Output = ()> + Send + 'static,
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
    let scratch = Arc::new(compare::Scratch::new(scratch_in));
    let configs = resolve(Path::new("."), &config.configs);
    let lab = lab::Lab::new(
        &artifacts,
        &configs,
        config.trainer.clone(),
        config.max_parallel,
        scratch_in,
    )
    .map_err(|e| Error::io(scratch_in, "cannot make a folder in", e))?;
    let lab = Arc::new(lab);
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| Error::Check(format!("cannot start the server's runtime: {e}")))?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| Error::Check(format!("cannot listen on {}: {e}", config.addr)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Check(format!("cannot listen on {}: {e}", config.addr)))?;
        let guard = Arc::new(security::Guard::new(addr, config.token.clone()));
        ready(&Serving {
            addr,
            token: guard.token().to_string(),
        });
        let app = router(&artifacts, backend, scratch.clone(), lab.clone(), guard);
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            stop.await;
            let _ = stopping.send(());
        });
        // Graceful: no new connections, open ones finish their request; but a client that
        // keeps a request open does not keep the server from stopping.
        tokio::select! {
            served = std::future::IntoFuture::into_future(server) => served.map_err(|e| Error::Check(format!("the server stopped: {e}"))),
            _ = async {
                let _ = stopped.await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            } => Ok(()),
        }
    });
    // Trainers this server started stop at their next clean point (resumable); they get a
    // moment to write their checkpoints' records before the server is gone.
    lab.stop_all();
    let deadline = std::time::Instant::now() + STOP_GRACE;
    while lab.busy() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Predictions and comparisons still running on the blocking pool get a moment to end.
    runtime.shutdown_timeout(Duration::from_secs(5));
    scratch.close();
    result
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM (what `kill` and service managers send).
async fn stop_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
