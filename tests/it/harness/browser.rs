//! A real headless Chromium driven over WebDriver (W3C, through Debian's
//! `chromedriver`) with plain HTTP calls, for the console's browser tests.
//!
//! Missing `chromium` or `chromedriver` is a skip on a developer machine and a
//! failure in CI (`CI` set). One browser runs at a time ([`Browser::start`]
//! holds a lock), so tests do not fight over the cores.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, MutexGuard};

use super::{eventually, WAIT};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in a JSON answer.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Desktop and phone viewports for screenshots.
pub const DESKTOP: (u32, u32) = (1280, 1000);
pub const PHONE: (u32, u32) = (390, 1000);

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    profile: PathBuf,
    /// Where screenshots go (`IHF_SCREENSHOTS`, relative to the crate root).
    shots: Option<PathBuf>,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    /// A fresh headless Chromium, or `None` (a skip) when it is not installed
    /// and this is not CI.
    pub async fn start() -> Option<Browser> {
        let installed = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
        if !installed {
            assert!(
                !in_ci(),
                "chromium and chromedriver are not installed; CI must install them: \
                 apt-get install chromium chromium-driver"
            );
            eprintln!(
                "SKIPPED: chromium/chromedriver not installed \
                 (apt-get install chromium chromium-driver); CI fails instead"
            );
            return None;
        }
        let turn = ONE_AT_A_TIME.lock().await;
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so the browsers it starts can be
            // stopped with it even when a test panics.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        eventually(WAIT, "chromedriver to be ready", || async {
            let status = http.get(format!("{base}/status")).send().await.ok()?;
            let body: Value = status.json().await.ok()?;
            body["value"]["ready"].as_bool().filter(|r| *r)
        })
        .await;
        let profile = std::env::temp_dir().join(format!("ihf-chromium-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&profile).unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--force-device-scale-factor=1",
            "--hide-scrollbars",
            &format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
            &format!("--user-data-dir={}", profile.display()),
        ];
        let response: Value = http
            .post(format!("{base}/session"))
            .json(&json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                "goog:loggingPrefs": { "browser": "ALL" },
            }}}))
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .unwrap();
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {response}"))
            .to_string();
        let shots = std::env::var_os("IHF_SCREENSHOTS")
            .map(|dir| Path::new(env!("CARGO_MANIFEST_DIR")).join(dir));
        Some(Browser {
            http: http.clone(),
            session: format!("{base}/session/{session}"),
            driver,
            profile,
            shots,
            _turn: turn,
        })
    }

    /// One WebDriver command; its `value`, or a panic naming the error.
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_command(method.clone(), path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    async fn try_command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("chromedriver answers");
        let ok = response.status().is_success();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if ok {
            Ok(body["value"].clone())
        } else {
            Err(body["value"].clone())
        }
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Waits until `expression` (JavaScript) is truthy; returns its value. On
    /// a timeout the panic shows the page's text and console.
    pub async fn wait_for(&self, what: &str, expression: &str) -> Value {
        let script = format!("try {{ return ({expression}); }} catch (e) {{ return null; }}");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let value = self.js(&script, json!([])).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            if tokio::time::Instant::now() > deadline {
                let page = self.js("return document.body.innerText;", json!([])).await;
                let console = self.console().await;
                panic!(
                    "timed out after {WAIT:?} waiting for: {what}\n--- page:\n{}\n--- console: {console:#?}",
                    page.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the text of the first match of `css` contains `needle`.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let expression = format!(
            "(() => {{ const e = document.querySelector({css}); \
               return e && e.offsetParent !== null && e.innerText.includes({needle}) ? e.innerText : null; }})()",
            css = json!(css),
            needle = json!(needle)
        );
        self.wait_for(&format!("{css} to show {needle:?}"), &expression)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Whether an element matching `css` is displayed now (no waiting).
    pub async fn shows(&self, css: &str) -> bool {
        self.js(
            "const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null;",
            json!([css]),
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// The element matching `css`, once there is one.
    async fn find(&self, css: &str) -> String {
        eventually(WAIT, &format!("an element matching {css}"), || async {
            let found = self
                .try_command(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({ "using": "css selector", "value": css })),
                )
                .await
                .ok()?;
            found[ELEMENT].as_str().map(str::to_string)
        })
        .await
    }

    /// Clicks the element matching `css` as a user would (scrolls to it,
    /// fails if something covers it); retries while the page re-renders.
    pub async fn click(&self, css: &str) {
        eventually(WAIT, &format!("a click on {css}"), || async {
            let id = self.find(css).await;
            self.try_command(
                reqwest::Method::POST,
                &format!("/element/{id}/click"),
                Some(json!({})),
            )
            .await
            .ok()
        })
        .await;
    }

    /// Types `text` into the element matching `css` (after clearing it).
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Presses keys in the focused element (`\u{E007}` is Enter).
    pub async fn press(&self, css: &str, keys: &str) {
        let id = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": keys })),
        )
        .await;
    }

    /// The browser console's entries since the last call.
    pub async fn console(&self) -> Vec<Value> {
        let log = self
            .command(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await;
        log.as_array().cloned().unwrap_or_default()
    }

    /// Fails on any console error or warning since the last call, except those
    /// matching `expected` (e.g. the 401 of a refused key).
    pub async fn assert_quiet_console(&self, expected: &[&str]) {
        let noisy: Vec<Value> = self
            .console()
            .await
            .into_iter()
            .filter(|e| e["level"] != "INFO" && e["level"] != "DEBUG")
            .filter(|e| {
                let text = e["message"].as_str().unwrap_or_default();
                !expected.iter().any(|x| text.contains(x))
            })
            .collect();
        assert!(noisy.is_empty(), "browser console: {noisy:#?}");
    }

    /// Installs a `securitypolicyviolation` listener in the current document.
    pub async fn watch_csp(&self) {
        self.js(
            "window.__violations = []; \
             document.addEventListener('securitypolicyviolation', e => \
               window.__violations.push(e.violatedDirective + ' ' + e.blockedURI)); \
             performance.setResourceTimingBufferSize(100000);",
            json!([]),
        )
        .await;
    }

    /// Fails on a CSP violation the listener saw, or on any resource the page
    /// requested from another origin than `origin`.
    pub async fn assert_same_origin_and_no_violations(&self, origin: &str) {
        let seen = self
            .js(
                "return { violations: window.__violations || ['listener missing'], \
                   urls: performance.getEntries().map(e => e.name).filter(n => /^[a-z]+:/.test(n)) };",
                json!([]),
            )
            .await;
        assert_eq!(seen["violations"], json!([]), "CSP violations");
        let urls = seen["urls"].as_array().unwrap();
        assert!(!urls.is_empty(), "the page made no requests at all?");
        for url in urls {
            let url = url.as_str().unwrap();
            assert!(
                url.starts_with(origin),
                "a request left the origin {origin}: {url}"
            );
        }
    }

    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// With `IHF_SCREENSHOTS` set: `<name>-desktop.png` and `<name>-phone.png`.
    pub async fn screenshots(&self, name: &str) {
        let Some(dir) = &self.shots else {
            return;
        };
        std::fs::create_dir_all(dir).unwrap();
        for (size, label) in [(DESKTOP, "desktop"), (PHONE, "phone")] {
            self.resize(size).await;
            // Let layout settle after the resize.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let png = self
                .command(reqwest::Method::GET, "/screenshot", None)
                .await;
            let png = base64::engine::general_purpose::STANDARD
                .decode(png.as_str().unwrap())
                .unwrap();
            std::fs::write(dir.join(format!("{name}-{label}.png")), png).unwrap();
        }
        self.resize(DESKTOP).await;
    }

    pub async fn quit(mut self) {
        let _ = self.try_command(reqwest::Method::DELETE, "", None).await;
        let _ = self.driver.kill().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            // The whole group: chromedriver and the Chromium it started.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
        let _ = self.driver.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
