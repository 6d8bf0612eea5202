//! `GET /api/v2/webhooks/{id}/deliveries`, and isolation between consumers
//! for everything under `/api/v2/webhooks` (OWASP API1).

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{create_consumer_with_key, problem, texts, Receiver, Reply, TestApp, WAIT};

/// `hh:mm:ss` yesterday (UTC), as RFC 3339: inside the log's partitions and
/// its retention.
fn at(time: &str) -> String {
    let yesterday = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    format!("{yesterday}T{time}Z")
}

/// Appends an attempt-log row directly (the worker writes them in real life).
async fn log_row(app: &TestApp, subscription: Uuid, status: &str, at: &str, code: Option<i32>) {
    app.pg
        .execute(
            "INSERT INTO webhook_deliveries \
               (webhook_subscription_id, payload, status, attempted_at, response_code, latency_ms, error_message) \
             VALUES ($1, jsonb_build_object('id', gen_random_uuid(), 'type', 'annotation.created', 'data', '{}'::jsonb), \
                     $2, $3::text::timestamptz, $4, 12, CASE WHEN $2 = 'failed' THEN 'HTTP 500; retry in 5 s' END)",
            &[&subscription, &status, &at, &code],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_attempt_log_of_a_real_delivery_is_listed_newest_first() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(500)]);
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;
    receiver.wait_for(2, WAIT).await;
    let page: Value = crate::harness::eventually(WAIT, "the delivered row", || async {
        let page: Value = app
            .get_json(&format!("/api/v2/webhooks/{sub}/deliveries"))
            .await;
        (page["data"].as_array().unwrap().len() == 2).then_some(page)
    })
    .await;
    let rows = page["data"].as_array().unwrap();
    assert_eq!(rows[0]["status"], "delivered", "newest first");
    assert_eq!(rows[1]["status"], "failed");
    assert_eq!(rows[0]["response_code"], 200);
    assert_eq!(rows[1]["response_code"], 500);
    assert!(rows[0]["latency_ms"].is_number());
    assert_eq!(rows[0]["event_id"], rows[1]["event_id"]);
    assert_eq!(rows[0]["event_type"], "annotation.created");
    assert!(rows[0]["attempted_at"].is_string());
    assert_eq!(page["next_cursor"], Value::Null);
    // Both show the envelope as sent, though only the first row stores it.
    let sent = receiver.received()[0].json();
    for row in rows {
        assert_eq!(row["event_id"], row["payload"]["id"]);
        assert_eq!(row["payload"], sent);
    }
    assert_eq!(rows[0]["payload"]["data"]["author"], "ada");
}

#[tokio::test]
async fn deliveries_filter_by_status_and_since_and_page_with_a_capped_limit() {
    let app = TestApp::spawn_with(|_| {}, crate::harness::API_ONLY).await;
    let (sub, _) = app
        .subscribe("annotation.created", "http://127.0.0.1:9/hook")
        .await;
    log_row(&app, sub, "pending", &at("10:00:00"), None).await;
    log_row(&app, sub, "failed", &at("10:00:01"), Some(500)).await;
    log_row(&app, sub, "failed", &at("10:05:00"), Some(500)).await;
    log_row(&app, sub, "delivered", &at("10:35:00"), Some(204)).await;
    let path = format!("/api/v2/webhooks/{sub}/deliveries");
    let list = |query: String| {
        let path = format!("{path}?{query}");
        let app = &app;
        async move { app.get(&path, &app.key).await }
    };

    let failed: Value = list("status=failed".into()).await.json().await.unwrap();
    let times: Vec<&str> = texts(&failed["data"], "attempted_at");
    assert_eq!(times, [at("10:05:00"), at("10:00:01")]);
    assert_eq!(failed["data"][0]["error_message"], "HTTP 500; retry in 5 s");

    let since: Value = list(format!("since={}", at("10:05:00")))
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = texts(&since["data"], "status");
    assert_eq!(statuses, ["delivered", "failed"]);

    // Pages of two walk the whole log once, newest first.
    let seen: Vec<String> = app
        .every_page(&format!("/api/v2/webhooks/{sub}/deliveries"), 2)
        .await
        .iter()
        .map(|row| row["attempted_at"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        seen,
        [
            at("10:35:00"),
            at("10:05:00"),
            at("10:00:01"),
            at("10:00:00")
        ]
    );

    for bad in [
        "limit=101",
        "limit=0",
        "status=lost",
        "since=yesterday",
        "cursor=zzz",
        "colour=red",
    ] {
        let p = problem(list(bad.into()).await, 400).await;
        let detail = p["detail"].as_str().unwrap();
        let parameter = bad.split('=').next().unwrap();
        assert!(detail.contains(parameter), "{bad}: {detail}");
    }
    problem(
        app.get("/api/v2/webhooks/not-a-uuid/deliveries", &app.key)
            .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn another_consumer_cannot_read_change_delete_or_list_a_consumers_subscriptions_and_deliveries(
) {
    let app = TestApp::spawn_with(|_| {}, crate::harness::API_ONLY).await;
    let (mine, _) = app
        .subscribe("annotation.created", "http://127.0.0.1:9/hook")
        .await;
    log_row(&app, mine, "failed", &at("10:00:00"), Some(500)).await;
    let (_, intruder) = create_consumer_with_key(&app.pg, "intruder").await;

    let one = format!("/api/v2/webhooks/{mine}");
    let deliveries = format!("{one}/deliveries");
    problem(app.get(&one, &intruder).await, 404).await;
    problem(app.get(&deliveries, &intruder).await, 404).await;
    problem(
        app.get(&format!("{deliveries}?status=failed"), &intruder)
            .await,
        404,
    )
    .await;
    let patch = app
        .send_json_as(
            Method::PATCH,
            &one,
            &intruder,
            &json!({ "is_active": false, "target_url": "http://127.0.0.1:10/evil" }),
        )
        .await;
    problem(patch, 404).await;
    let delete = app.send(Method::DELETE, &one, &intruder).await;
    problem(delete, 404).await;
    let list: Value = app.get_json_as("/api/v2/webhooks", &intruder).await;
    assert_eq!(list["data"], json!([]));

    // The owner sees everything as it was.
    let still: Value = app.get_json(&one).await;
    assert_eq!(still["is_active"], true);
    assert_eq!(still["target_url"], "http://127.0.0.1:9/hook");
    let log: Value = app.get_json(&deliveries).await;
    assert_eq!(log["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_deleted_subscriptions_deliveries_are_gone_from_the_api_but_kept_in_the_log() {
    let app = TestApp::spawn_with(|_| {}, crate::harness::API_ONLY).await;
    let (sub, _) = app
        .subscribe("annotation.created", "http://127.0.0.1:9/hook")
        .await;
    log_row(&app, sub, "delivered", &at("10:00:00"), Some(200)).await;
    let one = format!("/api/v2/webhooks/{sub}");
    let delete = app.send(Method::DELETE, &one, &app.key).await;
    assert_eq!(delete.status(), 204);
    problem(app.get(&format!("{one}/deliveries"), &app.key).await, 404).await;
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_deliveries").await,
        1
    );
}
