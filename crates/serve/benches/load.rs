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
use common::child::ChildServer;

struct Options {
    artifacts: PathBuf,
    run: String,
    requests: usize,
    clients: usize,
    huge: Option<usize>,
    compare: Option<String>,
    repeats: usize,
}

fn options() -> Options {
    let mut o = Options {
        // `cargo bench` runs in the crate folder; the runs are in the repository's artifacts/.
        artifacts: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../artifacts")),
        run: "mlp".into(),
        requests: 10_000,
        clients: 8,
        huge: None,
        compare: None,
        repeats: 20,
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
            "--huge" => o.huge = Some(value().parse().expect("--huge N")),
            "--compare" => o.compare = Some(value()),
            "--repeats" => o.repeats = value().parse().expect("--repeats R"),
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

/// `--huge N`: N uploads of a 6,300 × 6,300 image at once to a server process of its own.
fn huge(o: &Options, n: usize, drawing: &[u8], digit: &[u8]) {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = ChildServer::start(&o.artifacts, tmp.path());
    let path = format!("/api/runs/{}/predict", o.run);
    let send = |body: &[u8]| {
        let mut stream = BufReader::new(TcpStream::connect(server.addr).unwrap());
        stream
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        post(&mut stream, &path, body)
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
    let get = |path: &str| {
        let mut stream = BufReader::new(TcpStream::connect(addr).unwrap());
        let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.get_mut().write_all(head.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "{path}: {}",
            answer.lines().next().unwrap_or("")
        );
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
    let o = options();
    let backend = mnist_trainer::backend::default_backend();
    let test = mnist_data::load(None).expect("the repository's data").test;
    // Ten different digits, so the server cannot answer from any cache.
    let drawings: Arc<Vec<Vec<u8>>> =
        Arc::new((0..10).map(|k| canvas_png(test.image(k * 997))).collect());
    if let Some(n) = o.huge {
        return huge(&o, n, &drawings[0], test.image(0));
    }
    let (tx, rx) = mpsc::channel();
    let config = mnist_serve::ServeConfig {
        artifacts: o.artifacts.clone(),
        addr: "127.0.0.1:0".parse().unwrap(),
    };
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
            |a| tx.send(a).unwrap(),
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
    let _ = stop.send(());
    server.join().unwrap();
}
