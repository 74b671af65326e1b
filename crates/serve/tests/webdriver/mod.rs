//! The browser test's WebDriver session: ChromeDriver, started here on a free loopback port,
//! driving headless Chromium through `fantoccini` (plain HTTP, no TLS). Every call and every
//! wait is bounded, and a wait names what it awaited when it gives up.
//!
//! fantoccini is async; `Browser` keeps a single-threaded tokio runtime of its own and blocks
//! on it, so the test reads as a sequence of steps.

use std::cell::RefCell;
use std::future::Future;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// The driver and browser the build found (`build.rs`: `MNIST_CHROMEDRIVER`, `MNIST_CHROMIUM`,
/// by default Debian's `/usr/bin/chromedriver` and `/usr/bin/chromium`).
pub const CHROMEDRIVER: &str = env!("MNIST_CHROMEDRIVER");
pub const CHROMIUM: &str = env!("MNIST_CHROMIUM");
/// How long a page may take to show what a test waits for; the fixture pages need well under
/// a second, so this only bounds a broken page.
pub const PAGE_WAIT: Duration = Duration::from_secs(15);
/// The bound on any one WebDriver command, so a wedged browser fails the test rather than
/// hanging it.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);

/// A headless Chromium session; the session, the browser and the driver end when it is dropped.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    // `None` only once `drop` has closed the session.
    client: Option<Client>,
    // Ended after the session, when the fields are dropped.
    _driver: Driver,
    // Chromium's profile lives here, so no run sees another's cookies or cache.
    _profile: tempfile::TempDir,
}

/// The ChromeDriver process: killed and reaped when dropped, so it never outlives the test.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

/// ChromeDriver's log extension (`POST /session/{id}/se/log`), which fantoccini does not
/// offer: the page's console messages since the last call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

impl Browser {
    pub fn available() -> bool {
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists()
    }

