//! Interop with the stock Standard Webhooks libraries, both ways: real
//! deliveries from the service, recorded by a harness receiver, are handed
//! byte for byte to the Python `standardwebhooks` and `svix` packages and the
//! npm `standardwebhooks` package (the scripts in `tests/interop/`, which the
//! README quotes), which must accept them and reject a tampered body; and
//! signatures made by the Python library must verify with our SDK.
//!
//! The libraries are installed by `.ci/run` (pip, `npm ci`). In CI (`CI` set)
//! a missing tool or package fails the test; elsewhere it is skipped with a
//! `SKIPPED` line on the terminal saying how to install it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ihf_sdk::webhooks::{self, Secret, Verifier, VerifyError};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::harness::receiver::Received;
use crate::harness::{skip_or_fail, Receiver, TestApp, VECTORS, WAIT};

fn interop_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop"))
}

/// A stock library and the script that drives it.
#[derive(Debug, Clone, Copy)]
struct Library {
    name: &'static str,
    program: &'static str,
    script: &'static str,
    /// A command that succeeds only if the library is installed.
    probe: &'static [&'static str],
    install: &'static str,
}

/// A Python package (installed from `tests/interop/requirements.txt`).
const fn python(
    name: &'static str,
    script: &'static str,
    probe: &'static [&'static str],
) -> Library {
    Library {
        name,
        program: "python3",
        script,
        probe,
        install: "python3 -m pip install -r tests/interop/requirements.txt",
    }
}

const PYTHON_STANDARDWEBHOOKS: Library = python(
    "Python standardwebhooks",
    "verify.py",
    &["python3", "-c", "import standardwebhooks"],
);

const PYTHON_SVIX: Library = python(
    "Python svix",
    "verify_svix.py",
    &["python3", "-c", "import svix.webhooks"],
);

const NPM_STANDARDWEBHOOKS: Library = Library {
    name: "npm standardwebhooks",
    program: "node",
    script: "verify.mjs",
    // Resolved from tests/interop/, where `npm ci` puts node_modules.
    probe: &["node", "-e", "require.resolve('standardwebhooks')"],
    install: "(cd tests/interop && npm ci)",
};

const VERIFIERS: [Library; 3] = [PYTHON_STANDARDWEBHOOKS, PYTHON_SVIX, NPM_STANDARDWEBHOOKS];

/// Whether `lib` can run here. Missing in CI is a failure, not a skip.
async fn available(lib: &Library) -> bool {
    let mut probe = tokio::process::Command::new(lib.probe[0]);
    probe
        .args(&lib.probe[1..])
        .current_dir(interop_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let ok = probe.status().await.is_ok_and(|s| s.success());
    if !ok {
        skip_or_fail("interop", lib.name, lib.install);
    }
    ok
}

/// What a script said about one delivery.
#[derive(Debug)]
struct Verdict {
    code: Option<i32>,
    stdout: String,
    #[allow(dead_code)] // shown (through Debug) when an assertion fails
    stderr: String,
}

impl Verdict {
    fn accepted(&self) -> bool {
        self.code == Some(0) && self.stdout.trim_end().ends_with("verified")
    }

    /// Refused as unverifiable (exit 3), not crashed.
    fn rejected(&self) -> bool {
        self.code == Some(3) && self.stdout.trim_end().ends_with("rejected")
    }
}

/// Runs a script with `stdin` as its input and the environment given.
async fn run(program: &str, script: &str, env: &[(&str, &str)], stdin: &Value) -> Verdict {
    let mut child = tokio::process::Command::new(program)
        .arg(interop_dir().join(script))
        .current_dir(interop_dir())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{program} {script} does not start: {e}"));
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.to_string().as_bytes()).await.unwrap();
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("script finishes within 60 s")
        .unwrap();
    Verdict {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The delivery exactly as received: every header, and the body as text
/// (our bodies are JSON, so UTF-8, and JSON strings carry them losslessly).
fn as_input(got: &Received, body: &[u8]) -> Value {
    let headers: serde_json::Map<String, Value> = got
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(v.to_str().unwrap())))
        .collect();
    json!({ "headers": headers, "body": std::str::from_utf8(body).expect("UTF-8 body") })
}

/// The body with one byte changed, still valid JSON.
fn tampered(body: &[u8]) -> Vec<u8> {
    let mut changed = body.to_vec();
    let at = changed
        .windows(7)
        .position(|w| w == b"created")
        .expect("the type names an insert");
    changed[at] = b'C';
    changed
}

