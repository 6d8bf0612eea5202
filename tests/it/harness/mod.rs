//! The test harness: a fresh database per test, the service started in-process
//! on port 0, a consumer with a key, and helpers per endpoint and table.
//! `TEST_LOG=1` shows the service's logs.

pub mod browser;
pub mod db;
pub mod receiver;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use ihf_webhooks::access::consumers::{self, NewConsumer};
use ihf_webhooks::access::keys::{self, Scopes};
use ihf_webhooks::app::{App, Parts};
use ihf_webhooks::config::Config;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use db::TestDb;
pub use receiver::{Receiver, Reply};

/// A published Standard Webhooks test vector: a message and its signature.
pub struct Vector {
    pub secret: &'static str,
    pub id: &'static str,
    pub timestamp: i64,
    pub body: &'static str,
    pub signature: &'static str,
}

/// The test vectors of the Standard Webhooks specification
/// (`spec/standard-webhooks.md`) and its reference libraries.
pub const VECTORS: [Vector; 2] = [
    Vector {
        secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        timestamp: 1649367553,
        body: r#"{"email":"test@example.com","username":"test_user"}"#,
        signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    },
    Vector {
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp: 1614265330,
        body: r#"{"test": 2432232314}"#,
        signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    },
];

/// Long enough for a loaded CI machine, short enough to fail fast.
pub const WAIT: Duration = Duration::from_secs(20);

/// Environment for a test service: short schedules and timeouts, loopback allowed.
pub fn test_env(db_url: &str) -> HashMap<&'static str, String> {
    HashMap::from([
        ("DATABASE_URL", db_url.to_string()),
        ("IHF_LISTEN", "127.0.0.1:0".into()),
        ("IHF_ALLOW_PRIVATE_TARGETS", "true".into()),
        ("IHF_ALLOW_HTTP_TARGETS", "true".into()),
        ("IHF_RETRY_SCHEDULE", "100ms,200ms".into()),
        ("IHF_DELIVERY_TIMEOUT", "2s".into()),
        ("IHF_SHUTDOWN_TIMEOUT", "3s".into()),
        ("IHF_LEASE_MARGIN", "1s".into()),
        ("IHF_DB_POOL_SIZE", "3".into()),
        ("IHF_WORKER_CONCURRENCY", "16".into()),
        ("IHF_LIMITS_SYNC_INTERVAL", "100ms".into()),
    ])
}

fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        ihf_webhooks::telemetry::init(false).expect("RUST_LOG is a valid filter");
    }
}

