//! Partition upkeep and retention for both logs, one replica at a time:
//! `serve` runs a pass at startup and then periodically, `ihf-webhooks
//! maintain` runs one and prints what it did.
//!
//! Each change is one transaction that first takes a transaction-level
//! advisory lock (so two replicas never plan against the same catalog: the
//! second waits, then finds the work done), and sets `lock_timeout`: partition
//! DDL needs strong locks on the log, and a DDL statement waiting behind a
//! long query would make every insert queue behind it. Timed out, the
//! transaction is retried with backoff, and failing that left to the next pass.
//! After the logs, subscriptions deleted longer ago than the delivery
//! retention, whose rows are all gone, are removed for good.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::partitions::{self, Partition};
use super::{Log, DELIVERIES, REQUESTS};
use crate::config::{Config, Retention};
use crate::db::sql;

/// Any key works as long as every replica uses the same one.
const UPKEEP_LOCK_KEY: i64 = 0x6968_665f_7570_6b70; // "ihf_upkp"

/// How long partition DDL may wait for its lock before it gives up (and
/// retries): the longest any insert is held up behind it.
const LOCK_TIMEOUT: &str = "200ms";

/// The settings upkeep follows (from [`Config`]).
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub interval: Duration,
    pub delivery_retention: Retention,
    pub request_log_retention: Retention,
}

impl Settings {
    pub fn of(config: &Config) -> Settings {
        Settings {
            interval: config.log_partition_interval,
            delivery_retention: config.delivery_retention,
            request_log_retention: config.request_log_retention,
        }
    }

    /// How often `serve` runs a pass: a quarter interval, between 15 s and
    /// 5 min, well inside the [`partitions::ahead`] margin.
    pub fn period(&self) -> Duration {
        (self.interval / 4).clamp(Duration::from_secs(15), Duration::from_secs(300))
    }
}

/// What a pass did: `ihf-webhooks maintain` prints it as JSON.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    pub created: Vec<String>,
    pub dropped: Vec<String>,
}

/// One pass over both logs, then the purge of deleted subscriptions.
pub async fn run_once(client: &mut Client, settings: &Settings) -> anyhow::Result<Report> {
    let mut report = Report::default();
    for (log, retention) in [
        (&DELIVERIES, settings.delivery_retention),
        (&REQUESTS, settings.request_log_retention),
    ] {
        let mut delays = lock_backoff();
        let made = loop {
            match make_ahead(client, log, settings.interval).await {
                Err(e) if waited_too_long(&e) => pause(&mut delays, e).await?,
                done => break done?,
            }
        };
        report.created.extend(made);
        let mut delays = lock_backoff();
        let (dropped, made) = loop {
            match retire(client, log, settings.interval, retention).await {
                Err(e) if waited_too_long(&e) => pause(&mut delays, e).await?,
                done => break done?,
            }
        };
        report.dropped.extend(dropped);
        report.created.extend(made);
    }
    if let Retention::For(keep) = settings.delivery_retention {
        let gone: i64 = client
            .query_one(
                sql::SUBSCRIPTIONS_PURGE_DELETED,
                &[&(keep.as_millis() as i64)],
            )
            .await?
            .get(0);
        if gone > 0 {
            tracing::info!(
                subscriptions = gone,
                "removed subscriptions deleted before the delivery retention"
            );
        }
    }
    Ok(report)
}

/// `serve`'s upkeep after its first pass (which `serve` runs before
/// deliveries start, so that the log has its partitions): one pass every
/// [`Settings::period`].
pub async fn run(pool: Pool, settings: Settings, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(settings.period()) => {}
        }
        let pass = async {
            let mut client = pool.get().await?;
            run_once(&mut client, &settings).await
        };
        match pass.await {
            Ok(report) if report != Report::default() => {
                tracing::info!(created = ?report.created, dropped = ?report.dropped, "log partitions");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %format_args!("{e:#}"), "log partition upkeep failed; will retry")
            }
        }
    }
}

/// Delays between tries of a change that timed out waiting for its lock:
/// about 10 s in all, then the pass fails and the next one tries again.
fn lock_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(8)
        .build()
}

fn waited_too_long(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
}

/// Sleeps before the next try, or gives `e` back when the tries are used up.
async fn pause(
    delays: &mut impl Iterator<Item = Duration>,
    e: tokio_postgres::Error,
) -> Result<(), tokio_postgres::Error> {
    let Some(delay) = delays.next() else {
        return Err(e);
    };
    tracing::debug!(error = %e, retry_in = ?delay, "log partition DDL waited too long for its lock");
    tokio::time::sleep(delay).await;
    Ok(())
}

/// A transaction holding the upkeep lock, with `lock_timeout` set; returns
/// the database's clock and the log's partitions as they are now.
async fn begin<'a>(
    client: &'a mut Client,
    log: &Log,
) -> Result<
    (
        tokio_postgres::Transaction<'a>,
        DateTime<Utc>,
        Vec<Partition>,
    ),
    tokio_postgres::Error,
> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&UPKEEP_LOCK_KEY])
        .await?;
    tx.batch_execute(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        .await?;
    let now: DateTime<Utc> = tx.query_one("SELECT now()", &[]).await?.get(0);
    let existing = partitions::list(&tx, log).await?;
    Ok((tx, now, existing))
}

async fn make_ahead(
    client: &mut Client,
    log: &Log,
    interval: Duration,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let (tx, now, existing) = begin(client, log).await?;
    let made = partitions::to_make_ahead(log, &existing, now, interval);
    for p in &made {
        partitions::make(&tx, log, p).await?;
    }
    tx.commit().await?;
    Ok(made.into_iter().map(|p| p.name).collect())
}

async fn retire(
    client: &mut Client,
    log: &Log,
    interval: Duration,
    retention: Retention,
) -> Result<(Vec<String>, Vec<String>), tokio_postgres::Error> {
    let (tx, now, existing) = begin(client, log).await?;
    let has_history = existing.iter().any(|p| p.starts.is_none());
    let finite = matches!(retention, Retention::For(_));
    let looks_empty = finite && has_history && partitions::history_is_empty(&tx, log).await?;
    let mut plan = partitions::to_retire(log, &existing, now, interval, retention, looks_empty);
    if looks_empty && plan.drop.contains(&log.history()) {
        // Re-made because it is empty: lock it and look again, so that no
        // row lands in it between the look and the drop.
        partitions::lock_history(&tx, log).await?;
        if !partitions::history_is_empty(&tx, log).await? {
            plan = partitions::to_retire(log, &existing, now, interval, retention, false);
        }
    }
    if plan == partitions::Retire::default() {
        tx.rollback().await?;
        return Ok((Vec::new(), Vec::new()));
    }
    for name in &plan.drop {
        partitions::drop(&tx, name).await?;
    }
    for p in &plan.make {
        partitions::make(&tx, log, p).await?;
    }
    tx.commit().await?;
    Ok((plan.drop, plan.make.into_iter().map(|p| p.name).collect()))
}