async fn verify_with(lib: &Library, secret: &str, got: &Received) {
    let env = [("WEBHOOK_SECRET", secret)];
    let genuine = run(lib.program, lib.script, &env, &as_input(got, &got.body)).await;
    assert!(
        genuine.accepted(),
        "{} refused a genuine delivery: {genuine:?}",
        lib.name
    );
    let forged = run(
        lib.program,
        lib.script,
        &env,
        &as_input(got, &tampered(&got.body)),
    )
    .await;
    assert!(
        forged.rejected(),
        "{} did not reject a tampered body: {forged:?}",
        lib.name
    );
}

/// A real delivery of `table`'s insert to a fresh subscription, with the
/// subscription's id and secret.
async fn one_delivery(
    app: &TestApp,
    receiver: &Receiver,
    event_type: &str,
    table: &str,
) -> (uuid::Uuid, String, Received) {
    let (id, secret) = app.subscribe(event_type, &receiver.url()).await;
    app.insert(table).await;
    let got = receiver.wait_for(1, WAIT).await.remove(0);
    (id, secret, got)
}

async fn a_real_delivery_verifies_with(lib: Library) {
    if !available(&lib).await {
        return;
    }
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (_, secret, got) = one_delivery(&app, &receiver, "annotation.created", "annotations").await;
    verify_with(&lib, &secret, &got).await;
}

#[tokio::test]
async fn our_deliveries_verify_with_python_standardwebhooks() {
    a_real_delivery_verifies_with(PYTHON_STANDARDWEBHOOKS).await;
}

#[tokio::test]
async fn our_deliveries_verify_with_python_svix() {
    a_real_delivery_verifies_with(PYTHON_SVIX).await;
}

#[tokio::test]
async fn our_deliveries_verify_with_npm_standardwebhooks() {
    a_real_delivery_verifies_with(NPM_STANDARDWEBHOOKS).await;
}

#[tokio::test]
async fn deliveries_during_a_rotation_verify_with_every_library_under_either_secret() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (id, old, _) = one_delivery(
        &app,
        &receiver,
        "requirement_candidate.created",
        "requirement_candidates",
    )
    .await;
    let rotated: Value = app
        .post_json(&format!("/api/v2/webhooks/{id}/secret/rotate"))
        .await;
    let new = rotated["secret"].as_str().unwrap().to_string();
    app.insert("requirement_candidates").await;
    let got = receiver.wait_for(2, WAIT).await.remove(1);
    assert_eq!(
        got.header("webhook-signature").split(' ').count(),
        2,
        "one signature per active secret"
    );
    for lib in VERIFIERS {
        if available(&lib).await {
            verify_with(&lib, &old, &got).await;
            verify_with(&lib, &new, &got).await;
        }
    }
}

#[tokio::test]
async fn a_consumer_supplied_32_byte_secret_with_padding_verifies_with_every_library() {
    // 32 bytes: base64 ends in "=", the case most likely to trip a decoder.
    let secret = "whsec_MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXY=";
    assert!(Secret::parse(secret).is_ok());
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let created = app.send_json(reqwest::Method::POST, "/api/v2/webhooks", &json!({ "event_type": "interaction_event.created", "target_url": receiver.url(), "secret": secret })).await;
    assert_eq!(created.status(), 201);
    app.insert("interaction_events").await;
    let got = receiver.wait_for(1, WAIT).await.remove(0);
    webhooks::verify(Secret::parse(secret).unwrap(), &got.headers, &got.body).unwrap();
    for lib in VERIFIERS {
        if available(&lib).await {
            verify_with(&lib, secret, &got).await;
        }
    }
}

