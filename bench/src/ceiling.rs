//! The machine's own ceiling for deliveries, measured in the same run as the
//! scenarios it judges:
//!
//! - HTTP only: signed POSTs of an event-sized body to the loopback receiver
//!   (which verifies each), 64 at a time, no database;
//! - database only: the fixed pgbench script `bench/ceiling/delivery.pgbench`
//!   (an outbox row, a job row and two ~500-byte log rows per delivery, 100
//!   deliveries per transaction) on the tables of `bench/ceiling/setup.sql`.
//!
//! A delivery needs both, on the same cores, so the combined ceiling is
//! 1 / (1/http + 1/db). Every throughput is also reported as a fraction of it,
//! which stays comparable across noisy runs and machines where deliveries/s
//! do not.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ihf_webhooks::delivery::signing;

use crate::receiver::Receiver;
use crate::service::connect;
use crate::Row;

/// Requests in flight for the HTTP ceiling.
const HTTP_CONCURRENCY: usize = 64;
/// pgbench clients for the database ceiling.
const DB_CLIENTS: u32 = 4;
/// Deliveries per pgbench transaction (fixed in the script).
const DB_BATCH: f64 = 100.0;

pub struct Ceiling {
    /// Deliveries/s each part alone allows.
    pub http: f64,
    pub db: f64,
}

impl Ceiling {
    pub fn combined(&self) -> f64 {
        1.0 / (1.0 / self.http + 1.0 / self.db)
    }

    pub fn row(&self) -> Row {
        Row {
            scenario: "ceiling: HTTP only (signed POSTs, 64 at a time) and database only (bench/ceiling/delivery.pgbench)".into(),
            result: format!(
                "HTTP {:.0}/s, database {:.0}/s, combined 1/(1/http+1/db) {:.0}/s",
                self.http,
                self.db,
                self.combined()
            ),
            values: serde_json::json!({ "http_per_s": self.http, "db_per_s": self.db, "combined_per_s": self.combined() }),
        }
    }
}

/// Adds the fraction of the combined ceiling to a row carrying `deliveries_per_s`.
pub fn relate(mut row: Row, ceiling: &Option<Ceiling>) -> Row {
    let (Some(ceiling), Some(rate)) = (ceiling, row.values["deliveries_per_s"].as_f64()) else {
        return row;
    };
    let fraction = rate / ceiling.combined();
    row.result = format!("{:.0} % of the ceiling; {}", fraction * 100.0, row.result);
    row.values["fraction_of_ceiling"] = serde_json::json!(fraction);
    row
}

pub async fn measure(server: &str, seconds: u64) -> anyhow::Result<Ceiling> {
    let length = Duration::from_secs(seconds);
    let http = http_only(length).await?;
    eprintln!("   HTTP only: {http:.0}/s");
    let db = database_only(server, seconds).await?;
    eprintln!("   database only: {db:.0}/s");
    Ok(Ceiling { http, db })
}

/// An event envelope about the size the throughput scenarios send.
fn envelope() -> String {
    let data = serde_json::json!({
        "id": "00000000-0000-0000-0000-000000000001",
        "author": "bench",
        "body": "the quick brown fox jumps over the lazy dog ".repeat(11),
    });
    serde_json::json!({
        "id": uuid::Uuid::nil(),
        "type": "annotation.created",
        "timestamp": "2026-12-02T00:00:00.000000Z",
        "data": data,
    })
    .to_string()
}

async fn http_only(length: Duration) -> anyhow::Result<f64> {
    let secret = signing::generate_secret();
    let receiver = Receiver::start(secret.clone()).await?;
    let url: hyper::Uri = receiver.url().parse()?;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let body = Bytes::from(envelope());
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..HTTP_CONCURRENCY {
        let (client, url, body, secret, sent) = (
            client.clone(),
            url.clone(),
            body.clone(),
            secret.clone(),
            sent.clone(),
        );
        tasks.spawn(async move {
            while started.elapsed() < length {
                // Signed per request, as the service does.
                let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
                let timestamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_secs() as i64;
                let signature = secret.sign(&id, timestamp, &body);
                let req = hyper::Request::post(url.clone())
                    .header("content-type", "application/json")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(Full::new(body.clone()))?;
                let res = client.request(req).await?;
                anyhow::ensure!(res.status().is_success(), "receiver said {}", res.status());
                res.into_body().collect().await?;
                sent.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let rate = sent.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(
        receiver.received.rejected.load(Ordering::Relaxed) == 0,
        "the receiver rejected signatures"
    );
    Ok(rate)
}

async fn database_only(server: &str, seconds: u64) -> anyhow::Result<f64> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/ceiling");
    let name = format!("ihf_bench_ceiling_{}", uuid::Uuid::new_v4().simple());
    connect(&format!("{server}/postgres"))
        .await?
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    let url = format!("{server}/{name}");
    let result = async {
        connect(&url)
            .await?
            .batch_execute(&std::fs::read_to_string(format!("{dir}/setup.sql"))?)
            .await?;
        let out = std::process::Command::new("pgbench")
            .args(["-n", "-c", &DB_CLIENTS.to_string(), "-j", "2", "-T"])
            .arg(seconds.to_string())
            .arg("-f")
            .arg(format!("{dir}/delivery.pgbench"))
            .arg(&url)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        anyhow::ensure!(
            out.status.success(),
            "pgbench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tps: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no tps in pgbench output: {text}"))?;
        anyhow::Ok(tps * DB_BATCH)
    }
    .await;
    connect(&format!("{server}/postgres"))
        .await?
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    result
}
