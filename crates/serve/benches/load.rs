//! Load on the predict API: `C` concurrent clients POST a real 280×280 PNG canvas drawing to
//! `/api/runs/<run>/predict` until `N` requests are answered, over keep-alive loopback
//! connections to a server started in this process; prints requests/s and latency percentiles.
//! Bounded: it sends exactly N requests and stops.
//!
//! cargo bench -p mnist-serve --bench load -- [--run mlp] [--requests 10000] [--clients 8]
//!     [--artifacts artifacts]
//!
//! `--huge N`: instead, N uploads at once of a small PNG that decodes to 6,300 × 6,300 pixels,
//! to a server in a process of its own (this binary run again); prints each answer's status,
//! the server's peak resident memory (`VmHWM`) and whether it answers afterwards.
//! `--compare a,b [--repeats R]`: instead, times `/compare?runs=a,b` the first time and R times
//! again (the comparison kept), on an in-process server.
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use clap::Parser;

// The tests' canvas drawing: the same PNG the API tests and the browser test send.
#[path = "../tests/common/mod.rs"]
mod common;
use common::canvas_png;
use common::child::ChildServer;

/// Load on the predict API (see the header of benches/load.rs).
#[derive(Parser)]
struct Options {
    /// The runs served.
    // `cargo bench` runs in the crate folder; the runs are in the repository's artifacts/.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../artifacts"))]
    artifacts: PathBuf,
    /// The run whose model predicts.
    #[arg(long, default_value = "mlp")]
    run: String,
    /// How many predictions, in all.
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// How many clients at once, each over one keep-alive connection.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Instead, N uploads at once of a PNG of 6,300 × 6,300 pixels, to a server process.
    #[arg(long, value_name = "N")]
    huge: Option<usize>,
    /// Instead, times /compare?runs=A,B: the first time and --repeats times again.
    #[arg(long, value_name = "A,B")]
    compare: Option<String>,
    /// With --compare: how many repeated comparisons.
    #[arg(long, value_name = "R", default_value_t = 20)]
    repeats: usize,
    /// What `cargo bench` passes to a bench without the test harness: ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// A client whose requests reuse one keep-alive connection (while they come one at a time),
/// and give up on an answer after `read`.
fn agent(read: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new().timeout_read(read).build()
}

/// One POST of a PNG: status and body (error statuses too); why not where no answer came.
fn post(agent: &ureq::Agent, url: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let response = match agent
        .post(url)
        .set("Content-Type", "image/png")
        .send_bytes(body)
    {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = response.status();
    let mut answer = Vec::new();
    response
        .into_reader()
        .read_to_end(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok((status, answer))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// `--huge N`: N uploads of a 6,300 × 6,300 image at once to a server process of its own.
fn huge(o: &Options, n: usize, drawing: &[u8], digit: &[u8]) {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = ChildServer::start(&o.artifacts, tmp.path());
    let url = format!("http://{}/api/runs/{}/predict", server.addr, o.run);
    let client = agent(Duration::from_secs(120));
    // The uploads at once each take a connection of their own.
    let send = |body: &[u8]| {
        post(&client, &url, body)
            .map(|(status, _)| status)
            .unwrap_or(0)
    };
    assert_eq!(send(drawing), 200, "the warm-up prediction");
    let before = server.memory("VmHWM").unwrap();
    let png = common::huge_png(digit, 6_300);
    let start = Instant::now();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let uploads: Vec<_> = (0..n).map(|_| s.spawn(|| send(&png))).collect();
        uploads.into_iter().map(|u| u.join().unwrap()).collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    let peak = server.memory("VmHWM").expect("the server is running");
    let after = send(drawing);
    println!(
        "huge       {n} uploads at once of a {} KB PNG of 6300×6300 pixels, run {}",
        png.len() / 1000,
        o.run
    );
    println!("answers    {statuses:?} in {seconds:.1} s");
    println!(
        "peak RSS   {} MB (server process VmHWM; {} MB before the uploads)",
        peak / 1_000_000,
        before / 1_000_000
    );
    println!("afterwards a canvas prediction answers {after}");
    server.kill();
}

/// `--compare a,b`: the first comparison and `repeats` repeated ones.
fn compare(addr: SocketAddr, runs: &str, repeats: usize) {
    let client = agent(Duration::from_secs(120));
    let get = |path: &str| {
        let answer = client
            .get(&format!("http://{addr}{path}"))
            .call()
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(answer.status(), 200, "{path}: {}", answer.status_text());
        let mut page = Vec::new();
        answer.into_reader().read_to_end(&mut page).unwrap();
    };
    let path = format!("/compare?runs={runs}");
    let t = Instant::now();
    get(&path);
    let first = t.elapsed();
    let mut again: Vec<Duration> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            get(&path);
            t.elapsed()
        })
        .collect();
    again.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("compare    {runs}");
    println!("first      {:.0} ms", ms(first));
    println!(
        "repeated   median {:.2} ms, max {:.2} ms ({repeats} requests)",
        ms(percentile(&again, 0.5)),
        ms(*again.last().unwrap())
    );
}

fn main() {
    common::child::serve_if_child();
    let o = Options::parse();
    let backend = mnist_trainer::backend::default_backend();
    let test = mnist_data::load(None).expect("the repository's data").test;
    // Ten different digits, so the server cannot answer from any cache.
    let drawings: Arc<Vec<Vec<u8>>> =
        Arc::new((0..10).map(|k| canvas_png(test.image(k * 997))).collect());
    if let Some(n) = o.huge {
        return huge(&o, n, &drawings[0], test.image(0));
    }
    let (tx, rx) = mpsc::channel();
    let config = mnist_serve::ServeConfig::new(o.artifacts.clone(), "127.0.0.1:0".parse().unwrap());
    // Stopped at the end, so that its scratch folder is removed.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let stopped = async {
            let _ = stopped.await;
        };
        mnist_serve::serve_until(
            &config,
            backend,
            &std::env::temp_dir(),
            |serving| tx.send(serving.addr).unwrap(),
            stopped,
        )
        .expect("server");
    });
    let addr: SocketAddr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server starts");
    if let Some(runs) = &o.compare {
        compare(addr, runs, o.repeats);
        let _ = stop.send(());
        server.join().unwrap();
        return;
    }
    let url = format!("http://{addr}/api/runs/{}/predict", o.run);
    // One request first: the model is loaded then, not inside the measurement.
    let (status, body) = post(&agent(Duration::from_secs(120)), &url, &drawings[0]).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..o.clients)
        .map(|_| {
            let (next, drawings, url) = (next.clone(), drawings.clone(), url.clone());
            let total = o.requests;
            std::thread::spawn(move || {
                // Its own client: one keep-alive connection (ureq sets TCP_NODELAY).
                let client = agent(Duration::from_secs(120));
                let (mut latencies, mut errors) = (Vec::new(), 0usize);
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    if k >= total {
                        break;
                    }
                    let t = Instant::now();
                    match post(&client, &url, &drawings[k % drawings.len()]) {
                        Ok((200, body)) if body.starts_with(b"{") => {}
                        _ => errors += 1,
                    }
                    latencies.push(t.elapsed());
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for w in workers {
        let (l, e) = w.join().unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "run        {} ({} requests, {} clients, 280×280 PNG canvas drawings)",
        o.run,
        latencies.len(),
        o.clients
    );
    println!(
        "throughput {:.0} predictions/s",
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency    p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap())
    );
    println!("errors     {errors}");
    let _ = stop.send(());
    server.join().unwrap();
}
