//! A small W3C WebDriver client for the browser end-to-end tests.
//!
//! It starts Debian's ChromeDriver on a free loopback port and speaks the
//! W3C protocol to it as JSON over HTTP, so the tests need no browser
//! automation crate and no download at run time. Only the commands the tests
//! use are here; every wait polls with a deadline instead of sleeping for a
//! fixed time.
//!
//! When Chromium or ChromeDriver is missing, [`Driver::start_or_skip`] skips
//! the test with a loud message, except when the `CI` environment variable is
//! set: a missing browser in CI is an error, not a reason to pass.

use std::future::Future;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::FutureExt;
use reqwest::Method;
use serde_json::{Value, json};

/// Debian's Chromium, installed by `scripts/test`.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Debian's ChromeDriver (package `chromium-driver`), installed by `scripts/test`.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a wait lasts before the test fails. Generous, because CI runs
/// the whole workspace's tests on two cores at once.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How often a wait looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The key under which the W3C protocol returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Numbers the temporary Chromium profiles of this test process.
static PROFILE_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// What can go wrong while driving the browser.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ChromeDriver could not be reached or answered with something that is
    /// not JSON.
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),

    /// ChromeDriver refused a command; `error` is the W3C error code.
    #[error("webdriver `{error}`: {message}")]
    Command { error: String, message: String },

    /// ChromeDriver answered in a shape the protocol does not allow.
    #[error("unexpected webdriver reply: {0}")]
    Protocol(String),

    /// A wait ran out of time; the text says what was awaited and what was
    /// last seen.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),

    /// Starting ChromeDriver or creating a browser profile failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Results of WebDriver commands.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Whether the error describes a page that is still changing, so that a
    /// wait should look again instead of failing.
    fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Command { error, .. } if matches!(
                error.as_str(),
                "no such element"
                    | "stale element reference"
                    | "element not interactable"
                    | "element click intercepted"
                    | "invalid element state"
            )
        )
    }
}

/// Whether this run is in continuous integration, where a missing browser
/// must fail the test. `CI=false` and `CI=0` count as unset.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"))
}

