//! Hands expired leases back and vacuums the queue tables.
//!
//! A job leased by a replica that died keeps its `claimed_by`; once its lease
//! has run out it is handed back to the waiting jobs, which is where claims
//! look (`sql/jobs_expire_leases.sql`), and the dispatcher is nudged.
//!
//! Vacuum: Every job is inserted, updated when claimed and
//! deleted when done, so `ihf_jobs` and `ihf_outbox` pile up dead rows that
//! slow every claim until vacuumed. Autovacuum may be off or, at its default
//! thresholds, far too lazy for a table this hot; a frequent VACUUM of two
//! small tables is cheap. SKIP_LOCKED: when another replica is vacuuming,
//! this one skips the round instead of waiting.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use super::claim;
use crate::capture::doorbell::Doorbell;
use crate::db::sql;

const INTERVAL: Duration = Duration::from_secs(5);

pub async fn run(pool: Pool, bell: Arc<Doorbell>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
        let vacuum = async {
            let client = pool.get().await?;
            if claim::expire_leases(&client).await? > 0 {
                bell.nudge();
            }
            client.batch_execute(sql::QUEUE_VACUUM).await?;
            anyhow::Ok(())
        };
        if let Err(e) = vacuum.await {
            tracing::warn!(error = %format_args!("{e:#}"), "could not expire leases or vacuum the queue tables");
        }
    }
}
