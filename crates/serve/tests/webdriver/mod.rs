//! A small W3C WebDriver client for the browser test: ChromeDriver driving headless Chromium,
//! over loopback HTTP. Every wait is bounded.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session; the browser and the driver end when it is dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

/// Polls `f` every 100 ms until it gives a value or `seconds` pass; panics naming `what`.
pub fn wait_for<T>(what: &str, seconds: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(seconds),
            "gave up after {seconds} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn request(method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    let req = ureq::request(method, url).timeout(Duration::from_secs(60));
    let response = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let response = match response {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = response.status();
    let value: Value = response.into_json().map_err(|e| e.to_string())?;
    if status >= 400 {
        return Err(format!("{method} {url}: {status} {}", value["value"]));
    }
    Ok(value["value"].clone())
}

impl Browser {
    pub fn available() -> bool {
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists()
    }

    pub fn start() -> Self {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        wait_for("chromedriver to answer", 15, || {
            request("GET", &format!("{base}/status"), None)
                .ok()
                .filter(|v| v["ready"] == true)
        });
        let profile = tempfile::tempdir().unwrap();
        // Headless, as root (hence no sandbox), with nothing that would reach the network.
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1150,1300",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let session = request("POST", &format!("{base}/session"), Some(capabilities))
            .unwrap_or_else(|e| panic!("cannot start a Chromium session: {e}"));
        let session = session["sessionId"].as_str().unwrap().to_string();
        Self {
            driver,
            base,
            session,
            _profile: profile,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    pub fn open(&self, url: &str) {
        request("POST", &self.url("/url"), Some(json!({"url": url}))).unwrap();
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page; its return value.
    pub fn run(&self, script: &str, args: Value) -> Value {
        request(
            "POST",
            &self.url("/execute/sync"),
            Some(json!({"script": script, "args": args})),
        )
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns something other than null or false.
    pub fn wait(&self, what: &str, script: &str) -> Value {
        wait_for(what, 20, || {
            let v = self.run(script, json!([]));
            (!v.is_null() && v != false).then_some(v)
        })
    }

    pub fn element(&self, css: &str) -> Value {
        let found = request(
            "POST",
            &self.url("/element"),
            Some(json!({"using": "css selector", "value": css})),
        )
        .unwrap_or_else(|e| panic!("no element {css}: {e}"));
        json!({ (ELEMENT): found[ELEMENT] })
    }

    /// Draws `strokes` on `element` with a mouse: each stroke is points relative to the
    /// element's top left corner; the pointer goes down at the first and up at the last.
    pub fn draw(&self, element: &Value, size: (f64, f64), strokes: &[Vec<(f64, f64)>]) {
        let mut actions = Vec::new();
        // W3C offsets are from the element's centre.
        let at = |(x, y): (f64, f64)| {
            json!({"type": "pointerMove", "duration": 0, "origin": element,
                   "x": (x - size.0 / 2.0).round() as i64, "y": (y - size.1 / 2.0).round() as i64})
        };
        for stroke in strokes {
            actions.push(at(stroke[0]));
            actions.push(json!({"type": "pointerDown", "button": 0}));
            for &p in &stroke[1..] {
                actions.push(at(p));
            }
            actions.push(json!({"type": "pointerUp", "button": 0}));
        }
        let body = json!({"actions": [{"type": "pointer", "id": "mouse",
            "parameters": {"pointerType": "mouse"}, "actions": actions}]});
        request("POST", &self.url("/actions"), Some(body)).unwrap();
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let b64 = request("GET", &self.url("/screenshot"), None).unwrap();
        base64_decode(b64.as_str().unwrap())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(
            "DELETE",
            &format!("{}/session/{}", self.base, self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (the screenshot's encoding), padding and line breaks allowed.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | (d as u32) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes() {
    assert_eq!(base64_decode("TWFu"), b"Man");
    assert_eq!(base64_decode("TWE="), b"Ma");
    assert_eq!(base64_decode("TQ=="), b"M");
}
