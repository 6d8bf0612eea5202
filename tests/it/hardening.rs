//! Hardening against a hostile or careless client (issue 14's probe): bounded
//! metrics labels, revocation that sticks, bounded connections, subscription
//! limits, cheap unauthenticated scrapes, 400s instead of 500s, every error a
//! problem, a revoked key's refusals kept out of its consumer's log, secrets
//! sealed at rest.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ihf_webhooks::access::keys::{self, Scopes};
use ihf_webhooks::access::sealing::SealingKey;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{json, Value};
use standardwebhooks::Webhook;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

use crate::harness::{eventually, problem, Receiver, TestApp, API_ONLY, BOTH, WAIT};

async fn metrics(app: &TestApp) -> String {
    app.http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Sends `request` on a fresh socket and reads until the server closes it.
async fn raw(app: &TestApp, request: &[u8]) -> Vec<u8> {
    let mut socket = TcpStream::connect(("127.0.0.1", app.service.port))
        .await
        .unwrap();
    socket.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, socket.read_to_end(&mut answer)).await;
    answer
}

#[tokio::test]
async fn two_hundred_random_method_names_leave_the_metrics_output_unchanged() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let odd =
        |name: &str| format!("{name} /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    // One odd method and one scrape first, so every series exists.
    raw(&app, odd("WARMUP").as_bytes()).await;
    metrics(&app).await;
    let before = metrics(&app).await;
    for _ in 0..200 {
        let method = Alphanumeric
            .sample_string(&mut rand::rng(), 1024)
            .to_uppercase();
        let answer = raw(&app, odd(&method).as_bytes()).await;
        assert!(answer.starts_with(b"HTTP/1.1 "), "the server answered");
    }
    let after = metrics(&app).await;
    assert_eq!(
        before.lines().count(),
        after.lines().count(),
        "no new series"
    );
    assert!(
        after.len() < before.len() + 200,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
}

/// Mints a token with HTTP Basic; the response as it came.
async fn mint(app: &TestApp, key: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/v2/token"))
        .basic_auth(app.consumer_id, Some(key))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

async fn key_id(app: &TestApp, key: &str) -> Uuid {
    app.pg
        .query_one(
            "SELECT id FROM api_keys WHERE key_prefix = $1",
            &[&keys::prefix_of(key).unwrap()],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_key_revoked_on_another_replica_cannot_mint_a_token_from_this_ones_cache() {
    let app = TestApp::spawn_setting(&[("IHF_AUTH_CACHE_TTL", "10m")], API_ONLY).await;
    assert_eq!(
        mint(&app, &app.key).await.status(),
        200,
        "the key is now cached"
    );
    // As `ihf-webhooks key revoke` does, without telling this replica.
    keys::revoke(&app.pg, key_id(&app, &app.key).await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mint(&app, &app.key).await.status(), 401);
}

#[tokio::test]
async fn a_token_is_refused_within_the_cache_ttl_once_its_key_is_revoked() {
    let app = TestApp::spawn_setting(&[("IHF_AUTH_CACHE_TTL", "300ms")], API_ONLY).await;
    let token: Value = mint(&app, &app.key).await.json().await.unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/v2/me", &token).await.status(), 200);
    // Only the key's row: a token minted after the revocation is not among
    // those the revocation itself marked.
    app.pg
        .execute(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1",
            &[&key_id(&app, &app.key).await],
        )
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "the token refused", || async {
        (app.get("/api/v2/me", &token).await.status() == 401).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_tokens_expiry_is_capped_at_its_keys() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let key = keys::issue(
        &app.pg,
        app.consumer_id,
        &Scopes::default_scopes(),
        "static",
        Some(chrono::Utc::now() + chrono::Duration::minutes(10)),
    )
    .await
    .unwrap();
    let token: Value = mint(&app, &key.key).await.json().await.unwrap();
    let expires_in = token["expires_in"].as_i64().unwrap();
    assert!((1..=600).contains(&expires_in), "{expires_in}");
    let outlives: bool = app
        .pg
        .query_one(
            "SELECT t.expires_at > k.expires_at FROM api_keys t JOIN api_keys k ON k.id = t.issued_from",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!outlives);
}

fn http_limits(env: &mut std::collections::HashMap<&'static str, String>) {
    env.insert("IHF_HTTP_HEADER_TIMEOUT", "500ms".into());
    env.insert("IHF_HTTP_BODY_TIMEOUT", "500ms".into());
    env.insert("IHF_HTTP_IDLE_TIMEOUT", "500ms".into());
    env.insert("IHF_HTTP_MAX_CONNECTIONS", "20".into());
}

/// Whether the server closes `socket` (EOF or reset) within `WAIT`, reading
/// and discarding whatever it sends first.
async fn closed_by_server(mut socket: TcpStream) -> bool {
    let mut buffer = [0u8; 4096];
    let read_until_closed = async {
        loop {
            match socket.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(WAIT, read_until_closed).await.is_ok()
}

#[tokio::test]
async fn idle_and_slow_sockets_are_closed_after_their_timeouts() {
    let app = TestApp::spawn_with(http_limits, API_ONLY).await;
    let connect = || TcpStream::connect(("127.0.0.1", app.service.port));
    // Never sends anything.
    let silent = connect().await.unwrap();
    // Half a request line, then nothing.
    let mut slow_header = connect().await.unwrap();
    slow_header
        .write_all(b"GET /healthz HTTP/1.1\r\nhost:")
        .await
        .unwrap();
    // A body announced and never sent.
    let mut slow_body = connect().await.unwrap();
    slow_body
        .write_all(b"POST /api/v2/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ng")
        .await
        .unwrap();
    // One request answered, then kept alive and idle.
    let mut idle = connect().await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (a, b, c, d) = tokio::join!(
        closed_by_server(silent),
        closed_by_server(slow_header),
        closed_by_server(slow_body),
        closed_by_server(idle),
    );
    assert!(a, "a silent connection is closed");
    assert!(b, "a connection stuck in its headers is closed");
    assert!(c, "a connection stuck in its body is closed");
    assert!(d, "an idle keep-alive connection is closed");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_outlives_the_header_timeout_until_the_idle_timeout() {
    let app = TestApp::spawn_with(
        |env| {
            http_limits(env);
            env.insert("IHF_HTTP_IDLE_TIMEOUT", "60s".into());
        },
        API_ONLY,
    )
    .await;
    let mut socket = TcpStream::connect(("127.0.0.1", app.service.port))
        .await
        .unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut buffer = [0u8; 4096];
    socket.write_all(request).await.unwrap();
    assert!(socket.read(&mut buffer).await.unwrap() > 0);
    // Idle for four header timeouts: still open, and it serves the next request.
    tokio::time::sleep(Duration::from_secs(2)).await;
    socket.write_all(request).await.unwrap();
    let n = socket.read(&mut buffer).await.unwrap();
    assert!(
        buffer[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        &buffer[..n]
    );
    // A later request's headers still have only the header timeout.
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    assert!(closed_by_server(socket).await);
}

#[tokio::test]
async fn a_connection_flood_beyond_the_cap_leaves_healthz_answering() {
    let app = TestApp::spawn_with(
        |env| {
            http_limits(env);
            // Long enough that the flood is still open when /healthz comes.
            env.insert("IHF_HTTP_HEADER_TIMEOUT", "60s".into());
            env.insert("IHF_HTTP_IDLE_TIMEOUT", "60s".into());
        },
        API_ONLY,
    )
    .await;
    let mut flood = Vec::new();
    for _ in 0..60 {
        let mut s = TcpStream::connect(("127.0.0.1", app.service.port))
            .await
            .unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        flood.push(s);
    }
    for _ in 0..3 {
        let client = reqwest::Client::new();
        let response = tokio::time::timeout(WAIT, client.get(app.url("/healthz")).send())
            .await
            .expect("/healthz answers during the flood")
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // The cap held: the oldest incomplete connections were shed to make room.
    let shed = futures_util::future::join_all(flood.into_iter().map(|mut s| async move {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(2), s.read(&mut byte)).await,
            Ok(Ok(0) | Err(_))
        )
    }))
    .await;
    let shed = shed.into_iter().filter(|closed| *closed).count();
    assert!(shed >= 40, "only {shed} of 60 flood connections were shed");
}

#[tokio::test]
async fn a_consumer_cannot_create_more_subscriptions_than_the_limit_nor_an_exact_duplicate() {
    let app =
        TestApp::spawn_setting(&[("IHF_MAX_SUBSCRIPTIONS_PER_CONSUMER", "3")], API_ONLY).await;
    let create = |url: String| {
        let body = json!({ "event_type": "annotation.created", "target_url": url });
        let app = &app;
        async move {
            app.send_json(reqwest::Method::POST, "/api/v2/webhooks", &body)
                .await
        }
    };
    assert_eq!(create("http://127.0.0.1:9/a".into()).await.status(), 201);
    let duplicate = problem(create("http://127.0.0.1:9/a".into()).await, 409).await;
    assert!(duplicate["detail"]
        .as_str()
        .unwrap()
        .contains("already exists"));
    // A duplicate written before the rule existed is kept.
    app.pg
        .execute(
            "INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
             SELECT api_consumer_id, event_type, target_url, secret FROM webhook_subscriptions",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(create("http://127.0.0.1:9/b".into()).await.status(), 201);
    let over = problem(create("http://127.0.0.1:9/c".into()).await, 422).await;
    assert_eq!(over["limit"], 3);
    assert!(over["detail"]
        .as_str()
        .unwrap()
        .contains("IHF_MAX_SUBSCRIPTIONS_PER_CONSUMER"));
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_subscriptions")
            .await,
        3
    );
}

#[tokio::test]
async fn overlong_target_urls_and_consumer_names_are_refused() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let long_url = format!("http://127.0.0.1:9/{}", "a".repeat(60_000));
    let refused = app
        .send_json(
            reqwest::Method::POST,
            "/api/v2/webhooks",
            &json!({ "event_type": "annotation.created", "target_url": long_url }),
        )
        .await;
    problem(refused, 422).await;
    let stored = app
        .pg
        .execute(
            "INSERT INTO api_consumers (name) VALUES ($1)",
            &[&"n".repeat(201)],
        )
        .await;
    assert!(stored.is_err(), "the schema bounds names too");
}

#[tokio::test]
async fn metrics_scrapes_take_no_api_connection_and_count_nothing() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    // Hold the queue table: a scrape that counted it would wait on the lock.
    let holder = app.db.client().await;
    holder
        .batch_execute("BEGIN; LOCK TABLE ihf_outbox, ihf_jobs IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    for _ in 0..4 {
        assert!(metrics(&app).await.contains("ihf_jobs_due"));
    }
    let waiting = app
        .count(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'ihf-webhooks-api' \
               AND wait_event_type = 'Lock'",
        )
        .await;
    assert_eq!(waiting, 0, "an API connection waits on the queue");
    holder.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn tampered_cursors_and_out_of_range_times_are_400_problems_on_every_list() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let admin = app.key_with("admin webhooks:read deliveries:read").await;
    let (sub, _) = app
        .subscribe("annotation.created", "http://127.0.0.1:9/")
        .await;
    // Year -144,000: chrono holds it, PostgreSQL does not.
    let far = URL_SAFE_NO_PAD.encode(format!("{},{}", -(i64::MAX / 2), Uuid::nil()));
    let consumer = app.consumer_id;
    for path in [
        "/api/v2/webhooks".to_string(),
        format!("/api/v2/webhooks/{sub}/deliveries"),
        "/api/v2/admin/consumers".to_string(),
        format!("/api/v2/admin/consumers/{consumer}/keys"),
    ] {
        let response = app.get(&format!("{path}?cursor={far}"), &admin).await;
        problem(response, 400).await;
    }
    let since = app
        .get(
            &format!("/api/v2/webhooks/{sub}/deliveries?since=-5000-01-01T00:00:00Z"),
            &admin,
        )
        .await;
    problem(since, 400).await;
}

#[tokio::test]
async fn bad_percent_encoding_oversized_and_non_json_bodies_are_problems() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    problem(app.get("/api/v2/webhooks/%FF", &app.key).await, 400).await;
    let (sub, _) = app
        .subscribe("annotation.created", "http://127.0.0.1:9/")
        .await;
    let rotate = format!("/api/v2/webhooks/{sub}/secret/rotate");
    let huge = format!("{{\"secret\":\"{}\"}}", "a".repeat(70_000));
    let too_large = app
        .request(reqwest::Method::POST, &rotate, &app.key)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    problem(too_large, 413).await;
    let text = app
        .request(reqwest::Method::POST, &rotate, &app.key)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(text, 415).await;
    let array = app
        .send_json(reqwest::Method::POST, &rotate, &json!([null]))
        .await;
    problem(array, 422).await;
}

#[tokio::test]
async fn a_revoked_keys_refusals_beyond_sixty_a_minute_are_counted_not_logged() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let key = app.key_with("webhooks:read").await;
    keys::revoke(&app.pg, key_id(&app, &key).await)
        .await
        .unwrap();
    for _ in 0..100 {
        assert_eq!(app.get("/api/v2/me", &key).await.status(), 401);
    }
    // The consumer's own key still works: refusals used none of its limits.
    assert_eq!(app.get("/api/v2/me", &app.key).await.status(), 200);
    let rows = app.request_log(app.consumer_id, 61).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows_later = app.request_log(app.consumer_id, 61).await;
    assert_eq!(rows.len(), rows_later.len());
    let refusals = rows_later.iter().filter(|r| r.2 == 401).count();
    assert!(refusals <= 60, "{refusals} refusals logged");
    let text = metrics(&app).await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("ihf_auth_refusals_unlogged_total ")
                && l.split(' ').nth(1).unwrap().parse::<f64>().unwrap() >= 40.0),
        "{text}"
    );
}

#[tokio::test]
async fn with_secret_keys_no_secret_is_stored_in_plaintext_and_deliveries_still_verify() {
    let key = SealingKey::generate().to_base64();
    let app = TestApp::spawn_with(
        |env| {
            env.insert("IHF_SECRET_KEYS", key.clone());
        },
        BOTH,
    )
    .await;
    let receiver = Receiver::start().await;
    let (sub, secret) = app.subscribe("annotation.created", &receiver.url()).await;
    let rotated: Value = app
        .post_json(&format!("/api/v2/webhooks/{sub}/secret/rotate"))
        .await;
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    let table: String = app
        .pg
        .query_one(
            "SELECT string_agg(t::text, ' ') FROM webhook_subscriptions t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    for s in [&secret, &new_secret] {
        let b64 = s.trim_start_matches("whsec_");
        assert!(!table.contains(b64), "a secret is stored in plaintext");
    }
    assert!(table.contains("ihfsealed1:"));
    app.insert("annotations").await;
    let received = receiver.wait_for(1, WAIT).await;
    for s in [&secret, &new_secret] {
        Webhook::new(s)
            .unwrap()
            .verify(&received[0].body, &received[0].headers)
            .unwrap_or_else(|e| panic!("signature does not verify: {e:?}"));
    }
}

#[tokio::test]
async fn plaintext_secrets_are_sealed_on_the_first_start_with_a_key_and_keep_verifying() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let receiver = Receiver::start().await;
    let (_, secret) = app.subscribe("annotation.created", &receiver.url()).await;
    let stored: String = app
        .pg
        .query_one("SELECT secret FROM webhook_subscriptions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, secret, "without a key, stored as given");
    let mut env = crate::harness::test_env(&app.db.url());
    env.insert("IHF_SECRET_KEYS", SealingKey::generate().to_base64());
    let sealed = crate::harness::Service::start(env, BOTH).await;
    let stored: String = app
        .pg
        .query_one("SELECT secret FROM webhook_subscriptions", &[])
        .await
        .unwrap()
        .get(0);
    assert!(stored.starts_with("ihfsealed1:"), "{stored}");
    app.insert("annotations").await;
    let received = receiver.wait_for(1, WAIT).await;
    Webhook::new(&secret)
        .unwrap()
        .verify(&received[0].body, &received[0].headers)
        .unwrap();
    sealed.stop().await;
}

#[tokio::test]
async fn secrets_reseal_moves_every_secret_to_the_first_key_so_the_old_one_can_go() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let receiver = Receiver::start().await;
    let (_, secret) = app.subscribe("annotation.created", &receiver.url()).await;
    let (old, new) = (SealingKey::generate(), SealingKey::generate());
    let reseal = |keys: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
            .args(["secrets", "reseal"])
            .env("DATABASE_URL", app.db.url())
            .env("IHF_SECRET_KEYS", keys)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let first = reseal(old.to_base64());
    assert!(first.status.success(), "{first:?}");
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["sealed"], 1, "{report}");
    let rotated = reseal(format!("{},{}", new.to_base64(), old.to_base64()));
    let report: Value = serde_json::from_slice(&rotated.stdout).unwrap();
    assert_eq!(report["resealed"], 1, "{report}");
    // Only the new key now: the secret still unseals and signs.
    let mut env = crate::harness::test_env(&app.db.url());
    env.insert("IHF_SECRET_KEYS", new.to_base64());
    let service = crate::harness::Service::start(env, BOTH).await;
    app.insert("annotations").await;
    let received = receiver.wait_for(1, WAIT).await;
    Webhook::new(&secret)
        .unwrap()
        .verify(&received[0].body, &received[0].headers)
        .unwrap();
    service.stop().await;
    let without_key = std::process::Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
        .args(["secrets", "reseal"])
        .env("DATABASE_URL", app.db.url())
        .env_remove("IHF_SECRET_KEYS")
        .output()
        .unwrap();
    assert!(!without_key.status.success());
    assert_eq!(
        String::from_utf8_lossy(&without_key.stderr).lines().count(),
        1
    );
}
