//! `api_request_log`: every request whose credentials name a consumer is
//! logged with the route template, whatever its outcome; nothing queued is
//! lost on a graceful stop.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::harness::{create_consumer_with_limits, TestApp, API_ONLY};

#[tokio::test]
async fn refused_requests_are_logged_with_the_route_template_never_a_raw_id() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let read_only = app.key_with("webhooks:read").await;
    let missing = Uuid::new_v4();
    let sent = [
        app.get(&format!("/api/v2/webhooks/{missing}"), &app.key)
            .await,
        app.get("/api/v2/webhooks/not-a-uuid", &app.key).await,
        app.send_json(
            Method::PATCH,
            &format!("/api/v2/webhooks/{missing}"),
            &json!({ "colour": "red" }),
        )
        .await,
        app.send_json_as(Method::POST, "/api/v2/webhooks", &read_only, &json!({}))
            .await,
        app.get(&format!("/api/v2/webhooks/{missing}/deliveries"), &app.key)
            .await,
        app.get("/api/v2/admin/consumers", &app.key).await,
    ];
    let statuses: Vec<u16> = sent.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [404, 404, 422, 403, 404, 403]);

    // A revoked key still names its consumer: the 401 is logged against it.
    let revoked = app.key_with("webhooks:read").await;
    app.pg
        .execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1",
            &[&ihf_webhooks::access::keys::hash_key(&revoked)],
        )
        .await
        .unwrap();
    assert_eq!(app.get("/api/v2/webhooks", &revoked).await.status(), 401);

    // Over the limit: logged too.
    let (limited, limited_key) = create_consumer_with_limits(&app.pg, "limited", 1, 100).await;
    assert_eq!(
        app.get("/api/v2/webhooks", &limited_key).await.status(),
        200
    );
    assert_eq!(
        app.get("/api/v2/webhooks", &limited_key).await.status(),
        429
    );

    // No credentials or an unknown key: no consumer to log against.
    let anonymous = app
        .http
        .get(app.url("/api/v2/webhooks"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let unknown = app
        .get("/api/v2/webhooks", &format!("ihf_{}", "ab".repeat(32)))
        .await;
    assert_eq!(unknown.status(), 401);

    let log = app.request_log(app.consumer_id, 7).await;
    let expected = [
        ("/api/v2/webhooks/{id}", "GET", 404),
        ("/api/v2/webhooks/{id}", "GET", 404),
        ("/api/v2/webhooks/{id}", "PATCH", 422),
        ("/api/v2/webhooks", "POST", 403),
        ("/api/v2/webhooks/{id}/deliveries", "GET", 404),
        ("/api/v2/admin/consumers", "GET", 403),
        ("/api/v2/webhooks", "GET", 401),
    ];
    let got: Vec<(&str, &str, i32)> = log
        .iter()
        .map(|(e, m, s)| (e.as_str(), m.as_str(), *s))
        .collect();
    assert_eq!(got, expected);
    let limited_log = app.request_log(limited, 2).await;
    assert_eq!(
        limited_log[1],
        ("/api/v2/webhooks".into(), "GET".into(), 429)
    );

    let total = app.count("SELECT count(*) FROM api_request_log").await;
    assert_eq!(
        total, 9,
        "the anonymous and unknown-key requests are not logged"
    );
    let raw = app
        .count(&format!(
            "SELECT count(*) FROM api_request_log WHERE endpoint LIKE '%{missing}%' \
             OR endpoint LIKE '%not-a-uuid%' OR endpoint !~ '^/api/v2/'"
        ))
        .await;
    assert_eq!(raw, 0, "endpoints are route templates");
}

#[tokio::test]
async fn a_graceful_stop_writes_every_queued_entry_and_count_before_returning() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    for _ in 0..25 {
        assert_eq!(app.get("/api/v2/me", &app.key).await.status(), 200);
    }
    let TestApp {
        service,
        pg,
        consumer_id,
        db: _db,
        ..
    } = app;
    service.stop().await;
    // No waiting: whatever the server recorded is in the database once it stopped.
    let logged: i64 = pg
        .query_one(
            "SELECT count(*) FROM api_request_log WHERE api_consumer_id = $1",
            &[&consumer_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(logged, 25);
    let used: i64 = pg
        .query_one(
            "SELECT quota_used FROM api_consumers WHERE id = $1",
            &[&consumer_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(used, 25, "the daily count is synced on the way out");
}

#[tokio::test]
async fn latency_is_recorded_for_every_entry() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    assert_eq!(app.get("/api/v2/webhooks", &app.key).await.status(), 200);
    app.request_log(app.consumer_id, 1).await;
    let without = app
        .count("SELECT count(*) FROM api_request_log WHERE latency_ms IS NULL OR latency_ms < 0")
        .await;
    assert_eq!(without, 0);
}
