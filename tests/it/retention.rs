//! Storage: both logs partitioned by time, partition upkeep and retention
//! (`ihf-webhooks maintain`, and `serve` periodically), and the upgrade that
//! carries an unpartitioned log's rows over.

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use crate::cli::stdout_json;
use crate::harness::{create_consumer_with_key, eventually, Receiver, TestApp, TestDb, BOTH};

/// `ihf-webhooks maintain` with these settings; its JSON report.
fn maintain(db_url: &str, settings: &[(&str, &str)]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
        .arg("maintain")
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .envs(settings.iter().copied())
        .output()
        .expect("the binary runs");
    stdout_json(&out)
}

fn names(report: &Value, field: &str) -> Vec<String> {
    report[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// A consumer and one subscription, made directly.
async fn subscription(pg: &tokio_postgres::Client) -> Uuid {
    let (consumer, _) = create_consumer_with_key(pg, "retention").await;
    pg.query_one(
        "INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
         VALUES ($1, 'annotation.created', 'https://example.com/hook', 'whsec_x') RETURNING id",
        &[&consumer],
    )
    .await
    .unwrap()
    .get(0)
}

/// A log row `age` ago (a SQL interval); returns its id.
async fn log_row(pg: &tokio_postgres::Client, subscription: Uuid, age: &str) -> Uuid {
    pg.query_one(
        "INSERT INTO webhook_deliveries (webhook_subscription_id, payload, status, attempted_at) \
         VALUES ($1, jsonb_build_object('id', gen_random_uuid(), 'type', 'annotation.created'), \
                 'delivered', now() - $2::text::interval) RETURNING id",
        &[&subscription, &age],
    )
    .await
    .unwrap()
    .get(0)
}

async fn exists(pg: &tokio_postgres::Client, row: Uuid) -> bool {
    pg.query_one(
        "SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1)",
        &[&row],
    )
    .await
    .unwrap()
    .get(0)
}

async fn partitions(pg: &tokio_postgres::Client, log: &str) -> Vec<String> {
    pg.query(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
          WHERE i.inhparent = $1::text::regclass ORDER BY 1",
        &[&log],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test]
async fn a_database_made_by_the_previous_migrations_keeps_every_row_through_the_upgrade() {
    let db = TestDb::empty().await;
    ihf_webhooks::db::migrate::run_until(&db.url(), true, 13)
        .await
        .unwrap();
    let pg = db.client().await;
    let sub = subscription(&pg).await;
    pg.batch_execute(&format!(
        "INSERT INTO webhook_deliveries (webhook_subscription_id, payload, status, attempted_at) \
         SELECT '{sub}', jsonb_build_object('id', gen_random_uuid(), 'type', 'annotation.created', \
                                             'data', jsonb_build_object('n', g)), \
                CASE WHEN g % 3 = 0 THEN 'pending' ELSE 'delivered' END, \
                now() - g * interval '7 hours' \
           FROM generate_series(1, 600) g; \
         INSERT INTO api_request_log (api_consumer_id, endpoint, method, status_code, latency_ms, requested_at) \
         SELECT api_consumer_id, '/api/v2/webhooks', 'GET', 200, g % 50, now() - g * interval '3 hours' \
           FROM webhook_subscriptions, generate_series(1, 300) g;"
    ))
    .await
    .unwrap();
    let snapshot = |table: &'static str, time: &'static str| {
        let pg = &pg;
        async move {
            pg.query(
                &format!("SELECT id, {time}, md5(t::text) FROM {table} t ORDER BY id"),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get::<_, Uuid>(0),
                    r.get::<_, chrono::DateTime<chrono::Utc>>(1),
                    r.get::<_, String>(2),
                )
            })
            .collect::<Vec<_>>()
        }
    };
    let deliveries = snapshot("webhook_deliveries", "attempted_at").await;
    let requests = snapshot("api_request_log", "requested_at").await;
    assert_eq!((deliveries.len(), requests.len()), (600, 300));

    let report = ihf_webhooks::db::migrate::run(&db.url(), true)
        .await
        .unwrap();
    assert!(
        report.applied.iter().any(|m| m == "V14__partitioned_logs"),
        "{report:?}"
    );
    assert_eq!(
        snapshot("webhook_deliveries", "attempted_at").await,
        deliveries
    );
    assert_eq!(snapshot("api_request_log", "requested_at").await, requests);
    for log in ["webhook_deliveries", "api_request_log"] {
        let kind: String = pg
            .query_one(
                "SELECT relkind::text FROM pg_class WHERE oid = $1::text::regclass",
                &[&log],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(kind, "p", "{log} is partitioned");
        assert_eq!(partitions(&pg, log).await, [format!("{log}_history")]);
    }
    // The carried-over rows are still append-only.
    let row = deliveries[0].0;
    for change in [
        "UPDATE webhook_deliveries SET status = 'failed' WHERE id = $1",
        "DELETE FROM webhook_deliveries WHERE id = $1",
    ] {
        let e = pg.execute(change, &[&row]).await.unwrap_err();
        assert!(format!("{e:?}").contains("append-only"), "{change}: {e:?}");
    }
    // Upkeep then makes the regular partitions; new rows go on landing.
    let made = maintain(&db.url(), &[("IHF_DELIVERY_RETENTION", "forever")]);
    assert!(names(&made, "dropped").is_empty(), "{made}");
    let new = log_row(&pg, sub, "0 seconds").await;
    assert!(exists(&pg, new).await);
    assert_eq!(
        pg.query_one("SELECT count(*) FROM webhook_deliveries", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        601
    );
}

#[tokio::test]
async fn maintain_drops_a_row_past_retention_and_keeps_todays() {
    let db = TestDb::migrated().await;
    let first = maintain(&db.url(), &[]);
    assert!(
        names(&first, "created").contains(&"webhook_deliveries_history".to_string()),
        "a new log's history is made to end at the retention horizon: {first}"
    );
    let pg = db.client().await;
    let sub = subscription(&pg).await;
    // Accepted: it goes to the history partition.
    let old = log_row(&pg, sub, "100 days").await;
    let today = log_row(&pg, sub, "1 minute").await;

    let report = maintain(&db.url(), &[("IHF_DELIVERY_RETENTION", "90d")]);
    assert_eq!(
        names(&report, "dropped"),
        ["webhook_deliveries_history"],
        "{report}"
    );
    assert!(!exists(&pg, old).await, "past retention: gone");
    assert!(exists(&pg, today).await, "today's row stays");
    // Nothing more to do at once.
    let again = maintain(&db.url(), &[("IHF_DELIVERY_RETENTION", "90d")]);
    assert_eq!(again, serde_json::json!({"created": [], "dropped": []}));
}

#[tokio::test]
async fn forever_drops_nothing() {
    let db = TestDb::migrated().await;
    let forever = [
        ("IHF_DELIVERY_RETENTION", "forever"),
        ("IHF_REQUEST_LOG_RETENTION", "forever"),
    ];
    maintain(&db.url(), &forever);
    let pg = db.client().await;
    let sub = subscription(&pg).await;
    let rows = [
        log_row(&pg, sub, "1000 days").await,
        log_row(&pg, sub, "100 days").await,
        log_row(&pg, sub, "1 minute").await,
    ];
    let report = maintain(&db.url(), &forever);
    assert!(names(&report, "dropped").is_empty(), "{report}");
    for row in rows {
        assert!(exists(&pg, row).await);
    }
}

#[tokio::test]
async fn two_replicas_running_upkeep_at_once_neither_fail_nor_double_create() {
    let db = TestDb::migrated().await;
    let url = db.url();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || maintain(&url, &[("IHF_LOG_PARTITION_INTERVAL", "1m")]))
        })
        .collect();
    let reports: Vec<Value> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    let mut created = Vec::new();
    for report in &reports {
        created.extend(names(report, "created"));
    }
    let unique: HashSet<&String> = created.iter().collect();
    assert_eq!(unique.len(), created.len(), "made twice: {reports:?}");
    let pg = db.client().await;
    let mut all = partitions(&pg, "webhook_deliveries").await;
    all.extend(partitions(&pg, "api_request_log").await);
    let all: HashSet<&String> = all.iter().collect();
    assert_eq!(unique, all, "every partition made by exactly one of them");
    assert!(all.len() >= 4, "a history and more per log: {all:?}");
}

