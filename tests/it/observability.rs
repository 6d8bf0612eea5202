//! Metrics after real deliveries, and logs that never carry secrets.

use std::process::{Command, Stdio};

use serde_json::json;

use crate::harness::{eventually, json_response, Receiver, Reply, TestApp, WAIT};

/// The value of one sample line (`name{labels} value`), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_move_with_real_deliveries_and_pass_promtool() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(500)]);
    app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;
    app.insert("annotations").await;
    receiver.wait_for(3, WAIT).await;

    let text = eventually(WAIT, "delivered counter at 2", || async {
        let text = app
            .http
            .get(app.url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let delivered = sample(
            &text,
            r#"ihf_delivery_attempts_total{event_type="annotation.created",outcome="delivered"}"#,
        );
        (delivered == Some(2.0)).then_some(text)
    })
    .await;
    let failed = sample(
        &text,
        r#"ihf_delivery_attempts_total{event_type="annotation.created",outcome="failed_attempt"}"#,
    );
    assert_eq!(failed, Some(1.0));
    assert_eq!(sample(&text, "ihf_retries_scheduled_total"), Some(1.0));
    assert_eq!(sample(&text, "ihf_delivery_lag_seconds_count"), Some(2.0));
    assert_eq!(
        sample(
            &text,
            r#"ihf_delivery_attempt_duration_seconds_count{event_type="annotation.created"}"#
        ),
        Some(3.0)
    );
    assert_eq!(sample(&text, "ihf_listener_connected"), Some(1.0));
    assert!(
        sample(
            &text,
            r#"ihf_http_requests_total{method="POST",route="/api/v2/webhooks",status_class="2xx"}"#
        ) >= Some(1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"ihf_db_pool_connections{pool="worker",state="size"}"#
        ) >= Some(1.0)
    );
    assert_eq!(sample(&text, "ihf_jobs_due"), Some(0.0));
    assert!(
        sample(&text, r#"ihf_build_info{version=""#).is_none(),
        "sample() needs the full series"
    );
    assert!(text.contains(&format!(
        r#"ihf_build_info{{version="{}"}} 1"#,
        env!("CARGO_PKG_VERSION")
    )));
    // Bounded labels: no ids, no URLs.
    assert!(!text.contains(&receiver.url()));
    let uuid = regex_lite_uuid(&text);
    assert!(uuid.is_none(), "a UUID in the metrics: {uuid:?}");

    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    match promtool {
        Ok(mut child) => {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(_) => crate::harness::skip_or_fail(
            "the promtool check of /metrics",
            "promtool",
            "apt-get install prometheus",
        ),
    }
}

/// Finds something shaped like a UUID (8-4-4-4-12 hex).
fn regex_lite_uuid(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .find(|w| w.len() == 36 && w.split('-').map(str::len).eq([8, 4, 4, 4, 12]))
        .map(str::to_string)
}

#[tokio::test]
async fn logs_never_contain_keys_secrets_signatures_or_authorization_headers() {
    // The real binary, as chatty as it gets.
    let app = TestApp::spawn_with(|_| {}, crate::harness::API_ONLY).await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let log_path = std::env::temp_dir().join(format!("ihf-secrets-{}.log", uuid::Uuid::new_v4()));
    let mut env = crate::harness::test_env(&app.db.url());
    env.insert("IHF_LISTEN", format!("127.0.0.1:{port}"));
    env.insert("RUST_LOG", "trace".into());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
        .arg("serve")
        .envs(env)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    eventually(WAIT, "replica ready", || async {
        let r = reqwest::get(format!("{base}/readyz")).await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;

    let receiver = Receiver::start().await;
    receiver.script([Reply::status(500)]);
    // The API of the replica under test, not the in-process one of `app`.
    let post = |path: String| app.http.post(format!("{base}{path}")).bearer_auth(&app.key);
    let created = json_response(
        post("/api/v2/webhooks".into())
            .json(&json!({ "event_type": "annotation.created", "target_url": receiver.url() })),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let first_secret = created["secret"].as_str().unwrap().to_string();
    let rotated = json_response(post(format!("/api/v2/webhooks/{id}/secret/rotate"))).await;
    let second_secret = rotated["secret"].as_str().unwrap().to_string();
    post(format!("/api/v2/webhooks/{id}/test"))
        .send()
        .await
        .unwrap();
    app.insert("annotations").await;
    // The test event (answered 500) and the captured row.
    let got = receiver.wait_for(2, WAIT).await;
    let _ = app
        .http
        .get(format!("{base}/api/v2/webhooks"))
        .bearer_auth("ihf_wrong")
        .send()
        .await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();

    let log = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(
        log.contains("attempt finished") && log.contains("fanned out"),
        "debug logging was on: {log}"
    );
    let mut forbidden = vec![
        app.key.clone(),
        ihf_webhooks::access::keys::hash_key(&app.key),
        first_secret.clone(),
        first_secret["whsec_".len()..].to_string(),
        second_secret.clone(),
        second_secret["whsec_".len()..].to_string(),
        "ihf_wrong".to_string(),
    ];
    for r in &got {
        for item in r.header("webhook-signature").split(' ') {
            forbidden.push(item.trim_start_matches("v1,").to_string());
        }
    }
    for secret in &forbidden {
        assert!(
            !log.contains(secret.as_str()),
            "the log contains a secret ({}…)",
            &secret[..6]
        );
    }
    assert!(
        !log.to_ascii_lowercase().contains("authorization: bearer"),
        "an Authorization header was logged"
    );
}
