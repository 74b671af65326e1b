//! What the server's tests share: fixture runs and a real server on an ephemeral loopback port.
#![allow(dead_code)] // each test file uses a part

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use mnist_trainer::backend::default_backend;
use mnist_trainer::observer::quiet;
use mnist_trainer::rundir::RunDir;
use mnist_trainer::testing::TestConfig;
use mnist_trainer::train::{self, TrainRequest};

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
/// that lives as long as the test process; returns its address.
pub fn start_server(artifacts: &Path) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    let config = mnist_serve::ServeConfig {
        artifacts: artifacts.to_path_buf(),
        addr: "127.0.0.1:0".parse().unwrap(),
    };
    std::thread::spawn(move || {
        let result = mnist_serve::serve(&config, default_backend(), |addr| {
            tx.send(addr).unwrap();
        });
        if let Err(e) = result {
            panic!("server failed: {e}");
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("the server starts within 30 s")
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