#[tokio::test]
async fn every_partition_is_append_only() {
    let app = TestApp::spawn_setting(&[("IHF_LOG_PARTITION_INTERVAL", "1m")], BOTH).await;
    let sub = subscription(&app.pg).await;
    let recent = log_row(&app.pg, sub, "1 second").await;
    let old = log_row(&app.pg, sub, "1 hour").await;
    let parts = partitions(&app.pg, "webhook_deliveries").await;
    assert!(parts.len() > 10, "{parts:?}");
    for row in [recent, old] {
        for change in [
            "UPDATE webhook_deliveries SET status = 'failed' WHERE id = $1",
            "DELETE FROM webhook_deliveries WHERE id = $1",
        ] {
            let e = app.pg.execute(change, &[&row]).await.unwrap_err();
            assert!(format!("{e:?}").contains("append-only"), "{change}: {e:?}");
        }
    }
    for part in &parts {
        for change in [
            format!("UPDATE {part} SET status = 'failed'"),
            format!("DELETE FROM {part}"),
            format!("TRUNCATE {part}"),
        ] {
            let outcome = app.pg.execute(change.as_str(), &[]).await;
            match outcome {
                // An empty partition has no row to refuse; TRUNCATE is refused regardless.
                Ok(0) if !change.starts_with("TRUNCATE") => {}
                Ok(n) => panic!("{change} changed {n} rows"),
                Err(e) => assert!(format!("{e:?}").contains("append-only"), "{change}: {e:?}"),
            }
        }
    }
    assert!(exists(&app.pg, recent).await && exists(&app.pg, old).await);
}

