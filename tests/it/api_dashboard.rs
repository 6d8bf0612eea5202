//! The endpoints the console needs, which any client can use too:
//! `GET /api/v2/keys`, `GET /api/v2/usage?bucket=hour`,
//! `GET /api/v2/admin/overview`.

use chrono::{Timelike, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{create_consumer_with_key, problem, TestApp, API_ONLY};

#[tokio::test]
async fn a_consumer_lists_its_own_keys_by_prefix_with_any_scope_and_never_anothers() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let read_only = app.key_with("webhooks:read").await;
    let no_scopes = app.key_with("").await;
    let (_, other) = create_consumer_with_key(&app.pg, "other").await;

    let response = app.get("/api/v2/keys", &no_scopes).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let keys = body["data"].as_array().unwrap();
    let prefixes: Vec<&str> = keys
        .iter()
        .map(|k| k["key_prefix"].as_str().unwrap())
        .collect();
    for key in [&app.key, &read_only, &no_scopes] {
        assert!(prefixes.contains(&&key[4..12]), "{key:.12} missing");
    }
    assert!(!prefixes.contains(&&other[4..12]), "another consumer's key");
    assert_eq!(keys.len(), 3);
    let text = body.to_string();
    for key in [&app.key, &read_only, &no_scopes] {
        assert!(!text.contains(key.as_str()), "a key itself is listed");
    }
    let mine = keys
        .iter()
        .find(|k| k["key_prefix"] == app.key[4..12])
        .unwrap();
    assert_eq!(
        mine["scopes"],
        "webhooks:read webhooks:write deliveries:read usage:read"
    );
    assert_eq!(mine["token_type"], "static");
    assert!(mine["created_at"].is_string() && mine["revoked_at"].is_null());

    // A token from the token endpoint shows up as `oauth`, and can be filtered out.
    let token: Value = app
        .http
        .post(app.url("/api/v2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &app.consumer_id.to_string()),
            ("client_secret", &app.key),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let all: Value = app.get("/api/v2/keys", token).await.json().await.unwrap();
    assert_eq!(all["data"].as_array().unwrap().len(), 4);
    let statics: Value = app
        .get("/api/v2/keys?token_type=static&limit=2", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(statics["data"].as_array().unwrap().len(), 2);
    assert!(statics["next_cursor"].is_string());
    problem(app.get("/api/v2/keys?limit=0", token).await, 400).await;
    problem(app.get("/api/v2/keys?token_type=magic", token).await, 400).await;
}

#[tokio::test]
async fn usage_by_hour_puts_this_hours_requests_in_one_bucket_with_a_total_across_endpoints() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    for _ in 0..2 {
        assert_eq!(app.get("/api/v2/webhooks", &app.key).await.status(), 200);
    }
    let missing = format!("/api/v2/webhooks/{}", uuid::Uuid::new_v4());
    assert_eq!(app.get(&missing, &app.key).await.status(), 404);
    app.request_log(app.consumer_id, 3).await;
    let before = Utc::now();

    let usage: Value = app
        .get("/api/v2/usage?bucket=hour", &app.key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(usage["bucket"], "hour");
    let today = before.date_naive();
    assert_eq!(usage["until"], today.to_string());
    assert_eq!(usage["since"], today.pred_opt().unwrap().to_string());
    let hour = before
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap();
    let starts_this_hour = |row: &&Value| {
        row["start"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .is_some_and(|s| s == hour)
    };
    // The request log could cross an hour between the requests and now.
    if Utc::now().hour() == before.hour() {
        let totals = usage["totals"].as_array().unwrap();
        let total = totals
            .iter()
            .find(starts_this_hour)
            .unwrap_or_else(|| panic!("no total for {hour}: {usage}"));
        assert_eq!(total["requests"], 3);
        assert_eq!(
            (total["status_2xx"].as_i64(), total["status_4xx"].as_i64()),
            (Some(2), Some(1))
        );
        assert!(total["p50_ms"].is_number() && total["p95_ms"].is_number());
        let rows: Vec<&Value> = usage["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(starts_this_hour)
            .collect();
        assert_eq!(rows.len(), 2, "{usage}");
        assert!(rows
            .iter()
            .any(|r| r["endpoint"] == "/api/v2/webhooks" && r["requests"] == 2));
        assert!(rows.iter().all(|r| r["day"] == today.to_string()));
    }

    // Hour buckets span at most 31 days; day buckets keep their 92.
    problem(
        app.get(
            "/api/v2/usage?bucket=hour&since=2020-01-01&until=2020-02-01",
            &app.key,
        )
        .await,
        400,
    )
    .await;
    let days = app
        .get(
            "/api/v2/usage?bucket=day&since=2020-01-01&until=2020-02-01",
            &app.key,
        )
        .await;
    assert_eq!(days.status(), 200);
    problem(app.get("/api/v2/usage?bucket=week", &app.key).await, 400).await;
}

#[tokio::test]
async fn usage_without_a_bucket_still_answers_days_with_totals_added() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    assert_eq!(app.get("/api/v2/webhooks", &app.key).await.status(), 200);
    app.request_log(app.consumer_id, 1).await;
    let usage: Value = app
        .get("/api/v2/usage", &app.key)
        .await
        .json()
        .await
        .unwrap();
    let today = Utc::now().date_naive();
    assert_eq!(usage["bucket"], "day");
    assert_eq!(
        usage["since"],
        (today - chrono::Days::new(6)).to_string(),
        "the default week is kept"
    );
    let row = &usage["data"][0];
    assert_eq!(row["day"], today.to_string());
    assert_eq!(row["start"], format!("{today}T00:00:00Z"));
    assert_eq!(usage["totals"][0]["requests"], row["requests"]);
}

#[tokio::test]
async fn the_admin_overview_shows_every_consumer_with_todays_usage_quota_and_subscription_health() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let admin = app.key_with("admin").await;
    let (other_id, _) = create_consumer_with_key(&app.pg, "quiet consumer").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let (id, _) = app
            .subscribe(
                "annotation.created",
                &format!("http://127.0.0.1:9/hook/{n}"),
            )
            .await;
        ids.push(id);
    }
    // ids[0] stays healthy; [1] is paused; [2] failing; [3] disabled; [4] deleted.
    let paused = app
        .send_json(
            Method::PATCH,
            &format!("/api/v2/webhooks/{}", ids[1]),
            &json!({ "is_active": false }),
        )
        .await;
    assert_eq!(paused.status(), 200);
    app.pg
        .execute(
            "UPDATE webhook_subscriptions SET failing_since = now() - interval '1 hour' WHERE id = $1",
            &[&ids[2]],
        )
        .await
        .unwrap();
    app.pg
        .execute(
            "UPDATE webhook_subscriptions SET is_active = false, disabled_reason = 'the receiver answered 410 Gone', disabled_at = now() WHERE id = $1",
            &[&ids[3]],
        )
        .await
        .unwrap();
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v2/webhooks/{}", ids[4]),
            &app.key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);

    let response = app.get("/api/v2/admin/overview", &admin).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let rows = body["data"].as_array().unwrap();
    let row = |id: uuid::Uuid| {
        rows.iter()
            .find(|r| r["consumer"]["id"] == id.to_string())
            .unwrap_or_else(|| panic!("consumer {id} missing: {body}"))
    };
    let mine = row(app.consumer_id);
    assert_eq!(
        mine["subscriptions"],
        json!({ "total": 4, "healthy": 1, "failing": 1, "paused": 1, "disabled": 1 })
    );
    assert_eq!(mine["consumer"]["quota_per_day"], 100_000);
    assert!(mine["consumer"]["quota_used"].as_i64().unwrap() >= 0);
    assert!(mine["consumer"]["quota_resets_at"].is_string());
    let quiet = row(other_id);
    assert_eq!(quiet["subscriptions"]["total"], 0);
    assert_eq!(quiet["consumer"]["name"], "quiet consumer");

    let first: Value = app
        .get("/api/v2/admin/overview?limit=1", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get(
            &format!("/api/v2/admin/overview?limit=1&cursor={cursor}"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(
        second["data"][0]["consumer"]["id"],
        first["data"][0]["consumer"]["id"]
    );

    // The consumer's own key, without `admin`, is refused.
    problem(app.get("/api/v2/admin/overview", &app.key).await, 403).await;
}
