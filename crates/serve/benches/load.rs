//! Load on the predict API: `C` concurrent clients POST a real 280×280 PNG canvas drawing to
//! `/api/runs/<run>/predict` until `N` requests are answered, over keep-alive loopback
//! connections to a server started in this process; prints requests/s and latency percentiles.
//! Bounded: it sends exactly N requests and stops.
//!
//! cargo bench -p mnist-serve --bench load -- [--run mlp] [--requests 10000] [--clients 8]
//!     [--artifacts artifacts]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

// The tests' canvas drawing: the same PNG the API tests and the browser test send.
#[path = "../tests/common/mod.rs"]
mod common;
use common::canvas_png;

struct Options {
    artifacts: PathBuf,
    run: String,
    requests: usize,
    clients: usize,
}

fn options() -> Options {
    let mut o = Options {
        // `cargo bench` runs in the crate folder; the runs are in the repository's artifacts/.
        artifacts: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../artifacts")),
        run: "mlp".into(),
        requests: 10_000,
        clients: 8,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--artifacts" => o.artifacts = PathBuf::from(value()),
            "--run" => o.run = value(),
            "--requests" => o.requests = value().parse().expect("--requests N"),
            "--clients" => o.clients = value().parse().expect("--clients N"),
            // `cargo bench` passes --bench; anything else is a mistake worth saying.
            "--bench" => {
                i += 1;
                continue;
            }
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    o
}

/// One keep-alive request: status and body.
fn post(
    stream: &mut BufReader<TcpStream>,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let socket = stream.get_mut();
    socket.write_all(head.as_bytes())?;
    socket.write_all(body)?;
    let mut line = String::new();
    stream.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        stream.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut answer = vec![0; length];
    stream.read_exact(&mut answer)?;
    Ok((status, answer))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    let o = options();
    let backend = mnist_trainer::backend::default_backend();
    let test = mnist_data::load(None).expect("the repository's data").test;
    // Ten different digits, so the server cannot answer from any cache.
    let drawings: Arc<Vec<Vec<u8>>> =
        Arc::new((0..10).map(|k| canvas_png(test.image(k * 997))).collect());
    let (tx, rx) = mpsc::channel();
    let config = mnist_serve::ServeConfig {
        artifacts: o.artifacts.clone(),
        addr: "127.0.0.1:0".parse().unwrap(),
    };
    std::thread::spawn(move || {
        mnist_serve::serve(&config, backend, |a| tx.send(a).unwrap()).expect("server");
    });
    let addr: SocketAddr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server starts");
    let path = format!("/api/runs/{}/predict", o.run);
    // One request first: the model is loaded then, not inside the measurement.
    let mut warm = BufReader::new(TcpStream::connect(addr).unwrap());
    let (status, body) = post(&mut warm, &path, &drawings[0]).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..o.clients)
        .map(|_| {
            let (next, drawings, path) = (next.clone(), drawings.clone(), path.clone());
            let total = o.requests;
            std::thread::spawn(move || {
                let mut stream = BufReader::new(TcpStream::connect(addr).unwrap());
                stream.get_ref().set_nodelay(true).unwrap();
                let (mut latencies, mut errors) = (Vec::new(), 0usize);
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    if k >= total {
                        break;
                    }
                    let t = Instant::now();
                    match post(&mut stream, &path, &drawings[k % drawings.len()]) {
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
}