/// One running instance of the service.
pub struct Service {
    pub port: u16,
    cancel: CancellationToken,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Service {
    pub async fn start(env: HashMap<&'static str, String>, parts: Parts) -> Service {
        init_logs();
        let config =
            Config::from_lookup(|name| env.get(name).cloned()).expect("test config is valid");
        let app = App::build(config, parts).await.expect("app builds");
        let port = app.port();
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(app.run_until_stopped(cancel.clone()));
        Service {
            port,
            cancel,
            handle: Some(handle),
        }
    }

    /// Graceful stop, as on SIGTERM.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub struct TestApp {
    pub db: TestDb,
    pub pg: tokio_postgres::Client,
    pub service: Service,
    pub http: reqwest::Client,
    pub consumer_id: Uuid,
    /// A static key with the default (non-admin) scopes.
    pub key: String,
}

pub const BOTH: Parts = Parts {
    worker: true,
    api: true,
};
pub const API_ONLY: Parts = Parts {
    worker: false,
    api: true,
};

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}, BOTH).await
    }

    /// Spawns with these variables set on top of the test environment.
    pub async fn spawn_setting(settings: &[(&'static str, &str)], parts: Parts) -> TestApp {
        Self::spawn_with(
            |env| {
                env.extend(
                    settings
                        .iter()
                        .map(|&(name, value)| (name, value.to_string())),
                )
            },
            parts,
        )
        .await
    }

    /// Spawns with changes to the test environment.
    pub async fn spawn_with(
        change_env: impl FnOnce(&mut HashMap<&'static str, String>),
        parts: Parts,
    ) -> TestApp {
        let db = TestDb::migrated().await;
        let mut env = test_env(&db.url());
        change_env(&mut env);
        let service = Service::start(env, parts).await;
        let pg = db.client().await;
        let (consumer_id, key) = create_consumer_with_key(&pg, "test consumer").await;
        TestApp {
            db,
            pg,
            service,
            http: reqwest::Client::new(),
            consumer_id,
            key,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.service.port)
    }

    /// Creates a subscription through the API; returns (id, secret).
    pub async fn subscribe(&self, event_type: &str, target_url: &str) -> (Uuid, String) {
        let response = self
            .send_json(
                reqwest::Method::POST,
                "/api/v2/webhooks",
                &json!({ "event_type": event_type, "target_url": target_url }),
            )
            .await;
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let body: Value = response.json().await.unwrap();
        (
            body["id"].as_str().unwrap().parse().unwrap(),
            body["secret"].as_str().unwrap().to_string(),
        )
    }

    /// Inserts one plausible row into a framework source table; returns its id.
    pub async fn insert(&self, table: &str) -> Uuid {
        let sql = match table {
            "interaction_events" => "INSERT INTO interaction_events (event_type, widget_id) VALUES ('clicked', 'w1') RETURNING id",
            "annotations" => "INSERT INTO annotations (author, body) VALUES ('ada', 'looks right') RETURNING id",
            "requirement_candidates" => "INSERT INTO requirement_candidates (title, priority) VALUES ('export CSV', 2) RETURNING id",
            "decision_records" => "INSERT INTO decision_records (decision, rationale) VALUES ('accept', 'asked often') RETURNING id",
            "deployment_records" => "INSERT INTO deployment_records (environment, version) VALUES ('prod', '1.2.3') RETURNING id",
            "outcome_signals" => "INSERT INTO outcome_signals (metric, value) VALUES ('adoption', 0.42) RETURNING id",
            other => panic!("no sample row for {other}"),
        };
        self.pg.query_one(sql, &[]).await.unwrap().get(0)
    }

    /// The attempt log of a subscription, oldest first: (status, code, error_message).
    pub async fn log(&self, subscription: Uuid) -> Vec<(String, Option<i32>, Option<String>)> {
        self.pg
            .query(
                "SELECT status, response_code, error_message FROM webhook_deliveries \
                 WHERE webhook_subscription_id = $1 ORDER BY attempted_at, status DESC",
                &[&subscription],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    /// Every row of a paged listing (`data`, `next_cursor`), `limit` a page,
    /// with the test consumer's key.
    pub async fn every_page(&self, path: &str, limit: u32) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(c) => format!("limit={limit}&cursor={c}"),
                None => format!("limit={limit}"),
            };
            let page = self.get_json(&format!("{path}?{query}")).await;
            rows.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return rows,
            }
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.pg.query_one(sql, &[]).await.unwrap().get(0)
    }

    /// A new static key of the test consumer with exactly these scopes.
    pub async fn key_with(&self, scopes: &str) -> String {
        let scopes = Scopes::parse(scopes).unwrap();
        keys::issue(&self.pg, self.consumer_id, &scopes, "static", None)
            .await
            .unwrap()
            .key
    }

    /// A request with a bearer key.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(key)
    }

    /// A request with a bearer key and no body; the response as it came.
    pub async fn send(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::Response {
        self.request(method, path, key).send().await.unwrap()
    }

    /// GET with a bearer key; the response as it came.
    pub async fn get(&self, path: &str, key: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, key).await
    }

    /// GET with a bearer key; the JSON response.
    pub async fn get_json_as(&self, path: &str, key: &str) -> Value {
        json_response(self.request(reqwest::Method::GET, path, key)).await
    }

    /// GET with this app's key; the JSON response.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get_json_as(path, &self.key).await
    }

    /// A request with a JSON body and a bearer key; the response as it came.
    pub async fn send_json_as(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.request(method, path, key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A request with a JSON body and this app's key; the response as it came.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.send_json_as(method, path, &self.key, body).await
    }

    /// POST without a body, with this app's key; the JSON response.
    pub async fn post_json(&self, path: &str) -> Value {
        json_response(self.request(reqwest::Method::POST, path, &self.key)).await
    }

    /// The request log of a consumer, oldest first: (endpoint, method, status),
    /// once it holds at least `n` rows (it is written in batches).
    pub async fn request_log(&self, consumer: Uuid, n: usize) -> Vec<(String, String, i32)> {
        eventually(WAIT, &format!("{n} request-log rows"), || async {
            let rows = self
                .pg
                .query(
                    "SELECT endpoint, method, status_code FROM api_request_log \
                     WHERE api_consumer_id = $1 ORDER BY requested_at, status_code",
                    &[&consumer],
                )
                .await
                .unwrap();
            (rows.len() >= n).then(|| {
                rows.iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2)))
                    .collect()
            })
        })
        .await
    }
}

/// The text field `field` of every item of the JSON array `items`.
pub fn texts<'a>(items: &'a Value, field: &str) -> Vec<&'a str> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

/// Sends `request` (to any replica) and reads its response as JSON.
pub async fn json_response(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// The body of a problem+json response, after checking its shape and status.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "{:?}", response.headers());
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "errors are RFC 9457 problems"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}

/// Checks a 403 for a missing scope: the RFC 6750 challenge naming `scope`,
/// and a problem+json body.
pub async fn insufficient_scope(response: reqwest::Response, scope: &str) {
    assert_eq!(
        response.headers()["www-authenticate"],
        format!("Bearer realm=\"ihf\", error=\"insufficient_scope\", scope=\"{scope}\"").as_str(),
        "{}",
        response.url()
    );
    problem(response, 403).await;
}

/// A consumer and a static key with the default scopes.
pub async fn create_consumer_with_key(pg: &tokio_postgres::Client, name: &str) -> (Uuid, String) {
    create_consumer_with_limits(pg, name, 1000, 100_000).await
}

/// A consumer with these limits and a static key with the default scopes.
pub async fn create_consumer_with_limits(
    pg: &tokio_postgres::Client,
    name: &str,
    rate_limit_per_minute: i32,
    quota_per_day: i32,
) -> (Uuid, String) {
    let consumer = consumers::create(
        pg,
        &NewConsumer {
            name: name.into(),
            description: None,
            rate_limit_per_minute,
            quota_per_day,
        },
    )
    .await
    .unwrap();
    let key = keys::issue(pg, consumer.id, &Scopes::default_scopes(), "static", None)
        .await
        .unwrap();
    (consumer.id, key.key)
}

/// Polls `check` until it returns Some, or panics after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {within:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether this is a CI run (`CI` set to anything but empty, `0` or `false`;
/// `.ci/run` sets `CI=true`). There, a missing tool a test drives is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A test cannot run here because `missing` is not installed: fails in CI,
/// otherwise says `SKIPPED` on the terminal. Written to stderr directly, not
/// with `eprintln!`, which the test runner captures and shows only on failure.
pub fn skip_or_fail(test: &str, missing: &str, install: &str) {
    assert!(
        !in_ci(),
        "{test}: {missing} is not installed; CI must install it: {install}"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {missing} is not installed (install: {install}; with CI set this fails)"
    );
}