/// Polls `check` until it returns `Some`, a non-transient error, or `timeout`
/// passes. `what` names the awaited condition in the timeout error.
pub async fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        // A transient error is remembered so a timeout can say what it saw.
        let last = match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => None,
            Err(error) if error.is_transient() => Some(error.to_string()),
            Err(error) => return Err(error),
        };

        if Instant::now() >= deadline {
            let detail = last
                .map(|seen| format!(" (last: {seen})"))
                .unwrap_or_default();
            return Err(Error::Timeout(timeout, format!("{what}{detail}")));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// A running ChromeDriver and the browser sessions opened through it.
///
/// Cloning shares the same ChromeDriver. When the last clone and the last
/// session are dropped, ChromeDriver and every browser it started are
/// killed and their temporary profiles removed.
#[derive(Clone)]
pub struct Driver {
    inner: Arc<Inner>,
}

/// The shared state behind [`Driver`] and [`Session`].
struct Inner {
    /// The ChromeDriver process. It leads its own process group, so the
    /// browsers it starts can be killed together with it.
    process: Child,

    /// `http://127.0.0.1:PORT`, where ChromeDriver listens.
    base: String,

    http: reqwest::Client,

    /// Ids of the sessions not yet deleted, for failure screenshots and for
    /// a clean shutdown. A `std` mutex: it is never held across an await.
    sessions: Mutex<Vec<String>>,

    /// Temporary Chromium profiles, removed when ChromeDriver is gone.
    profiles: Mutex<Vec<PathBuf>>,
}

impl Driver {
    /// Starts ChromeDriver, or returns `None` after a loud `SKIPPED` message
    /// when Chromium or ChromeDriver is not installed.
    ///
    /// # Panics
    ///
    /// When the browser is missing and [`in_ci`] holds, and when ChromeDriver
    /// is installed but does not start.
    pub async fn start_or_skip(test: &str) -> Option<Driver> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|path| !Path::new(path).exists())
            .collect();

        if !missing.is_empty() {
            let reason = format!(
                "{} not found; `scripts/test` installs Debian's chromium and chromium-driver",
                missing.join(" and ")
            );
            assert!(!in_ci(), "browser test `{test}` cannot run in CI: {reason}");

            // Straight to the stderr handle: the test harness captures
            // `eprintln!` of passing tests, and a skip must not go unseen.
            let rule = "#".repeat(72);
            let _ = writeln!(
                std::io::stderr().lock(),
                "\n{rule}\nSKIPPED: browser test `{test}`: {reason}\n{rule}\n"
            );
            return None;
        }

        match Driver::start().await {
            Ok(driver) => Some(driver),
            Err(error) => panic!("could not start {CHROMEDRIVER}: {error}"),
        }
    }

    /// Starts ChromeDriver on a free loopback port and waits until its
    /// `/status` reports ready.
    pub async fn start() -> Result<Driver> {
        // The port is free now; ChromeDriver takes it a moment later.
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();

        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--log-level=WARNING")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()?;

        // Command timeouts stay above the waits' own, so a slow command
        // shows up as a timeout of the wait that issued it.
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT * 2)
            .no_proxy()
            .build()?;
        let driver = Driver {
            inner: Arc::new(Inner {
                process,
                base: format!("http://127.0.0.1:{port}"),
                http,
                sessions: Mutex::new(Vec::new()),
                profiles: Mutex::new(Vec::new()),
            }),
        };

        driver.wait_ready().await?;
        Ok(driver)
    }

    /// Waits until ChromeDriver's `/status` says it can create sessions.
    async fn wait_ready(&self) -> Result<()> {
        let url = format!("{}/status", self.inner.base);
        wait_until(
            "chromedriver /status to report ready",
            TIMEOUT,
            async || {
                let reply = match self.inner.http.get(&url).send().await {
                    Ok(reply) => reply,
                    Err(_) => return Ok(None),
                };
                let body: Value = reply.json().await?;
                Ok(body["value"]["ready"]
                    .as_bool()
                    .unwrap_or(false)
                    .then_some(()))
            },
        )
        .await
    }

    /// Opens a headless Chromium with a fresh, temporary profile.
    pub async fn new_session(&self) -> Result<Session> {
        self.new_session_at(Viewport::DESKTOP).await
    }

    /// Opens a headless Chromium whose page is `viewport` big; a mobile one is
    /// emulated as a phone would show it (the page's `<meta name="viewport">`
    /// applies, touch is on).
    pub async fn new_session_at(&self, viewport: Viewport) -> Result<Session> {
        // A profile of its own keeps sessions apart: no shared cookies.
        let profile = std::env::temp_dir().join(format!(
            "kaizen-browser-{}-{}",
            std::process::id(),
            PROFILE_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&profile)?;
        self.inner.profiles.lock().unwrap().push(profile.clone());

        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            format!("--window-size={},{}", viewport.width, viewport.height),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut chrome_options = json!({"binary": CHROMIUM, "args": args});
        if viewport.mobile {
            chrome_options["mobileEmulation"] = json!({"deviceMetrics": {
                "width": viewport.width, "height": viewport.height,
                "pixelRatio": 3.0, "mobile": true, "touch": true,
            }});
        }
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 30_000},
                    "goog:chromeOptions": chrome_options,
                    "goog:loggingPrefs": {"browser": "ALL"},
                }
            }
        });

        let value = self
            .inner
            .command(Method::POST, "/session", Some(capabilities))
            .await?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| Error::Protocol(format!("new session without an id: {value}")))?
            .to_owned();

        self.inner.sessions.lock().unwrap().push(id.clone());
        Ok(Session {
            inner: Arc::clone(&self.inner),
            id,
        })
    }

    /// Runs `scenario` and, if it fails or panics, saves a screenshot and
    /// the page source of every open session to `target/browser-failures/`
    /// and prints each page's address and browser console before failing.
    /// Every session is deleted afterwards, whatever the outcome.
    pub async fn run<F, Fut>(&self, test: &str, scenario: F)
    where
        F: FnOnce(Driver) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        // Catching the unwind turns a failed assertion into a value, so the
        // browsers can still be inspected before the test fails.
        let outcome = AssertUnwindSafe(scenario(self.clone()))
            .catch_unwind()
            .await;

        if !matches!(outcome, Ok(Ok(()))) {
            self.capture_failure(test).await;
        }
        self.shutdown().await;

        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("browser test `{test}` failed: {error}"),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Saves what every open session shows, for debugging a failure.
    async fn capture_failure(&self, test: &str) {
        let dir = failure_dir();
        if let Err(error) = std::fs::create_dir_all(&dir) {
            eprintln!("cannot create {}: {error}", dir.display());
            return;
        }

        let ids = self.inner.sessions.lock().unwrap().clone();
        for (index, id) in ids.into_iter().enumerate() {
            let session = Session {
                inner: Arc::clone(&self.inner),
                id,
            };
            let stem = dir.join(format!("{test}-{index}"));
            eprintln!("--- browser session {index} of `{test}` ---");

            // Each artefact is best effort: one failing must not hide the rest.
            match session.current_url().await {
                Ok(url) => eprintln!("url: {url}"),
                Err(error) => eprintln!("url: unavailable ({error})"),
            }
            match session.screenshot_png().await {
                Ok(png) => report_write(&stem.with_extension("png"), &png),
                Err(error) => eprintln!("screenshot: unavailable ({error})"),
            }
            match session.source().await {
                Ok(html) => report_write(&stem.with_extension("html"), html.as_bytes()),
                Err(error) => eprintln!("page source: unavailable ({error})"),
            }
            match session.browser_log().await {
                Ok(lines) if lines.is_empty() => eprintln!("browser console: empty"),
                Ok(lines) => eprintln!("browser console:\n  {}", lines.join("\n  ")),
                Err(error) => eprintln!("browser console: unavailable ({error})"),
            }
        }
    }

    /// Deletes every session still open, which closes its browser.
    async fn shutdown(&self) {
        let ids = std::mem::take(&mut *self.inner.sessions.lock().unwrap());
        for id in ids {
            let path = format!("/session/{id}");
            if let Err(error) = self.inner.command(Method::DELETE, &path, None).await {
                eprintln!("could not delete browser session {id}: {error}");
            }
        }
    }
}

