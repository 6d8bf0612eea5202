//! Bytes the service keeps in the framework's database per delivered event.
//!
//! A fresh database, one `annotation.created` subscription to a receiver that
//! answers 2xx at once, and `--storage-rows` annotation rows of ~300 bytes
//! each: `steady` at `--storage-rate` rows/s in statements of
//! `--storage-batch` rows, paced by the wall clock; `burst` in one statement.
//! After every event is delivered and recorded, the service's tables are
//! vacuumed (plain VACUUM, as autovacuum would) and their growth since the
//! baseline (taken the same way once the service was up, before the inserts)
//! is divided by the events delivered.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ihf_webhooks::delivery::signing;

use crate::footprint::{self, human, Footprint};
use crate::receiver::Receiver;
use crate::service::{connect, BenchDb, Service};
use crate::{subscribe_fanout, Args, Row};

/// The steady case's target (PERFORMANCE.md, "Storage").
const TARGET_BYTES_PER_EVENT: f64 = 900.0;

/// Annotation rows `$1..=$2` of about 300 bytes each as stored (the tuple
/// with its header; `pg_column_size` of the row), each body different.
pub const ANNOTATION_ROWS: &str = "INSERT INTO annotations (author, body) \
     SELECT 'bench', left(repeat(md5(g::text) || ' the quick brown fox jumps over the lazy dog ', 4), 226) \
       FROM generate_series($1::int, $2::int) g";

#[derive(Debug, Clone, Copy)]
pub enum Load {
    /// `rate` rows/s in statements of `batch` rows.
    Steady { rate: u64, batch: u64 },
    /// Every row in one statement.
    Burst,
}

