//! What the server's tests share: fixture runs and a real server on an ephemeral loopback port.
#![allow(dead_code)] // each test file uses a part

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use mnist_trainer::backend::default_backend;
use mnist_trainer::run::dir::RunDir;
use mnist_trainer::testing::TestConfig;
use mnist_trainer::training::observer::quiet;
use mnist_trainer::training::train::{self, TrainRequest};

pub mod child;

/// Trains `config` as run `name` into `artifacts`, with its report and figures.
pub fn train_run(artifacts: &Path, name: &str, config: TestConfig) -> RunDir {
    let request = TrainRequest {
        plan: config.artifacts(artifacts).plan(),
        name: name.into(),
        resume: false,
        force: true,
    };
    let backend = default_backend();
    let outcome = train::train(&request, &backend, quiet()).unwrap();
    mnist_report::write_outcome(&outcome, &backend.device).unwrap();
    outcome.run
}

/// Two finished runs on the fixture images, `mlp` (64 hidden units, 5 epochs) and `linear`
/// (the scratch trainer, 5 epochs), in `dir/artifacts`.
pub fn fixture_runs(dir: &Path) -> PathBuf {
    let artifacts = dir.join("artifacts");
    train_run(&artifacts, "mlp", TestConfig::mlp(64).epochs(5));
    train_run(&artifacts, "linear", TestConfig::scratch().epochs(5));
    artifacts
}

/// Starts `mnist serve` over `artifacts` on 127.0.0.1 at a free port, in a background thread
/// that lives as long as the test process; returns its address. Its scratch folder (the
/// comparison figures) is made beside `artifacts` when that is inside the temporary folder (a
/// test's own temporary folder, removed by the test, since this server never stops), else in
/// the temporary folder itself.
/// The token of the servers [`start_server`] starts.
pub const TEST_TOKEN: &str = "test-token-0123456789";

pub fn start_server(artifacts: &Path) -> SocketAddr {
    let mut config = mnist_serve::ServeConfig::new(artifacts, "127.0.0.1:0".parse().unwrap());
    config.token = Some(TEST_TOKEN.into());
    start_with(config).addr
}

/// [`start_server`] with a config of the test's own (its `addr` should be a free loopback port).
pub fn start_with(config: mnist_serve::ServeConfig) -> mnist_serve::Serving {
    let (tx, rx) = mpsc::channel();
    let artifacts = config.artifacts.clone();
    let temp = std::env::temp_dir();
    let scratch_in = artifacts
        .parent()
        .filter(|p| p.starts_with(&temp) && p != &temp)
        .unwrap_or(&temp)
        .to_path_buf();
    std::thread::spawn(move || {
        let result = mnist_serve::serve_until(
            &config,
            default_backend(),
            &scratch_in,
            |serving| {
                tx.send(mnist_serve::Serving {
                    addr: serving.addr,
                    token: serving.token.clone(),
                })
                .unwrap()
            },
            std::future::pending(),
        );
        if let Err(e) = result {
            panic!("server failed: {e}");
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("the server starts within 30 s")
}

/// The `mnist-serve-*` scratch folders directly in `dir`.
pub fn scratch_folders(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("mnist-serve-"))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// A `side`×`side` PNG of test image `pixels` drawn black on white, each pixel a block: a
/// small file (flat blocks compress well) that decodes to `side`² bytes.
pub fn huge_png(pixels: &[u8], side: u32) -> Vec<u8> {
    png(&image::GrayImage::from_fn(side, side, |x, y| {
        let (i, j) = ((y * 28 / side) as usize, (x * 28 / side) as usize);
        image::Luma([255 - pixels[i * 28 + j]])
    }))
}

/// A 280×280 PNG of test image `pixels` (28×28, ink bright on dark) drawn as a user would on
/// the canvas: black ink on white, scaled 10×.
pub fn canvas_png(pixels: &[u8]) -> Vec<u8> {
    png(&image::GrayImage::from_fn(280, 280, |x, y| {
        image::Luma([255 - pixels[(y / 10 * 28 + x / 10) as usize]])
    }))
}

/// `img` encoded as PNG.
pub fn png(img: &image::GrayImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    bytes
}
