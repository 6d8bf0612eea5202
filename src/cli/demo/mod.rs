//! `ihf-webhooks demo`: the one-command tour. Brings up a throwaway
//! database ([`database`]), migrates it with the stand-in framework tables,
//! runs the service in-process and a verifying receiver ([`receiver`]),
//! subscribes to every event type through the real API, inserts one row per
//! source table and prints each signed delivery as it arrives. Everything it
//! created is removed on the way out, also after Ctrl-C.
//!
//! The tour goes to stdout; the service's logs go to stderr (warn by default).

mod database;
mod receiver;

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use http::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::access::consumers::{self, NewConsumer};
use crate::access::keys::{self, Scopes};
use crate::app::{App, Parts};
use crate::cli::loopback;
use crate::config::{self, Config, DatabaseUrl};
use crate::db::{self, migrate};
use crate::delivery::signing::Secret;
use crate::telemetry;

use database::Throwaway;
use receiver::{Delivery, Receiver};

/// (source table, event type, a plausible row for the stand-in table).
const SAMPLES: [(&str, &str, &str); 6] = [
    (
        "interaction_events",
        "interaction_event.created",
        "INSERT INTO interaction_events (event_type, widget_id) VALUES ('clicked', 'export-button') RETURNING id",
    ),
    (
        "annotations",
        "annotation.created",
        "INSERT INTO annotations (author, body) VALUES ('ada', 'the export button is hard to find') RETURNING id",
    ),
    (
        "requirement_candidates",
        "requirement_candidate.created",
        "INSERT INTO requirement_candidates (title, priority) VALUES ('move export to the toolbar', 2) RETURNING id",
    ),
    (
        "decision_records",
        "decision_record.created",
        "INSERT INTO decision_records (decision, rationale, decided_by) VALUES ('accept', 'asked for often', 'grace') RETURNING id",
    ),
    (
        "deployment_records",
        "deployment_record.created",
        "INSERT INTO deployment_records (environment, version, deployed_by) VALUES ('production', '1.4.0', 'ci') RETURNING id",
    ),
    (
        "outcome_signals",
        "outcome_signal.created",
        "INSERT INTO outcome_signals (metric, value) VALUES ('exports_per_day', 42) RETURNING id",
    ),
];

/// How long the six deliveries may take before the demo gives up.
const DEADLINE: Duration = Duration::from_secs(30);
const API_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the tour; with `keep_running`, stays up after it until `cancel`.
pub async fn run(keep_running: bool, cancel: CancellationToken) -> anyhow::Result<()> {
    // The demo needs no configuration: the database comes later, and loopback
    // plain-HTTP targets are what the local receiver is.
    let server = config::database_url_from_env();
    let mut config = Config::from_env_with(|name| match name {
        "DATABASE_URL" => Some("postgres://set-after-the-database-exists".into()),
        "IHF_LISTEN" => Some("127.0.0.1:0".into()),
        "IHF_ALLOW_PRIVATE_TARGETS" | "IHF_ALLOW_HTTP_TARGETS" => Some("true".into()),
        _ => None,
    })?;
    if config.secret_keys.is_empty() {
        // Secrets sealed at rest, as in production, under a key that lives
        // only as long as this process (and the throwaway database).
        config.secret_keys = vec![crate::access::sealing::SealingKey::generate()];
    }
    telemetry::init(config.log_json)?;
    println!("ihf-webhooks demo: database -> service -> signed webhooks -> verifying receiver");
    let database = Throwaway::create(server, &cancel)
        .await
        .map_err(|e| interrupted_or(e, &cancel))?;
    config.database_url = DatabaseUrl::new(database.url());
    let outcome = tour(config, keep_running, &database, &cancel).await;
    database.remove().await;
    outcome.map_err(|e| interrupted_or(e, &cancel))
}

/// After Ctrl-C, whatever failed on the way down is noise: say what happened.
fn interrupted_or(e: anyhow::Error, cancel: &CancellationToken) -> anyhow::Error {
    if cancel.is_cancelled() {
        anyhow::anyhow!("interrupted; everything the demo created has been removed")
    } else {
        e
    }
}