/// The size of a browser window's page, in CSS pixels.
#[derive(Clone, Copy, Debug)]
pub struct Viewport {
    /// Width in CSS pixels.
    pub width: u32,
    /// Height in CSS pixels.
    pub height: u32,
    /// Whether a phone is emulated: the page's viewport meta tag applies and
    /// the screen takes touch.
    pub mobile: bool,
}

impl Viewport {
    /// The window the other browser tests use.
    pub const DESKTOP: Viewport = Viewport {
        width: 1280,
        height: 1024,
        mobile: false,
    };
}

/// Keys as the WebDriver protocol names them, for [`Session::press`].
pub mod key {
    /// The Tab key.
    pub const TAB: &str = "\u{E004}";
    /// The Return key (Enter on the main keyboard).
    pub const ENTER: &str = "\u{E007}";
    /// The Escape key.
    pub const ESCAPE: &str = "\u{E00C}";
    /// The left Shift key.
    pub const SHIFT: &str = "\u{E008}";
    /// The left Control key.
    pub const CONTROL: &str = "\u{E009}";
    /// The space bar.
    pub const SPACE: &str = " ";
}

/// Where failure screenshots go: `target/browser-failures/`, next to the
/// directory Cargo gives integration tests for temporary files.
fn failure_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("browser-failures")
}

/// Writes a failure artefact and says where it went.
fn report_write(path: &Path, bytes: &[u8]) {
    match std::fs::write(path, bytes) {
        Ok(()) => eprintln!("saved {}", path.display()),
        Err(error) => eprintln!("cannot write {}: {error}", path.display()),
    }
}