/// Inserts `total` annotation rows at `rate` rows/s in statements of `batch`
/// rows, paced by the wall clock: statement `i` starts at `i × batch / rate`
/// seconds, so a late one is followed at once by those it held up. Returns
/// the rows/s achieved.
pub async fn insert_paced(db_url: &str, total: u64, rate: u64, batch: u64) -> anyhow::Result<f64> {
    let client = connect(db_url).await?;
    let insert = client.prepare(ANNOTATION_ROWS).await?;
    let period = Duration::from_secs_f64(batch as f64 / rate as f64);
    let started = tokio::time::Instant::now();
    let mut done = 0u64;
    let mut statements = 0u32;
    while done < total {
        tokio::time::sleep_until(started + period * statements).await;
        let n = batch.min(total - done);
        let (first, last) = (done as i32 + 1, (done + n) as i32);
        client.execute(&insert, &[&first, &last]).await?;
        done += n;
        statements += 1;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Waits until the delivery log holds `n` `delivered` rows: the receiver
/// sees a delivery before the service records it.
async fn wait_recorded(client: &tokio_postgres::Client, n: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let recorded: i64 = client
            .query_one(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'",
                &[],
            )
            .await?
            .get(0);
        if recorded as u64 >= n {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {recorded} of {n} deliveries recorded as delivered within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run(args: &Args, load: Load) -> anyhow::Result<Row> {
    let rows = args.storage_rows;
    anyhow::ensure!(
        rows > 0 && args.storage_rate > 0 && args.storage_batch > 0,
        "--storage-rows, --storage-rate and --storage-batch must be above 0"
    );
    let db = BenchDb::create(&args.server).await?;
    let secret = signing::generate_secret();
    let receiver = Receiver::start(secret.clone()).await?;
    subscribe_fanout(&db, &receiver.base(), &secret, 1).await?;
    let service = Service::start(&db.url(), &args.service_env()).await?;
    let client = connect(&db.url()).await?;
    // Whatever the service sets up once started belongs to the baseline.
    tokio::time::sleep(Duration::from_secs(1)).await;
    footprint::vacuum(&client).await?;
    let before = Footprint::measure(&client).await?;
    let source_before: i64 = client
        .query_one("SELECT pg_total_relation_size('annotations')", &[])
        .await?
        .get(0);

    let started = Instant::now();
    let (label, achieved) = match load {
        Load::Steady { rate, batch } => {
            let achieved = insert_paced(&db.url(), rows, rate, batch).await?;
            (
                format!("steady: {rows} annotation rows at {rate}/s ({batch} per statement)"),
                achieved,
            )
        }
        Load::Burst => {
            client
                .execute(ANNOTATION_ROWS, &[&1i32, &(rows as i32)])
                .await?;
            (
                format!("burst: {rows} annotation rows in one statement"),
                rows as f64 / started.elapsed().as_secs_f64(),
            )
        }
    };
    receiver.wait_for(rows, Duration::from_secs(600)).await?;
    wait_recorded(&client, rows).await?;
    let delivered_after = started.elapsed();
    footprint::vacuum(&client).await?;
    let after = Footprint::measure(&client).await?;
    let grown = after.minus(&before);
    let source = client
        .query_one(
            "SELECT avg(pg_column_size(a.*))::float8, count(*), pg_total_relation_size('annotations') \
               FROM annotations a WHERE author = 'bench'",
            &[],
        )
        .await?;
    let (row_size, source_rows, source_after): (f64, i64, i64) =
        (source.get(0), source.get(1), source.get(2));
    let log_rows: i64 = client
        .query_one("SELECT count(*) FROM webhook_deliveries", &[])
        .await?
        .get(0);
    let rejected = receiver.received.rejected.load(Ordering::Relaxed);
    let duplicates = receiver
        .received
        .verified
        .load(Ordering::Relaxed)
        .saturating_sub(rows);
    service.stop();
    db.drop_db().await?;
    anyhow::ensure!(
        rejected == 0,
        "{rejected} deliveries failed signature verification"
    );
    anyhow::ensure!(
        source_rows as u64 == rows,
        "{source_rows} annotation rows, expected {rows}"
    );

    let per_event = |bytes: i64| bytes as f64 / rows as f64;
    let total = per_event(grown.total());
    let source_growth = per_event(source_after - source_before);
    let deliveries = grown.table("webhook_deliveries");
    let request_log = grown.table("api_request_log");
    let (jobs, outbox) = (grown.table("ihf_jobs"), grown.table("ihf_outbox"));
    let named = [
        "webhook_deliveries",
        "api_request_log",
        "ihf_jobs",
        "ihf_outbox",
    ];
    let rest: Vec<(&String, i64)> = grown
        .tables
        .iter()
        .filter(|(n, _)| !named.contains(&n.as_str()))
        .map(|(n, s)| (n, s.total()))
        .collect();
    let rest_total: i64 = rest.iter().map(|(_, b)| b).sum();
    let ratio = total / row_size;

    eprintln!(
        "   inserted at {achieved:.0} rows/s; all delivered and recorded {:.1} s after the first insert",
        delivered_after.as_secs_f64()
    );
    eprintln!(
        "   source row {row_size:.0} B (annotations grew {source_growth:.0} B/row with its index)"
    );
    eprintln!("   growth per delivered event, after VACUUM:");
    for (name, size) in [
        ("webhook_deliveries", deliveries),
        ("api_request_log", request_log),
        ("ihf_jobs", jobs),
        ("ihf_outbox", outbox),
    ] {
        eprintln!(
            "     {name:<20} {:>7.1} B  (heap {:.1} B, indexes {:.1} B; {} partitions)",
            per_event(size.total()),
            per_event(size.heap),
            per_event(size.indexes),
            after.table(name).partitions,
        );
    }
    eprintln!(
        "     {:<20} {:>7.1} B  ({})",
        "the rest",
        per_event(rest_total),
        rest.iter()
            .filter(|(_, b)| *b != 0)
            .map(|(n, b)| format!("{n} {}", human(*b)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "     {:<20} {:>7.1} B  ({} in all; {:.2} log rows per event)",
        "total",
        total,
        human(grown.total()),
        log_rows as f64 / rows as f64
    );

    let target = match load {
        Load::Steady { .. } => format!(
            " (target ≤ {TARGET_BYTES_PER_EVENT:.0}: {})",
            if total <= TARGET_BYTES_PER_EVENT {
                "met"
            } else {
                "not met"
            }
        ),
        Load::Burst => String::new(),
    };
    Ok(Row {
        scenario: format!("storage, {label}, 1 subscription"),
        result: format!(
            "{total:.0} B per delivered event{target}: webhook_deliveries {:.0} (heap {:.0} / indexes {:.0}; {:.2} rows per event), \
             api_request_log {:.0} (heap {:.0} / indexes {:.0}), ihf_jobs {:.0}, ihf_outbox {:.0}, the rest {:.0}; \
             source row {row_size:.0} B, {ratio:.1}× it; {duplicates} duplicates",
            per_event(deliveries.total()),
            per_event(deliveries.heap),
            per_event(deliveries.indexes),
            log_rows as f64 / rows as f64,
            per_event(request_log.total()),
            per_event(request_log.heap),
            per_event(request_log.indexes),
            per_event(jobs.total()),
            per_event(outbox.total()),
            per_event(rest_total),
        ),
        values: serde_json::json!({
            "events": rows,
            "bytes_per_event": total,
            "target_bytes_per_event": matches!(load, Load::Steady { .. }).then_some(TARGET_BYTES_PER_EVENT),
            "source_row_bytes": row_size,
            "source_table_bytes_per_row": source_growth,
            "ratio_to_source_row": ratio,
            "log_rows_per_event": log_rows as f64 / rows as f64,
            "insert_rows_per_s": achieved,
            "seconds_to_recorded": delivered_after.as_secs_f64(),
            "duplicates": duplicates,
            "grown_bytes": grown.tables.iter().map(|(n, s)| (n.clone(), serde_json::json!({
                "heap": s.heap, "indexes": s.indexes, "total": s.total(), "partitions": after.table(n).partitions,
            }))).collect::<serde_json::Map<_, _>>(),
        }),
    })
}