async fn tour(
    config: Config,
    keep_running: bool,
    database: &Throwaway,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    interrupted(cancel)?;
    let report = migrate::run(config.database_url.expose(), true).await?;
    println!(
        "migrate: applied {} migrations and the stand-in framework tables (sql/framework_fixture.sql)",
        report.applied.len()
    );
    let (receiver, deliveries) = Receiver::start()
        .await
        .context("cannot start the receiver")?;
    let app = App::build(
        config.clone(),
        Parts {
            worker: true,
            api: true,
        },
    )
    .await?;
    let api = format!("http://127.0.0.1:{}", app.port());
    // A child token: Ctrl-C stops the service too, and so does the end of the tour.
    let stop_service = cancel.child_token();
    let service = tokio::spawn(app.run_until_stopped(stop_service.clone()));
    println!("service: API, /healthz and /readyz on {api}");
    println!(
        "receiver: http://{}/hooks/… (checks each signature with its subscription's secret)",
        receiver.addr
    );
    let outcome = show(
        &config,
        &api,
        receiver,
        deliveries,
        keep_running,
        database,
        cancel,
    )
    .await;
    stop_service.cancel();
    match service.await {
        Ok(Ok(())) => println!("cleanup: service stopped"),
        Ok(Err(e)) => eprintln!("warning: the service stopped with an error: {e:#}"),
        Err(e) => eprintln!("warning: the service task failed: {e}"),
    }
    outcome
}

/// Subscribes, inserts, and prints deliveries until all six are verified.
async fn show(
    config: &Config,
    api: &str,
    receiver: Receiver,
    mut deliveries: tokio::sync::mpsc::UnboundedReceiver<Delivery>,
    keep_running: bool,
    database: &Throwaway,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let pg = db::connect(config.database_url.expose())
        .await
        .context("cannot connect to the demo database")?;
    let consumer = consumers::create(
        &pg,
        &NewConsumer {
            name: "demo".into(),
            description: Some("created by ihf-webhooks demo".into()),
            rate_limit_per_minute: 600,
            quota_per_day: 10_000,
        },
    )
    .await?;
    let key = keys::issue(&pg, consumer.id, &Scopes::default_scopes(), "static", None).await?;
    println!(
        "consumer: {} with API key ihf_{}… (as `consumer create` and `key create` do; the key is not shown)",
        consumer.id, key.key_prefix
    );

    for (table, event_type, _) in SAMPLES {
        interrupted(cancel)?;
        let target_url = receiver.url(table);
        let (status, body) = loopback::request(
            Method::POST,
            &format!("{api}/api/v2/webhooks"),
            Some(&key.key),
            Some(&json!({ "event_type": event_type, "target_url": target_url })),
            API_TIMEOUT,
        )
        .await
        .context("POST /api/v2/webhooks")?;
        if status != StatusCode::CREATED {
            anyhow::bail!(
                "POST /api/v2/webhooks for {event_type} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let subscription: Value = serde_json::from_slice(&body)?;
        let secret = subscription["secret"]
            .as_str()
            .and_then(|s| Secret::parse(s).ok())
            .context("the new subscription has no valid secret")?;
        receiver.expect(table, secret);
        println!(
            "subscribe: POST /api/v2/webhooks {event_type:<30} -> {target_url} (id {})",
            subscription["id"].as_str().unwrap_or("?")
        );
    }

    for (table, _, sql) in SAMPLES {
        interrupted(cancel)?;
        let id: Uuid = pg
            .query_one(sql, &[])
            .await
            .with_context(|| format!("cannot insert into {table}"))?
            .get(0);
        println!("insert: one row into {table:<22} (id {id})");
    }

    println!("waiting for deliveries (up to {}s)…", DEADLINE.as_secs());
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut verified = HashSet::new();
    while verified.len() < SAMPLES.len() {
        tokio::select! {
            _ = cancel.cancelled() => anyhow::bail!("interrupted"),
            _ = tokio::time::sleep_until(deadline) => anyhow::bail!(
                "only {} of {} deliveries arrived verified within {}s; rerun with RUST_LOG=info to see the service's logs",
                verified.len(), SAMPLES.len(), DEADLINE.as_secs()
            ),
            delivery = deliveries.recv() => {
                let delivery = delivery.context("the receiver stopped")?;
                print_delivery(&delivery);
                if delivery.verified.is_ok() {
                    verified.insert(delivery.webhook_id);
                }
            }
        }
    }
    println!(
        "done: {} of {} deliveries arrived, signature verified",
        verified.len(),
        SAMPLES.len()
    );
    summary(&pg, api).await?;

    if keep_running {
        println!("\nstill running; Ctrl-C stops everything and cleans up. Try:");
        println!(
            "  {} -c \"INSERT INTO annotations (author, body) VALUES ('you', 'hello')\"",
            database.psql()
        );
        println!("  curl {api}/readyz");
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(delivery) = deliveries.recv() => print_delivery(&delivery),
            }
        }
    }
    Ok(())
}