#[tokio::test]
async fn listing_pages_across_partitions() {
    let app = TestApp::spawn_with(|_| {}, crate::harness::API_ONLY).await;
    let (sub, _) = app
        .subscribe("annotation.created", "http://127.0.0.1:9/hook")
        .await;
    let mut ids = Vec::new();
    // The first goes to the history partition (which ends at the retention
    // horizon on a new log; the next upkeep pass would drop it), the others
    // to the partitions after it.
    for age in ["100 days", "2 days", "30 minutes", "2 minutes", "1 second"] {
        ids.push(log_row(&app.pg, sub, age).await);
    }
    let homes: i64 = app
        .count(&format!(
            "SELECT count(DISTINCT tableoid) FROM webhook_deliveries WHERE webhook_subscription_id = '{sub}'"
        ))
        .await;
    assert!(homes >= 2, "the rows span partitions ({homes})");
    let seen: Vec<Uuid> = app
        .every_page(&format!("/api/v2/webhooks/{sub}/deliveries"), 2)
        .await
        .iter()
        .map(|row| row["id"].as_str().unwrap().parse().unwrap())
        .collect();
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");
}

/// The soak in small: one-minute partitions, two minutes of retention, five
/// minutes of deliveries and API calls. Upkeep runs every 15 s, so a row
/// lives at most retention + one partition + one period: about three minutes.
#[tokio::test]
async fn a_stream_over_five_minutes_keeps_only_the_last_few_minutes() {
    let app = TestApp::spawn_setting(
        &[
            ("IHF_LOG_PARTITION_INTERVAL", "1m"),
            ("IHF_DELIVERY_RETENTION", "2m"),
            ("IHF_REQUEST_LOG_RETENTION", "2m"),
        ],
        BOTH,
    )
    .await;
    let receiver = Receiver::start().await;
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    let started = std::time::Instant::now();
    let mut sent = 0;
    let mut oldest_ages = Vec::new();
    while started.elapsed() < Duration::from_secs(300) {
        app.insert("annotations").await;
        let page = app
            .get(
                &format!("/api/v2/webhooks/{sub}/deliveries?limit=1"),
                &app.key,
            )
            .await;
        assert_eq!(page.status(), 200);
        sent += 1;
        if sent % 30 == 0 {
            let age: f64 = app
                .pg
                .query_one(
                    "SELECT coalesce(extract(epoch FROM now() - min(attempted_at)), 0)::float8 \
                       FROM webhook_deliveries",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            oldest_ages.push(age);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    receiver.wait_for(sent, Duration::from_secs(30)).await;
    let oldest = |table: &str, column: &str| {
        let sql = format!("SELECT extract(epoch FROM now() - min({column}))::float8 FROM {table}");
        let pg = &app.pg;
        async move { pg.query_one(&sql, &[]).await.unwrap().get::<_, f64>(0) }
    };
    let deliveries = oldest("webhook_deliveries", "attempted_at").await;
    let requests = oldest("api_request_log", "requested_at").await;
    assert!(
        deliveries < 210.0,
        "the oldest delivery row is {deliveries:.0} s old (ages seen: {oldest_ages:?})"
    );
    assert!(
        requests < 210.0,
        "the oldest request row is {requests:.0} s old"
    );
    // And the log did hold more than that while it ran: retention removed it.
    assert!(oldest_ages.iter().any(|a| *a > 120.0), "{oldest_ages:?}");
    let parts = partitions(&app.pg, "webhook_deliveries").await.len();
    assert!(parts <= 1 + 4 + 11, "{parts} partitions");
    // Nothing older was left in the history partition either.
    let _ = eventually(Duration::from_secs(1), "the history is empty", || async {
        (app.count("SELECT count(*) FROM webhook_deliveries_history")
            .await
            == 0)
            .then_some(())
    })
    .await;
}
