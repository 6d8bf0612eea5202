//! Rate limit (rolling minute) and daily quota (UTC day): headers on every
//! response, 429s, the midnight rollover, and the count shared by replicas.

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{
    create_consumer_with_limits, eventually, problem, test_env, Service, TestApp, API_ONLY, WAIT,
};

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing on a {}", response.status()))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn every_response_to_an_authenticated_request_carries_the_rate_limit_headers() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let read_only = app.key_with("webhooks:read").await;
    let responses = vec![
        app.get("/api/v2/webhooks", &app.key).await,
        app.get(&format!("/api/v2/webhooks/{}", Uuid::new_v4()), &app.key)
            .await,
        app.get("/api/v2/webhooks?limit=1000", &app.key).await,
        app.send_json(
            Method::POST,
            "/api/v2/webhooks",
            &json!({ "colour": "red" }),
        )
        .await,
        app.send_json_as(Method::POST, "/api/v2/webhooks", &read_only, &json!({}))
            .await,
        app.get("/api/v2/me", &app.key).await,
    ];
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 404, 400, 422, 403, 200]);
    let mut remaining = Vec::new();
    for response in &responses {
        assert_eq!(
            header(response, "ratelimit-policy"),
            "\"minute\";q=1000;w=60, \"day\";q=100000;w=86400"
        );
        let rate = header(response, "ratelimit");
        assert!(
            rate.starts_with("\"minute\";r=") && rate.contains(", \"day\";r="),
            "{rate}"
        );
        assert_eq!(header(response, "x-ratelimit-limit"), "1000");
        let reset: i64 = header(response, "x-ratelimit-reset").parse().unwrap();
        let now = chrono::Utc::now().timestamp();
        assert!((now..=now + 61).contains(&reset), "epoch seconds: {reset}");
        remaining.push(
            header(response, "x-ratelimit-remaining")
                .parse::<u32>()
                .unwrap(),
        );
    }
    assert_eq!(
        remaining,
        [999, 998, 997, 996, 995, 994],
        "every request counts"
    );
}

#[tokio::test]
async fn over_the_minute_limit_requests_get_429_with_retry_after_and_the_violated_policy() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let (_, key) = create_consumer_with_limits(&app.pg, "bursty", 3, 1000).await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v2/webhooks", &key).await.status(), 200);
    }
    let refused = app.get("/api/v2/webhooks", &key).await;
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        header(&refused, "ratelimit-policy"),
        "\"minute\";q=3;w=60, \"day\";q=1000;w=86400"
    );
    assert!(header(&refused, "ratelimit").starts_with("\"minute\";r=0;t="));
    assert_eq!(header(&refused, "x-ratelimit-remaining"), "0");
    let body = problem(refused, 429).await;
    assert_eq!(body["violated-policies"], json!(["minute"]));
    // Refusals do not count: the limit frees up as the minute rolls, not later.
    let again = app.get("/api/v2/me", &key).await;
    assert_eq!(again.status(), 429);
    assert_eq!(
        app.get("/api/v2/webhooks", &app.key).await.status(),
        200,
        "another consumer is not affected"
    );
}

#[tokio::test]
async fn the_daily_quota_refuses_until_quota_resets_at_then_rolls_to_the_next_utc_midnight() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let (consumer, key) = create_consumer_with_limits(&app.pg, "frugal", 100, 2).await;
    assert_eq!(app.get("/api/v2/webhooks", &key).await.status(), 200);
    let last = app.get("/api/v2/webhooks", &key).await;
    assert!(header(&last, "ratelimit").contains("\"day\";r=0;t="));
    let refused = app.get("/api/v2/webhooks", &key).await;
    let now = chrono::Utc::now();
    let midnight = ihf_webhooks::access::limits::next_utc_midnight(now);
    let retry_after: i64 = header(&refused, "retry-after").parse().unwrap();
    assert!(
        (retry_after - (midnight - now).num_seconds()).abs() <= 2,
        "Retry-After counts down to midnight UTC: {retry_after}"
    );
    let body = problem(refused, 429).await;
    assert_eq!(body["violated-policies"], json!(["day"]));

    // The counts reach the database within the sync interval.
    quota_used_reaches(&app, consumer, 2).await;

    // Midnight passes: the window ends, and the replica sees it at its next sync.
    app.pg
        .execute(
            "UPDATE api_consumers SET quota_resets_at = now() - interval '1 second' WHERE id = $1",
            &[&consumer],
        )
        .await
        .unwrap();
    eventually(WAIT, "a new day's quota", || async {
        (app.get("/api/v2/webhooks", &key).await.status() == 200).then_some(())
    })
    .await;
    let row = app
        .pg
        .query_one(
            "SELECT quota_resets_at = (date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC' \
               FROM api_consumers WHERE id = $1",
            &[&consumer],
        )
        .await
        .unwrap();
    assert!(
        row.get::<_, bool>(0),
        "quota_resets_at rolled to the next UTC midnight"
    );
    let me: Value = app.get_json_as("/api/v2/me", &key).await;
    assert_eq!(me["quota"]["used"], 2, "the new day has its own count");
    assert_eq!(
        me["quota"]["resets_at"],
        midnight.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
}

#[tokio::test]
async fn replicas_share_the_daily_quota_through_the_database() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let second = Service::start(test_env(&app.db.url()), API_ONLY).await;
    let (consumer, key) = create_consumer_with_limits(&app.pg, "spread", 100, 10).await;
    for _ in 0..6 {
        assert_eq!(app.get("/api/v2/me", &key).await.status(), 200);
    }
    // The first replica's count reaches the database.
    quota_used_reaches(&app, consumer, 6).await;
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", second.port);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = app
            .http
            .get(url("/api/v2/me"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 429],
        "6 + 4 = the quota of 10"
    );
    second.stop().await;
}

#[tokio::test]
async fn last_used_at_is_kept_current_without_a_write_per_request() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let before = chrono::Utc::now();
    for _ in 0..3 {
        assert_eq!(app.get("/api/v2/me", &app.key).await.status(), 200);
    }
    let used: chrono::DateTime<chrono::Utc> = eventually(WAIT, "last_used_at written", || async {
        app.pg
            .query_one(
                "SELECT last_used_at FROM api_keys WHERE key_hash = $1",
                &[&ihf_webhooks::access::keys::hash_key(&app.key)],
            )
            .await
            .unwrap()
            .get::<_, Option<chrono::DateTime<chrono::Utc>>>(0)
    })
    .await;
    assert!(used >= before - chrono::Duration::seconds(1));
}

/// Waits until the database holds `n` as the consumer's `quota_used` (the
/// replicas add their counts every sync interval).
async fn quota_used_reaches(app: &TestApp, consumer: Uuid, n: i64) {
    eventually(WAIT, &format!("quota_used = {n}"), || async {
        let used: i64 = app
            .pg
            .query_one(
                "SELECT quota_used FROM api_consumers WHERE id = $1",
                &[&consumer],
            )
            .await
            .unwrap()
            .get(0);
        (used == n).then_some(())
    })
    .await;
}
