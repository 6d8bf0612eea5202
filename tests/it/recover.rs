//! Health in the API, stats, and recovering events that failed for good.

use serde_json::{json, Value};

use crate::harness::{
    create_consumer_with_key, eventually, problem, test_env, Receiver, Reply, Service, TestApp,
    API_ONLY, BOTH, WAIT,
};

/// The 20 events' ids in capture order (one insert each, so each has its
/// own capture time).
async fn twenty_failed_events(app: &TestApp, receiver: &Receiver) -> Vec<String> {
    for _ in 0..20 {
        app.insert("annotations").await;
    }
    receiver.wait_for(20, WAIT).await;
    eventually(WAIT, "20 final failures recorded", || async {
        let failed = app
            .count("SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'")
            .await;
        let jobs = app.count("SELECT count(*) FROM ihf_jobs").await;
        (failed == 20 && jobs == 0).then_some(())
    })
    .await;
    app.pg
        .query(
            "SELECT payload->>'id' FROM webhook_deliveries WHERE status = 'failed' \
             ORDER BY payload->>'timestamp'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn one_recover_call_delivers_every_finally_failed_event_under_its_original_id() {
    // API only; the worker runs beside it and is stopped while the recovered
    // events wait in the queue.
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let mut env = test_env(&app.db.url());
    env.insert("IHF_RETRY_SCHEDULE", "none".into());
    let worker = Service::start(env.clone(), BOTH).await;
    let receiver = Receiver::start().await;
    receiver.always(Reply::status(500));
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    let order = twenty_failed_events(&app, &receiver).await;
    assert_eq!(order.len(), 20);
    worker.stop().await;

    // The health fields and the stats say what happened.
    let health = app.get_json(&format!("/api/v2/webhooks/{sub}")).await;
    assert!(health["failing_since"].is_string(), "{health}");
    assert!(health["last_failure_at"].is_string(), "{health}");
    assert_eq!(health["last_success_at"], Value::Null);
    assert!(health["last_error"]
        .as_str()
        .unwrap()
        .starts_with("HTTP 500 Internal Server Error; no retries left"));
    assert_eq!(health["next_attempt_at"], Value::Null);
    assert_eq!(health["disabled_reason"], Value::Null);
    let stats = app.get_json(&format!("/api/v2/webhooks/{sub}/stats")).await;
    assert_eq!(
        stats["counts"],
        json!({"delivered": 0, "failed": 20, "pending": 0}),
        "each attempted at once: no 'pending' row"
    );
    assert!(stats["latency_ms"]["p50"].is_i64() && stats["latency_ms"]["p95"].is_i64());

    receiver.always(Reply::status(200));
    let path = format!("/api/v2/webhooks/{sub}/recover");
    let body = json!({ "since": since.to_rfc3339() });
    let first = app.send_json(reqwest::Method::POST, &path, &body).await;
    assert_eq!(first.status(), 202);
    assert_eq!(first.json::<Value>().await.unwrap(), json!({"queued": 20}));
    let again = app.send_json(reqwest::Method::POST, &path, &body).await;
    assert_eq!(again.status(), 202);
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        json!({"queued": 0}),
        "nothing twice while queued"
    );
    let queued: Vec<String> = app
        .pg
        .query("SELECT event_id::text FROM ihf_jobs ORDER BY run_at", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(queued, order, "queued in capture order");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM webhook_deliveries \
             WHERE error_message = 'scheduled: recovered' AND status = 'pending' AND payload ? 'data'"
        )
        .await,
        20,
        "a recovered delivery is a new one: its 'pending' row carries the envelope"
    );
    let health = app.get_json(&format!("/api/v2/webhooks/{sub}")).await;
    assert!(health["next_attempt_at"].is_string(), "{health}");

    let worker = Service::start(env, BOTH).await;
    let got = receiver.wait_for(40, WAIT).await;
    let mut redelivered: Vec<String> = got[20..].iter().map(|r| r.event_id()).collect();
    let mut expected = order.clone();
    redelivered.sort();
    expected.sort();
    assert_eq!(redelivered, expected, "the same 20 ids, each once");
    eventually(WAIT, "health shows the successes", || async {
        let health = app.get_json(&format!("/api/v2/webhooks/{sub}")).await;
        (health["failing_since"].is_null() && health["last_success_at"].is_string()).then_some(())
    })
    .await;
    worker.stop().await;
}

#[tokio::test]
async fn recover_and_stats_check_their_input_and_hide_other_consumers_subscriptions() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    let path = format!("/api/v2/webhooks/{sub}/recover");
    let (_, other_key) = create_consumer_with_key(&app.pg, "someone else").await;
    let body = json!({"since": "2026-01-01T00:00:00Z"});
    let response = app
        .request(reqwest::Method::POST, &path, &other_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
    problem(
        app.get(&format!("/api/v2/webhooks/{sub}/stats"), &other_key)
            .await,
        404,
    )
    .await;
    let backwards = json!({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"});
    problem(
        app.send_json(reqwest::Method::POST, &path, &backwards)
            .await,
        422,
    )
    .await;
    problem(
        app.send_json(reqwest::Method::POST, &path, &json!({"since": "yesterday"}))
            .await,
        422,
    )
    .await;
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let response = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v2/webhooks/{sub}/stats"),
            &app.key,
        )
        .query(&[("since", future)])
        .send()
        .await
        .unwrap();
    problem(response, 422).await;

    app.send_json(
        reqwest::Method::PATCH,
        &format!("/api/v2/webhooks/{sub}"),
        &json!({"is_active": false}),
    )
    .await;
    problem(
        app.send_json(reqwest::Method::POST, &path, &body).await,
        409,
    )
    .await;

    let stats = app.get_json(&format!("/api/v2/webhooks/{sub}/stats")).await;
    assert_eq!(
        stats["counts"],
        json!({"delivered": 0, "failed": 0, "pending": 0})
    );
    assert_eq!(stats["latency_ms"], json!({"p50": null, "p95": null}));
    let since = chrono::DateTime::parse_from_rfc3339(stats["since"].as_str().unwrap()).unwrap();
    let until = chrono::DateTime::parse_from_rfc3339(stats["until"].as_str().unwrap()).unwrap();
    assert_eq!((until - since).num_hours(), 24, "the default window");
}
