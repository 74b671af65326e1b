//! `mnist serve` in a process of its own, to measure its memory and send it signals: the test
//! (or bench) binary runs itself again with `MNIST_SERVE_CHILD` naming the artifacts folder,
//! and [`serve_if_child`], first thing in its `main`, then serves as `mnist serve` does (the
//! same `mnist_serve::serve`, which stops on SIGINT and SIGTERM) and prints the same line.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "MNIST_SERVE_CHILD";

/// In a child started by [`ChildServer::start`]: serves until a signal stops it, then exits.
pub fn serve_if_child() {
    let Some(artifacts) = std::env::var_os(CHILD) else {
        return;
    };
    let config = mnist_serve::ServeConfig::new(artifacts, "127.0.0.1:0".parse().unwrap());
    let backend = mnist_trainer::backend::default_backend();
    let result = mnist_serve::serve(&config, backend, |serving| {
        println!("serving  on http://{}/ (Ctrl-C stops)", serving.addr);
    });
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    }
}

/// A server process over an artifacts folder, on 127.0.0.1 at a free port; killed when dropped
/// if it is still running.
pub struct ChildServer {
    child: Child,
    pub addr: SocketAddr,
}

impl ChildServer {
    /// Starts it with `tmp` as its temporary folder (`TMPDIR`), where its scratch folder goes.
    pub fn start(artifacts: &Path, tmp: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD, artifacts)
            .env("TMPDIR", tmp)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("http://").nth(1) {
                    let _ = tx.send(rest.split('/').next().unwrap_or("").to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server says where it listens within 60 s")
            .parse()
            .unwrap();
        Self { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A field of `/proc/<pid>/status` in bytes (`VmHWM`: peak resident memory, `VmRSS`: now),
    /// or `None` once the process is gone.
    pub fn memory(&self, field: &str) -> Option<u64> {
        status_field(self.pid(), field)
    }

    /// Sends `signal` (`TERM`, `INT`) through `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Its exit status, if it exits within `limit`.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `field` of `/proc/<pid>/status`, in bytes.
pub fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