fn print_delivery(delivery: &Delivery) {
    let verdict = match &delivery.verified {
        Ok(()) => "yes".to_string(),
        Err(why) => format!("NO ({why})"),
    };
    println!(
        "delivery: {:<30} webhook-id {}  signature verified: {verdict}",
        delivery.event_type, delivery.webhook_id
    );
    println!("          data {}", delivery.data);
}

/// The attempt log by status, then the delivery counters if `/metrics` exists.
async fn summary(pg: &tokio_postgres::Client, api: &str) -> anyhow::Result<()> {
    // The service records outcomes in batches just after the receiver
    // answered; give it a moment to write the last ones.
    // The log is append-only: a 'pending' row says a delivery had to wait
    // for a free slot when it was scheduled, not that it still waits; what
    // still waits is in ihf_jobs. A delivery attempted at once has none.
    let by_status = |rows: &[tokio_postgres::Row]| {
        rows.iter()
            .map(|r| {
                let (status, n) = (r.get::<_, String>(0), r.get::<_, i64>(1));
                match status.as_str() {
                    "pending" => {
                        format!("{n} 'pending' (one for each delivery that had to wait)")
                    }
                    "delivered" | "failed" => format!("{n} '{status}' (one per attempt)"),
                    _ => format!("{n} '{status}'"),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut rows = Vec::new();
    for _ in 0..50 {
        rows = pg
            .query(
                "SELECT status, count(*) FROM webhook_deliveries GROUP BY status ORDER BY status",
                &[],
            )
            .await?;
        let delivered = rows
            .iter()
            .find(|r| r.get::<_, String>(0) == "delivered")
            .map(|r| r.get::<_, i64>(1))
            .unwrap_or(0);
        if delivered >= SAMPLES.len() as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let queued: i64 = pg
        .query_one("SELECT count(*) FROM ihf_jobs", &[])
        .await?
        .get(0);
    let total: i64 = rows.iter().map(|r| r.get::<_, i64>(1)).sum();
    println!(
        "summary: the webhook_deliveries log has {total} rows: {}; deliveries still queued: {queued}",
        by_status(&rows)
    );
    if let Ok((StatusCode::OK, body)) = loopback::request(
        Method::GET,
        &format!("{api}/metrics"),
        None,
        None,
        API_TIMEOUT,
    )
    .await
    {
        let text = String::from_utf8_lossy(&body);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains("deliver") && !l.contains("_bucket"))
            .take(12)
            .collect();
        if !lines.is_empty() {
            println!("summary: from {api}/metrics:");
            for line in lines {
                println!("  {line}");
            }
        }
    }
    Ok(())
}

fn interrupted(cancel: &CancellationToken) -> anyhow::Result<()> {
    if cancel.is_cancelled() {
        anyhow::bail!("interrupted");
    }
    Ok(())
}
