//! Vacuums the queue tables. Every job is inserted, updated when claimed and
//! deleted when done, so `ihf_jobs` and `ihf_outbox` pile up dead rows that
//! slow every claim until vacuumed. Autovacuum may be off or, at its default
//! thresholds, far too lazy for a table this hot; a frequent VACUUM of two
//! small tables is cheap. SKIP_LOCKED: when another replica is vacuuming,
//! this one skips the round instead of waiting.

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use crate::db::sql;

const INTERVAL: Duration = Duration::from_secs(5);

pub async fn run(pool: Pool, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
        let vacuum = async {
            let client = pool.get().await?;
            client.batch_execute(sql::QUEUE_VACUUM).await?;
            anyhow::Ok(())
        };
        if let Err(e) = vacuum.await {
            tracing::warn!(error = %format_args!("{e:#}"), "could not vacuum the queue tables");
        }
    }
}
