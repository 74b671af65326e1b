//! A small W3C WebDriver client for the browser test: ChromeDriver driving headless Chromium,
//! over loopback HTTP. Every wait is bounded and names what it awaited when it gives up.

use std::cell::RefCell;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The driver and browser the build found (`build.rs`: `MNIST_CHROMEDRIVER`, `MNIST_CHROMIUM`,
/// by default Debian's `/usr/bin/chromedriver` and `/usr/bin/chromium`).
pub const CHROMEDRIVER: &str = env!("MNIST_CHROMEDRIVER");
pub const CHROMIUM: &str = env!("MNIST_CHROMIUM");
/// The key under which W3C WebDriver returns and accepts an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a page may take to show what a test waits for; the fixture pages need well under
/// a second, so this only bounds a broken page.
pub const PAGE_WAIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);

/// A headless Chromium session; the session, the browser and the driver end when it is dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    // Chromium's profile lives here, so no run sees another's cookies or cache.
    _profile: tempfile::TempDir,
}

/// Polls `f` every 100 ms until it gives a value or `limit` passes; then panics naming `what`
/// and, for the diagnosis, what `explain` says.
pub fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Option<T>,
    explain: impl FnOnce() -> String,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() >= limit {
            panic!(
                "gave up after {:.1} s waiting for {what}{}",
                limit.as_secs_f64(),
                explain()
            );
        }
        std::thread::sleep(POLL);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One WebDriver command: its `value`, or the driver's error as text.
fn request(method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    // Bounded, so a wedged browser fails the test rather than hanging it.
    let req = ureq::request(method, url).timeout(Duration::from_secs(60));
    let response = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let response = match response {
        Ok(r) => r,
        // WebDriver errors come as JSON bodies with 4xx/5xx statuses: keep them for the message.
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(format!("{method} {url}: {e}")),
    };
    let status = response.status();
    let value: Value = response
        .into_json()
        .map_err(|e| format!("{method} {url}: {status}, not JSON: {e}"))?;
    if status >= 400 {
        return Err(format!(
            "{method} {url}: {status} {}: {}",
            value["value"]["error"], value["value"]["message"]
        ));
    }
    Ok(value["value"].clone())
}

impl Browser {
    pub fn available() -> bool {
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists()
    }

    /// Starts ChromeDriver on a free loopback port and a headless Chromium session through it.
    pub fn start() -> Self {
        let port = free_port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let base = format!("http://127.0.0.1:{port}");
        let ready = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(
                "chromedriver to answer GET /status with ready",
                Duration::from_secs(10),
                || {
                    request("GET", &format!("{base}/status"), None)
                        .ok()
                        .filter(|v| v["ready"] == true)
                },
                String::new,
            )
        }));
        if let Err(panic) = ready {
            // No Browser yet to drop: end the driver here so it does not outlive the test.
            let _ = driver.kill();
            let _ = driver.wait();
            std::panic::resume_unwind(panic);
        }
        let profile = tempfile::tempdir().unwrap();
        // Headless, as root (hence no sandbox), with nothing that would reach the network.
        let args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            // Screenshots for the README look cleaner without them; layout does not change.
            "--hide-scrollbars",
            "--window-size=1200,1400",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            // Keeps the page's console, so a failing wait can show its script errors.
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let session = match request("POST", &format!("{base}/session"), Some(capabilities)) {
            Ok(v) => v["sessionId"].as_str().unwrap().to_string(),
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("cannot start a Chromium session: {e}");
            }
        };
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

    /// Navigates to `url`; WebDriver returns once the document has loaded (not its fetches).
    pub fn open(&self, url: &str) {
        request("POST", &self.url("/url"), Some(json!({"url": url})))
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
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

    /// Waits until `script` returns something other than null, undefined or false; that value.
    /// On giving up, the panic shows the script's last error, the page's address and its
    /// console (script errors).
    pub fn wait(&self, what: &str, script: &str) -> Value {
        self.wait_showing(what, script, None)
    }

    /// `wait`, and on giving up the panic also shows what the script `state` returns then.
    pub fn wait_showing(&self, what: &str, script: &str, state: Option<&str>) -> Value {
        // A script can fail while a navigation swaps documents; that is retried like a false.
        let last_error = RefCell::new(None);
        wait_for(
            what,
            PAGE_WAIT,
            || match request(
                "POST",
                &self.url("/execute/sync"),
                Some(json!({"script": script, "args": []})),
            ) {
                Ok(v) => (!v.is_null() && v != false).then_some(v),
                Err(e) => {
                    *last_error.borrow_mut() = Some(e);
                    None
                }
            },
            || {
                let error = last_error
                    .take()
                    .map_or(String::new(), |e| format!("\n last error: {e}"));
                let state = state.map_or(String::new(), |script| {
                    let v = request(
                        "POST",
                        &self.url("/execute/sync"),
                        Some(json!({"script": script, "args": []})),
                    );
                    format!("\n state: {}", v.unwrap_or_else(|e| e.into()))
                });
                format!("{error}{state}{}", self.diagnosis())
            },
        )
    }

    /// Where the page is and what its console said, for a failure message.
    pub fn diagnosis(&self) -> String {
        let at = request("GET", &self.url("/url"), None).unwrap_or_else(|e| e.into());
        let console = self
            .console()
            .into_iter()
            .map(|line| format!("\n  {line}"))
            .collect::<String>();
        format!("\n page: {at}\n console:{console}")
    }

    /// The page's console messages since the last call (ChromeDriver's log extension; empty
    /// where the driver does not offer it).
    pub fn console(&self) -> Vec<String> {
        request(
            "POST",
            &self.url("/se/log"),
            Some(json!({"type": "browser"})),
        )
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|entry| format!("{} {}", entry["level"], entry["message"]))
        .collect()
    }

    /// The element `css` selects, as a W3C element reference (for `draw`'s origin).
    pub fn element(&self, css: &str) -> Value {
        let found = request(
            "POST",
            &self.url("/element"),
            Some(json!({"using": "css selector", "value": css})),
        )
        .unwrap_or_else(|e| panic!("no element {css}: {e}"));
        json!({ (ELEMENT): found[ELEMENT] })
    }

    /// Draws `strokes` on `element` (of CSS size `size`) with a mouse: each stroke is points
    /// relative to the element's top left corner; the button goes down at the first point and
    /// up at the last. All strokes go in one actions command, as a person would draw them.
    pub fn draw(&self, element: &Value, size: (f64, f64), strokes: &[Vec<(f64, f64)>]) {
        let mut actions = Vec::new();
        // W3C offsets with an element origin are from the element's centre.
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
        request("POST", &self.url("/actions"), Some(body))
            .unwrap_or_else(|e| panic!("cannot draw {} strokes: {e}", strokes.len()));
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let b64 = request("GET", &self.url("/screenshot"), None)
            .unwrap_or_else(|e| panic!("no screenshot: {e}"));
        let png = base64_decode(b64.as_str().expect("a screenshot is a base64 string"));
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "the screenshot is not a PNG"
        );
        png
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session closes Chromium; killing only the driver could leave it running.
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
        _ => panic!("not base64: {:?}", c as char),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    // Four digits carry three bytes; a final group of 2 or 3 digits carries 1 or 2.
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
    assert_eq!(base64_decode(""), b"");
    assert_eq!(base64_decode("AAEC\n/f7/"), [0, 1, 2, 253, 254, 255]);
}
