//! `/api/v2/me`, `/api/v2/event-types` and `/api/v2/usage`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{problem, texts, TestApp, API_ONLY};

#[tokio::test]
async fn me_shows_the_consumer_its_key_limits_and_usage_to_any_valid_key() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let no_scopes = app.key_with("").await;
    let me: Value = app.get_json_as("/api/v2/me", &no_scopes).await;
    assert_eq!(me["consumer"]["id"], app.consumer_id.to_string());
    assert_eq!(me["consumer"]["name"], "test consumer");
    assert_eq!(me["key"]["token_type"], "static");
    assert_eq!(me["key"]["scopes"], "");
    assert_eq!(me["rate_limit"]["limit"], 1000);
    assert_eq!(me["rate_limit"]["remaining"], 999);
    assert_eq!(me["quota"]["limit"], 100000);
    assert_eq!(me["quota"]["used"], 1, "this request counts");
    assert_eq!(me["consumer"]["quota_used"], 1, "one count, not two");
    assert_eq!(me["consumer"]["quota_resets_at"], me["quota"]["resets_at"]);
    assert_eq!(me["quota"]["remaining"], 99999);
    let resets: chrono::DateTime<chrono::Utc> =
        me["quota"]["resets_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        resets,
        ihf_webhooks::access::limits::next_utc_midnight(chrono::Utc::now())
    );
    assert!(me["consumer"].get("key").is_none());
}

#[tokio::test]
async fn event_types_list_all_six_with_an_example_webhook_body() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let list: Value = app
        .get_json_as("/api/v2/event-types", &app.key_with("").await)
        .await;
    assert_eq!(
        texts(&list["data"], "name"),
        [
            "interaction_event.created",
            "annotation.created",
            "requirement_candidate.created",
            "decision_record.created",
            "deployment_record.created",
            "outcome_signal.created"
        ]
    );
    for t in list["data"].as_array().unwrap() {
        assert!(!t["description"].as_str().unwrap().is_empty());
        let example = &t["example"];
        assert_eq!(example["type"], t["name"]);
        assert!(example["id"].is_string() && example["timestamp"].is_string());
        assert!(example["data"]["id"].is_string() && example["data"]["created_at"].is_string());
    }
}

#[tokio::test]
async fn usage_counts_requests_per_day_and_endpoint_with_status_classes_and_latency() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v2/webhooks", &app.key).await.status(), 200);
    }
    let missing = format!("/api/v2/webhooks/{}", uuid::Uuid::new_v4());
    assert_eq!(app.get(&missing, &app.key).await.status(), 404);
    let bad = app
        .send_json(Method::POST, "/api/v2/webhooks", &json!({}))
        .await;
    assert_eq!(bad.status(), 422);
    app.request_log(app.consumer_id, 5).await;

    let usage: Value = app.get_json("/api/v2/usage").await;
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(usage["until"], today);
    let rows = usage["data"].as_array().unwrap();
    let row = |endpoint: &str, method: &str| {
        rows.iter()
            .find(|r| r["endpoint"] == endpoint && r["method"] == method)
            .unwrap_or_else(|| panic!("no row for {method} {endpoint}: {usage}"))
    };
    let list = row("/api/v2/webhooks", "GET");
    assert_eq!(list["day"], today);
    assert_eq!(list["requests"], 3);
    assert_eq!(list["status_2xx"], 3);
    assert!(list["p50_ms"].is_number() && list["p95_ms"].is_number());
    let one = row("/api/v2/webhooks/{id}", "GET");
    assert_eq!(
        (one["requests"].as_i64(), one["status_4xx"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(row("/api/v2/webhooks", "POST")["status_4xx"], 1);

    let other_days: Value = app
        .get_json("/api/v2/usage?since=2020-01-01&until=2020-01-31")
        .await;
    assert_eq!(other_days["data"], json!([]));
    for bad in [
        "since=2020-01-01&until=2020-12-31",
        "since=2020-02-01&until=2020-01-01",
        "since=soon",
    ] {
        problem(
            app.get(&format!("/api/v2/usage?{bad}"), &app.key).await,
            400,
        )
        .await;
    }
    // Another consumer's usage is its own.
    let (_, other) = crate::harness::create_consumer_with_key(&app.pg, "other").await;
    let theirs: Value = app.get_json_as("/api/v2/usage", &other).await;
    assert_eq!(theirs["data"], json!([]));
}
