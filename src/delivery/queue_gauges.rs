//! Samples the queue gauges of `/metrics` (`ihf_jobs_due`,
//! `ihf_oldest_due_job_age_seconds`, `ihf_outbox_events`) every few seconds on
//! the worker's pool. A scrape only reads the last sample: `/metrics` is
//! unauthenticated, so it must not make the database count anything, and it
//! must not take the API's connections. Each sample's cost is bounded too:
//! the counts stop at [`COUNT_CAP`] (an index-only walk), so a backlog of
//! millions costs no more than one of a hundred thousand.

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use crate::db::{self, sql};
use crate::metrics::Metrics;

/// How often the gauges are refreshed.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// The counts stop here: past it the gauge reads this value.
pub const COUNT_CAP: i64 = 100_000;

pub async fn run(pool: Pool, metrics: std::sync::Arc<Metrics>, cancel: CancellationToken) {
    loop {
        let sample = async {
            let client = pool.get().await?;
            let stmt = client.prepare_cached(sql::JOBS_QUEUE_DEPTH).await?;
            anyhow::Ok(client.query_one(&stmt, &[&COUNT_CAP]).await?)
        };
        match sample.await {
            Ok(row) => {
                metrics.jobs_due.set(row.get("due"));
                metrics
                    .oldest_due_job_age
                    .set(row.get("oldest_due_seconds"));
                metrics.outbox_events.set(row.get("outbox"));
            }
            Err(e) => {
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
