//! Samples the queue gauges of `/metrics` (`ihf_jobs_due`,
//! `ihf_oldest_due_job_age_seconds`, `ihf_outbox_events`) every few seconds on
//! the worker's pool. A scrape only reads the last sample: `/metrics` is
//! unauthenticated, so it must not make the database count anything, and it
//! must not take the API's connections. Each sample's cost is bounded too:
//! the counts stop at [`COUNT_CAP`] (an index-only walk), so a backlog of
//! millions costs no more than one of a hundred thousand.
//!
//! Every replica samples `ihf_database_up` the same way; a replica without
//! the worker (`--no-worker`) has no worker pool and no queue to watch, so it
//! only asks the API's pool whether the database answers, once per interval.

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use crate::db::{self, sql};
use crate::metrics::Metrics;

/// How often the gauges are refreshed.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// The counts stop here: past it the gauge reads this value.
pub const COUNT_CAP: i64 = 100_000;

/// What a replica samples: the queues too (worker replicas), or only whether
/// the database answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    Queues,
    DatabaseOnly,
}

pub async fn run(
    pool: Pool,
    what: Sample,
    metrics: std::sync::Arc<Metrics>,
    cancel: CancellationToken,
) {
    loop {
        let sample = async {
            let client = pool.get().await?;
            if what == Sample::DatabaseOnly {
                client.simple_query("SELECT 1").await?;
                return anyhow::Ok(None);
            }
            let stmt = client.prepare_cached(sql::JOBS_QUEUE_DEPTH).await?;
            let queues = client.query_one(&stmt, &[&COUNT_CAP]).await?;
            let stmt = client
                .prepare_cached(sql::OPERATOR_NOTIFICATIONS_DEPTH)
                .await?;
            let operator = client.query_one(&stmt, &[&COUNT_CAP]).await?;
            anyhow::Ok(Some((queues, operator)))
        };
        match sample.await {
            Ok(rows) => {
                metrics.database_up.set(1);
                if let Some((row, operator)) = rows {
                    metrics.jobs_due.set(row.get("due"));
                    metrics
                        .oldest_due_job_age
                        .set(row.get("oldest_due_seconds"));
                    metrics.outbox_events.set(row.get("outbox"));
                    metrics.operator_queue.set(operator.get(0));
                }
            }
            Err(e) => {
                metrics.database_up.set(0);
                let cause = e
                    .downcast_ref::<tokio_postgres::Error>()
                    .map(|e| db::describe(e))
                    .unwrap_or_else(|| format!("{e:#}"));
                tracing::debug!(error = %cause, "could not sample the queue gauges");
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}