    /// Starts ChromeDriver on a free loopback port and a headless Chromium session through it.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let port = free_port();
        // Ended when dropped: by the Browser, or here by a panic before there is one.
        let driver = Driver(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}")),
        );
        let base = format!("http://127.0.0.1:{port}");
        wait_for(
            "chromedriver to answer GET /status with ready",
            Duration::from_secs(10),
            || {
                // Before a session there is no fantoccini client: one plain request.
                ureq::get(&format!("{base}/status"))
                    .timeout(Duration::from_secs(5))
                    .call()
                    .ok()
                    .and_then(|r| r.into_json::<Value>().ok())
                    .filter(|v| v["value"]["ready"] == true)
            },
            String::new,
        );
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
        let Value::Object(capabilities) = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            // Keeps the page's console, so a failing wait can show its script errors.
            "goog:loggingPrefs": {"browser": "ALL"},
        }) else {
            unreachable!("an object")
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        let connect = builder.capabilities(capabilities).connect(&base);
        let client =
            match runtime.block_on(async { tokio::time::timeout(COMMAND_LIMIT, connect).await }) {
                Ok(Ok(client)) => client,
                Ok(Err(e)) => panic!("cannot start a Chromium session: {e}"),
                Err(_) => panic!(
                    "cannot start a Chromium session: no answer in {} s",
                    COMMAND_LIMIT.as_secs()
                ),
            };
        Self {
            runtime,
            client: Some(client),
            _driver: driver,
            _profile: profile,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// Runs one WebDriver command to its end, or to `COMMAND_LIMIT`; its error as text.
    fn call<T>(&self, command: impl Future<Output = Result<T, CmdError>>) -> Result<T, String> {
        // The timer is made inside the runtime, whose clock it needs.
        let bounded = async { tokio::time::timeout(COMMAND_LIMIT, command).await };
        match self.runtime.block_on(bounded) {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer in {} s", COMMAND_LIMIT.as_secs())),
        }
    }

    /// Navigates to `url`; WebDriver returns once the document has loaded (not its fetches).
    pub fn open(&self, url: &str) {
        self.call(self.client().goto(url))
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page; its return value.
    pub fn run(&self, script: &str, args: Value) -> Value {
        let Value::Array(args) = args else {
            panic!("a script's arguments are an array, not {args}")
        };
        self.call(self.client().execute(script, args))
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
        self.wait_within(what, PAGE_WAIT, script, state)
    }

    /// `wait_showing` with a limit of its own (a training run takes longer than a page).
    pub fn wait_within(
        &self,
        what: &str,
        limit: Duration,
        script: &str,
        state: Option<&str>,
    ) -> Value {
        // A script can fail while a navigation swaps documents; that is retried like a false.
        let last_error = RefCell::new(None);
        let execute = |script: &str| self.call(self.client().execute(script, vec![]));
        wait_for(
            what,
            limit,
            || match execute(script) {
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
                    let v = execute(script);
                    format!("\n state: {}", v.unwrap_or_else(|e| e.into()))
                });
                format!("{error}{state}{}", self.diagnosis())
            },
        )
    }

    /// Where the page is and what its console said, for a failure message.
    pub fn diagnosis(&self) -> String {
        let at = self
            .call(self.client().current_url())
            .map_or_else(|e| e, |url| url.to_string());
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
        self.call(self.client().issue_cmd(BrowserLog))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|entry| format!("{} {}", entry["level"], entry["message"]))
            .collect()
    }

    /// The element `css` selects (for `draw`'s origin).
    pub fn element(&self, css: &str) -> Element {
        self.call(self.client().find(Locator::Css(css)))
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Draws `strokes` on `element` (of CSS size `size`) with a mouse: each stroke is points
    /// relative to the element's top left corner; the button goes down at the first point and
    /// up at the last. All strokes go in one actions command, as a person would draw them.
    pub fn draw(&self, element: &Element, size: (f64, f64), strokes: &[Vec<(f64, f64)>]) {
        // W3C offsets with an element origin are from the element's centre, in whole pixels.
        let at = |(x, y): (f64, f64)| Self::at(element, (x - size.0 / 2.0, y - size.1 / 2.0));
        let mut mouse = MouseActions::new("mouse".into());
        for stroke in strokes {
            mouse = mouse.then(at(stroke[0])).then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            });
            for &p in &stroke[1..] {
                mouse = mouse.then(at(p));
            }
            mouse = mouse.then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        }
        self.call(self.client().perform_actions(mouse))
            .unwrap_or_else(|e| panic!("cannot draw {} strokes: {e}", strokes.len()));
    }

    /// Offsets from `element`'s centre (W3C's element origin), in whole CSS pixels.
    fn at(element: &Element, (x, y): (f64, f64)) -> PointerAction {
        PointerAction::MoveToElement {
            element: element.clone(),
            duration: Some(Duration::ZERO),
            x: x.round(),
            y: y.round(),
        }
    }

    /// Moves the mouse to `at`, an offset from `element`'s centre.
    pub fn hover(&self, element: &Element, at: (f64, f64)) {
        let mouse = MouseActions::new("mouse".into()).then(Self::at(element, at));
        self.call(self.client().perform_actions(mouse))
            .unwrap_or_else(|e| panic!("cannot move the mouse: {e}"));
    }

    /// Drags with the left button from `from` to `to`, offsets from `element`'s centre, in a
    /// few steps as a hand would.
    pub fn drag(&self, element: &Element, from: (f64, f64), to: (f64, f64)) {
        let mut mouse = MouseActions::new("mouse".into())
            .then(Self::at(element, from))
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            });
        for k in 1..=4 {
            let t = k as f64 / 4.0;
            let p = (from.0 + t * (to.0 - from.0), from.1 + t * (to.1 - from.1));
            mouse = mouse.then(Self::at(element, p));
        }
        mouse = mouse.then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
        self.call(self.client().perform_actions(mouse))
            .unwrap_or_else(|e| panic!("cannot drag: {e}"));
    }

    /// Two left clicks at `at` (an offset from `element`'s centre) in one gesture: a
    /// double-click.
    pub fn double_click(&self, element: &Element, at: (f64, f64)) {
        let mut mouse = MouseActions::new("mouse".into()).then(Self::at(element, at));
        for _ in 0..2 {
            mouse = mouse
                .then(PointerAction::Down {
                    button: MOUSE_BUTTON_LEFT,
                })
                .then(PointerAction::Up {
                    button: MOUSE_BUTTON_LEFT,
                });
        }
        self.call(self.client().perform_actions(mouse))
            .unwrap_or_else(|e| panic!("cannot double-click: {e}"));
    }

    /// Clicks `element` (WebDriver's element click: scrolled into view, at its centre).
    pub fn click(&self, element: &Element) {
        self.call(element.click())
            .unwrap_or_else(|e| panic!("cannot click: {e}"));
    }

    /// The page's console errors since the last call to `console`, but a missing favicon
    /// (Chromium asks for one; the app has none).
    pub fn console_errors(&self) -> Vec<String> {
        self.console()
            .into_iter()
            .filter(|line| line.contains("SEVERE") && !line.contains("favicon.ico"))
            .collect()
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let png = self
            .call(self.client().screenshot())
            .unwrap_or_else(|e| panic!("no screenshot: {e}"));
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
        if let Some(client) = self.client.take() {
            let _ = self.call(client.close());
        }
    }
}