impl Inner {
    /// Sends one WebDriver command and returns the reply's `value`.
    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));

        // ChromeDriver insists on a JSON body for every POST, even an empty one.
        if method == Method::POST {
            request = request.json(&body.unwrap_or_else(|| json!({})));
        }

        let reply = request.send().await?;
        let status = reply.status();
        let mut body: Value = reply.json().await?;
        let value = body["value"].take();

        if let Some(error) = value["error"].as_str() {
            return Err(Error::Command {
                error: error.to_owned(),
                message: value["message"].as_str().unwrap_or_default().to_owned(),
            });
        }
        if !status.is_success() {
            return Err(Error::Protocol(format!(
                "HTTP {status} without an error: {value}"
            )));
        }
        Ok(value)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Kill the whole process group: ChromeDriver and any browser it
        // still runs. The group id is ChromeDriver's pid, which cannot be
        // reused before the `wait` below reaps it.
        let group = format!("-{}", self.process.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.process.kill();
        let _ = self.process.wait();

        for profile in self.profiles.lock().unwrap().drain(..) {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

/// One browser window, that is, one WebDriver session.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
    id: String,
}

impl Session {
    /// Sends a command scoped to this session; `path` starts with `/`.
    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let path = format!("/session/{}{path}", self.id);
        self.inner.command(method, &path, body).await
    }

    /// Loads `url` and waits for the page's load event.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.command(Method::POST, "/url", Some(json!({ "url": url })))
            .await
            .map(drop)
    }

    /// Loads the page shown again, as the browser's reload does, and waits for
    /// its load event.
    pub async fn refresh(&self) -> Result<()> {
        self.command(Method::POST, "/refresh", None).await.map(drop)
    }

    /// The address the window shows now.
    pub async fn current_url(&self) -> Result<String> {
        let value = self.command(Method::GET, "/url", None).await?;
        as_string(value)
    }

    /// The first element matching the CSS selector, now.
    pub async fn find(&self, css: &str) -> Result<Element> {
        let body = json!({ "using": "css selector", "value": css });
        let value = self.command(Method::POST, "/element", Some(body)).await?;
        self.element(&value)
    }

    /// Every element matching the CSS selector, now; possibly none.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let body = json!({ "using": "css selector", "value": css });
        let value = self.command(Method::POST, "/elements", Some(body)).await?;
        let items = value
            .as_array()
            .ok_or_else(|| Error::Protocol(format!("element list expected: {value}")))?;
        items.iter().map(|item| self.element(item)).collect()
    }

    /// Turns a W3C element reference into an [`Element`].
    fn element(&self, value: &Value) -> Result<Element> {
        let id = value[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| Error::Protocol(format!("element reference expected: {value}")))?;
        Ok(Element {
            session: self.clone(),
            id: id.to_owned(),
        })
    }

    /// Runs `script` as the body of a function called with `args`, and
    /// returns what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        let body = json!({ "script": script, "args": args });
        self.command(Method::POST, "/execute/sync", Some(body))
            .await
    }

    /// Sets the window's emulated network offline or back online (a ChromeDriver
    /// extension): requests fail at once while it is offline.
    pub async fn set_network_offline(&self, offline: bool) -> Result<()> {
        let conditions = json!({ "network_conditions": {
            "offline": offline, "latency": 0,
            "download_throughput": -1, "upload_throughput": -1,
        }});
        self.command(
            Method::POST,
            "/chromium/network_conditions",
            Some(conditions),
        )
        .await
        .map(drop)
    }

    /// Presses `chord` on the keyboard, as a person would: each key goes down in
    /// order, then all come up in reverse (so `[SHIFT, TAB]` is Shift+Tab). The
    /// keys go to whatever has the focus; no element is picked first.
    pub async fn press(&self, chord: &[&str]) -> Result<()> {
        let mut actions: Vec<Value> = chord
            .iter()
            .map(|key| json!({"type": "keyDown", "value": key}))
            .collect();
        actions.extend(
            chord
                .iter()
                .rev()
                .map(|key| json!({"type": "keyUp", "value": key})),
        );
        self.key_actions(actions).await
    }

    /// Types `text` key by key into whatever has the focus.
    pub async fn type_text(&self, text: &str) -> Result<()> {
        let actions: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                let key = c.to_string();
                [
                    json!({"type": "keyDown", "value": key}),
                    json!({"type": "keyUp", "value": key}),
                ]
            })
            .collect();
        self.key_actions(actions).await
    }

    /// Performs one sequence of keyboard actions and releases every key.
    async fn key_actions(&self, actions: Vec<Value>) -> Result<()> {
        let body = json!({"actions": [
            {"type": "key", "id": "keyboard", "actions": actions}
        ]});
        self.command(Method::POST, "/actions", Some(body)).await?;
        self.command(Method::DELETE, "/actions", None)
            .await
            .map(drop)
    }

    /// A PNG screenshot of the window.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>> {
        let encoded = as_string(self.command(Method::GET, "/screenshot", None).await?)?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|error| Error::Protocol(format!("screenshot is not base64: {error}")))
    }

    /// The page's current HTML.
    pub async fn source(&self) -> Result<String> {
        as_string(self.command(Method::GET, "/source", None).await?)
    }

    /// The browser console's messages since the last call. This is a
    /// ChromeDriver extension, used only to explain failures.
    pub async fn browser_log(&self) -> Result<Vec<String>> {
        let body = json!({ "type": "browser" });
        let value = self.command(Method::POST, "/se/log", Some(body)).await?;
        let entries = value.as_array().cloned().unwrap_or_default();
        Ok(entries
            .iter()
            .map(|entry| format!("{} {}", entry["level"], entry["message"]))
            .collect())
    }

    /// Waits until a user prompt (`alert`, `confirm`) is open, and accepts it:
    /// "OK" on a confirmation.
    pub async fn accept_alert(&self) -> Result<()> {
        wait_until("a dialog to accept", TIMEOUT, async || {
            match self.command(Method::POST, "/alert/accept", None).await {
                Ok(_) => Ok(Some(())),
                // The page has not opened it yet.
                Err(Error::Command { error, .. }) if error == "no such alert" => Ok(None),
                Err(error) => Err(error),
            }
        })
        .await
    }

    /// Closes the browser window and ends the session.
    pub async fn quit(self) -> Result<()> {
        self.inner
            .sessions
            .lock()
            .unwrap()
            .retain(|id| *id != self.id);
        self.inner
            .command(Method::DELETE, &format!("/session/{}", self.id), None)
            .await
            .map(drop)
    }

    /// Waits until an element matching `css` is displayed, and returns it.
    pub async fn wait_for(&self, css: &str) -> Result<Element> {
        let what = format!("`{css}` to be displayed");
        wait_until(&what, TIMEOUT, async || {
            let Some(element) = self.find_all(css).await?.into_iter().next() else {
                return Ok(None);
            };
            Ok(element.displayed().await?.then_some(element))
        })
        .await
    }

    /// Waits until the text of the element matching `css` satisfies
    /// `accept`, and returns that text. `what` describes the expected text.
    pub async fn wait_for_text(
        &self,
        css: &str,
        what: &str,
        accept: impl Fn(&str) -> bool,
    ) -> Result<String> {
        self.wait_for_text_within(css, what, TIMEOUT, accept).await
    }

    /// [`Session::wait_for_text`] with a deadline of its own.
    pub async fn wait_for_text_within(
        &self,
        css: &str,
        what: &str,
        timeout: Duration,
        accept: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let mut seen = None;
        let result = wait_until(&format!("`{css}` to read {what}"), timeout, async || {
            let text = self.find(css).await?.text().await?;
            let done = accept(&text);
            seen = Some(text.clone());
            Ok(done.then_some(text))
        })
        .await;

        // Say what the element did read, which explains most failures.
        result.map_err(|error| match (error, seen) {
            (Error::Timeout(limit, what), Some(text)) => {
                Error::Timeout(limit, format!("{what}; it read {text:?}"))
            }
            (error, _) => error,
        })
    }

    /// Waits until the element matching `css` can be clicked, and clicks it.
    pub async fn click(&self, css: &str) -> Result<()> {
        wait_until(&format!("`{css}` to accept a click"), TIMEOUT, async || {
            self.find(css).await?.click().await.map(Some)
        })
        .await
    }

    /// Waits for the input matching `css`, empties it and types `text`.
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        wait_until(&format!("`{css}` to accept typing"), TIMEOUT, async || {
            let input = self.find(css).await?;
            input.clear().await?;
            input.send_keys(text).await.map(Some)
        })
        .await
    }
}