/// Headers made by the Python library's `sign` (tests/interop/sign.py).
async fn python_signed(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &str,
) -> Vec<(String, String)> {
    let out = run(
        "python3",
        "sign.py",
        &[],
        &json!({ "secret": secret, "msg_id": msg_id, "timestamp": timestamp, "body": body }),
    )
    .await;
    assert_eq!(out.code, Some(0), "sign.py failed: {out:?}");
    let headers: serde_json::Map<String, Value> = serde_json::from_str(&out.stdout).unwrap();
    headers
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn signatures_made_by_the_python_library_verify_with_the_sdk() {
    if !available(&PYTHON_STANDARDWEBHOOKS).await {
        return;
    }
    // The published vectors, signed by Python, checked at their own time.
    for v in &VECTORS {
        let (secret, id, ts, body) = (v.secret, v.id, v.timestamp, v.body);
        let headers = python_signed(secret, id, ts, body).await;
        let sig = headers
            .iter()
            .find(|(k, _)| k == "webhook-signature")
            .unwrap();
        assert_eq!(sig.1, v.signature, "Python signs the published vector");
        let at = UNIX_EPOCH + Duration::from_secs(ts as u64);
        Verifier::new(Secret::parse(secret).unwrap())
            .verify_at(&headers, body.as_bytes(), at)
            .unwrap();
    }

    // A real subscription's generated secret and a real body, signed now.
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (_, secret, got) =
        one_delivery(&app, &receiver, "outcome_signal.created", "outcome_signals").await;
    let body = std::str::from_utf8(&got.body).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let headers = python_signed(&secret, &got.event_id(), now, body).await;
    let secret = Secret::parse(&secret).unwrap();
    webhooks::verify(&secret, &headers, body.as_bytes()).unwrap();
    assert!(matches!(
        webhooks::verify(&secret, &headers, &tampered(body.as_bytes())),
        Err(VerifyError::NoMatchingSignature)
    ));
    // Signed ten minutes ago: outside the ±5 min window.
    let stale = python_signed(secret.expose(), &got.event_id(), now - 600, body).await;
    assert!(matches!(
        webhooks::verify(&secret, &stale, body.as_bytes()),
        Err(VerifyError::TimestampTooOld { .. })
    ));
}

/// Stock OAuth clients (tests/interop/oauth_token.py with authlib, oauth_token.mjs with
/// fetch) get a token and call the API with it.
#[tokio::test]
async fn stock_oauth_clients_get_a_token_and_call_the_api() {
    let authlib = Library {
        name: "Python authlib",
        program: "python3",
        script: "oauth_token.py",
        probe: &["python3", "-c", "import authlib, requests"],
        install: "python3 -m pip install -r tests/interop/requirements.txt",
    };
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.subscribe("annotation.created", &receiver.url()).await;
    let base = app.url("");
    let consumer = app.consumer_id.to_string();
    let env = [
        ("IHF_URL", base.as_str()),
        ("IHF_CLIENT_ID", consumer.as_str()),
        ("IHF_CLIENT_SECRET", app.key.as_str()),
        // Local test server over http; never set this in production.
        ("AUTHLIB_INSECURE_TRANSPORT", "1"),
    ];
    for (program, script, lib) in [
        ("python3", "oauth_token.py", Some(authlib)),
        ("node", "oauth_token.mjs", None),
    ] {
        if let Some(lib) = lib {
            if !available(&lib).await {
                continue;
            }
        }
        let out = run(program, script, &env, &Value::Null).await;
        assert_eq!(out.code, Some(0), "{script}: {out:?}");
        let result: Value = serde_json::from_str(out.stdout.trim()).unwrap();
        assert_eq!(result["scope"], "webhooks:read deliveries:read", "{script}");
        assert_eq!(result["subscriptions"], 1, "{script}");
    }
}

/// The README's Rust, Python and JavaScript snippets are the marked parts of
/// files that tests run, verbatim: what is tested is what consumers read.
#[test]
fn the_readme_quotes_the_tested_snippets_verbatim() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for (file, marker) in [
        ("tests/interop/verify.py", "#"),
        ("tests/interop/verify_svix.py", "#"),
        ("tests/interop/verify.mjs", "//"),
        ("tests/interop/oauth_token.py", "#"),
        ("tests/interop/oauth_token.mjs", "//"),
        ("sdk/tests/readme.rs", "//"),
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let mut rest = text.as_str();
        let mut found = 0;
        while let Some(start) = rest.find(&format!("{marker} --- snippet: ")) {
            let body = &rest[start + rest[start..].find('\n').unwrap() + 1..];
            let end = body
                .find(&format!("{marker} --- end snippet ---"))
                .unwrap_or_else(|| panic!("{file}: a snippet has no end marker"));
            let snippet = &body[..end];
            assert!(
                readme.contains(snippet),
                "README.md must quote {file}'s snippet verbatim:\n{snippet}"
            );
            found += 1;
            rest = &body[end..];
        }
        assert!(found > 0, "{file} has no snippet markers");
    }
}
