//! Receiver faults (as Standard Webhooks and the README's guarantees table
//! describe them): what is retried, how, and what
//! the attempt log says.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{eventually, Receiver, Reply, TestApp, BOTH, WAIT};

/// The log rows of a subscription once it has `n` of them.
async fn log_of(
    app: &TestApp,
    sub: uuid::Uuid,
    n: usize,
) -> Vec<(String, Option<i32>, Option<String>)> {
    eventually(WAIT, &format!("{n} log rows"), || async {
        let log = app.log(sub).await;
        (log.len() >= n).then_some(log)
    })
    .await
}

#[tokio::test]
async fn redirects_and_client_errors_are_failed_attempts_and_retried() {
    let app = TestApp::spawn().await;
    let elsewhere = Receiver::start().await;
    let receiver = Receiver::start().await;
    receiver.script([
        Reply {
            headers: vec![("location", elsewhere.url())],
            ..Reply::status(302)
        },
        Reply::status(400),
    ]);
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;
    // Attempted at once: no 'pending' row, one row per attempt.
    let log = log_of(&app, sub, 3).await;
    assert_eq!(log[0].1, Some(302));
    assert!(log[0]
        .2
        .as_deref()
        .unwrap()
        .contains("redirects are not followed"));
    assert_eq!(log[1].1, Some(400));
    assert!(log[1]
        .2
        .as_deref()
        .unwrap()
        .starts_with("HTTP 400 Bad Request; retry 2 of 2"));
    assert_eq!(log[2].0, "delivered");
    assert!(
        elsewhere.received().is_empty(),
        "the redirect was not followed"
    );
}

#[tokio::test]
async fn timeouts_refused_connections_and_tls_failures_are_described_and_retried() {
    let app = TestApp::spawn_setting(&[("IHF_DELIVERY_TIMEOUT", "300ms")], BOTH).await;
    // Hangs past the timeout, then answers.
    let slow = Receiver::start().await;
    slow.script([Reply::ok_after(Duration::from_secs(5))]);
    // Nothing listens here.
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // Speaks plain HTTP where TLS is expected.
    let plain = Receiver::start().await;

    let (slow_sub, _) = app.subscribe("annotation.created", &slow.url()).await;
    let (closed_sub, _) = app
        .subscribe(
            "annotation.created",
            &format!("http://127.0.0.1:{closed_port}/hook"),
        )
        .await;
    let (tls_sub, _) = app
        .subscribe(
            "annotation.created",
            &format!("https://{}/hook", plain.addr),
        )
        .await;
    app.insert("annotations").await;

    let log = log_of(&app, slow_sub, 2).await;
    let msg = log[0].2.as_deref().unwrap();
    assert!(
        msg.starts_with("timed out after 300ms; retry 1 of 2"),
        "{msg}"
    );
    assert_eq!(log[0].1, None);
    assert_eq!(log[1].0, "delivered", "retried after the timeout");

    let log = log_of(&app, closed_sub, 3).await;
    assert!(
        log[0]
            .2
            .as_deref()
            .unwrap()
            .starts_with("connection refused; retry 1 of 2"),
        "{log:?}"
    );
    assert!(
        log[2]
            .2
            .as_deref()
            .unwrap()
            .starts_with("connection refused; no retries left"),
        "{log:?}"
    );

    let log = log_of(&app, tls_sub, 1).await;
    let msg = log[0].2.as_deref().unwrap();
    assert!(
        msg.starts_with("TLS handshake failed") || msg.starts_with("connection failed"),
        "{msg}"
    );
    assert!(msg.contains("retry 1 of 2"), "{msg}");
}

#[tokio::test]
async fn retry_after_is_honoured_on_429_and_503_up_to_the_cap() {
    let app = TestApp::spawn_setting(&[("IHF_RETRY_AFTER_MAX", "2s")], BOTH).await;
    let receiver = Receiver::start().await;
    receiver.script([
        Reply {
            headers: vec![("retry-after", "1".into())],
            ..Reply::status(429)
        },
        Reply {
            headers: vec![("retry-after", "3600".into())],
            ..Reply::status(503)
        },
    ]);
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;
    let got = receiver.wait_for(3, WAIT).await;
    let first_wait = got[1].at - got[0].at;
    let second_wait = got[2].at - got[1].at;
    // Scheduled delays are 100 ms and 200 ms; the receiver asked for 1 s, then
    // for an hour (capped at 2 s).
    assert!(first_wait >= Duration::from_millis(1000), "{first_wait:?}");
    assert!(
        second_wait >= Duration::from_millis(2000),
        "{second_wait:?}"
    );
    assert!(
        second_wait < Duration::from_secs(60),
        "capped: {second_wait:?}"
    );
    let log = log_of(&app, sub, 3).await;
    assert_eq!(
        (log[0].1, log[1].1, log[2].0.as_str()),
        (Some(429), Some(503), "delivered")
    );
}

#[tokio::test]
async fn gone_deactivates_the_subscription_and_stops_retrying() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.always(Reply::status(410));
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;
    let log = log_of(&app, sub, 1).await;
    assert_eq!(log[0].1, Some(410));
    assert!(log[0]
        .2
        .as_deref()
        .unwrap()
        .contains("subscription deactivated, no retry"));
    let shown: Value = app.get_json(&format!("/api/v2/webhooks/{sub}")).await;
    assert_eq!(shown["is_active"], false);
    assert_eq!(shown["disabled_reason"], "receiver answered 410 Gone");
    assert!(shown["disabled_at"].is_string());
    // Later events are not delivered to it.
    app.insert("annotations").await;
    eventually(WAIT, "outbox drained", || async {
        (app.count("SELECT count(*) FROM ihf_outbox").await == 0).then_some(())
    })
    .await;
    assert_eq!(app.count("SELECT count(*) FROM ihf_jobs").await, 0);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_subscription_failing_for_too_long_is_deactivated_with_a_reason() {
    let app = TestApp::spawn_setting(
        &[
            ("IHF_DISABLE_AFTER", "1s"),
            (
                "IHF_RETRY_SCHEDULE",
                "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
            ),
        ],
        BOTH,
    )
    .await;
    let receiver = Receiver::start().await;
    receiver.always(Reply::status(500));
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;
    let shown: Value = eventually(WAIT, "auto-deactivation", || async {
        let v: Value = app.get_json(&format!("/api/v2/webhooks/{sub}")).await;
        (v["is_active"] == false).then_some(v)
    })
    .await;
    let reason = shown["disabled_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("no successful delivery since "),
        "{reason}"
    );
    // The queued retry is cancelled rather than sent.
    let log = log_of(&app, sub, 2).await;
    eventually(WAIT, "job cancelled", || async {
        (app.count("SELECT count(*) FROM ihf_jobs").await == 0).then_some(())
    })
    .await;
    let attempts_before = receiver.received().len();
    assert!(
        attempts_before >= 4,
        "several failures over more than a second: {log:?}"
    );
    let last = app.log(sub).await.pop().unwrap();
    assert!(last.2.unwrap().contains("delivery cancelled"));

    // Reactivating clears the reason and delivery resumes.
    receiver.always(Reply::status(200));
    let v: Value = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v2/webhooks/{sub}"),
            &serde_json::json!({ "is_active": true }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["disabled_reason"], Value::Null);
    app.insert("annotations").await;
    receiver.wait_for(attempts_before + 1, WAIT).await;
}