/// Reads a JSON string out of a reply's value.
fn as_string(value: Value) -> Result<String> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(Error::Protocol(format!("string expected: {other}"))),
    }
}

/// An element of the page a [`Session`] shows.
#[derive(Clone)]
pub struct Element {
    session: Session,
    id: String,
}

impl Element {
    /// Sends a command scoped to this element; `path` starts with `/` or is
    /// empty.
    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let path = format!("/element/{}{path}", self.id);
        self.session.command(method, &path, body).await
    }

    /// Every element inside this one matching the CSS selector, now; possibly
    /// none.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let body = json!({ "using": "css selector", "value": css });
        let value = self.command(Method::POST, "/elements", Some(body)).await?;
        let items = value
            .as_array()
            .ok_or_else(|| Error::Protocol(format!("element list expected: {value}")))?;
        items
            .iter()
            .map(|item| self.session.element(item))
            .collect()
    }

    /// Clicks the element's centre, as a pointer would.
    pub async fn click(&self) -> Result<()> {
        self.command(Method::POST, "/click", None).await.map(drop)
    }

    /// Types `text` into the element, key by key.
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        let body = json!({ "text": text });
        self.command(Method::POST, "/value", Some(body))
            .await
            .map(drop)
    }

    /// Empties an input or text area.
    pub async fn clear(&self) -> Result<()> {
        self.command(Method::POST, "/clear", None).await.map(drop)
    }

    /// The element's rendered text.
    pub async fn text(&self) -> Result<String> {
        as_string(self.command(Method::GET, "/text", None).await?)
    }

    /// The value of the DOM property `name` (e.g. a text area's `value`).
    pub async fn property(&self, name: &str) -> Result<Value> {
        self.command(Method::GET, &format!("/property/{name}"), None)
            .await
    }

    /// The value of the attribute `name`, or `None` when it is absent.
    pub async fn attribute(&self, name: &str) -> Result<Option<String>> {
        let value = self
            .command(Method::GET, &format!("/attribute/{name}"), None)
            .await?;
        match value {
            Value::Null => Ok(None),
            other => as_string(other).map(Some),
        }
    }

    /// Whether the element is rendered visibly.
    pub async fn displayed(&self) -> Result<bool> {
        let value = self.command(Method::GET, "/displayed", None).await?;
        value
            .as_bool()
            .ok_or_else(|| Error::Protocol(format!("boolean expected: {value}")))
    }
}
