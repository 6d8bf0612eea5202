//! The gate's background work, every `IHF_LIMITS_SYNC_INTERVAL`: share the
//! daily counts with the other replicas, write `last_used_at`; and about once
//! a minute: roll ended quota windows of idle consumers, purge long-expired
//! OAuth tokens. On stop it syncs once more, so a graceful shutdown loses no
//! counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use super::gate::Gate;
use crate::db::sql;

const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);

pub async fn run(db: Pool, gate: Arc<Gate>, interval: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_housekeeping: Option<Instant> = None;
    loop {
        let stopping = tokio::select! {
            _ = stop.cancelled() => true,
            _ = tick.tick() => false,
        };
        if let Err(e) = sync(&db, &gate).await {
            tracing::warn!(error = %format_args!("{e:#}"), "could not sync rate-limit counts; will retry");
        }
        if stopping {
            return;
        }
        if last_housekeeping.is_none_or(|at| at.elapsed() >= HOUSEKEEPING_EVERY) {
            last_housekeeping = Some(Instant::now());
            if let Err(e) = housekeeping(&db).await {
                tracing::warn!(error = %format_args!("{e:#}"), "API housekeeping failed; will retry");
            }
        }
    }
}

async fn sync(db: &Pool, gate: &Gate) -> anyhow::Result<()> {
    let client = db.get().await?;
    gate.limiter.sync(&client).await?;
    gate.auth.flush_last_used(&client).await?;
    Ok(())
}

async fn housekeeping(db: &Pool) -> anyhow::Result<()> {
    let client = db.get().await?;
    client.execute(sql::CONSUMERS_ROLL_QUOTA, &[]).await?;
    let purged = client.execute(sql::KEYS_PURGE_EXPIRED_TOKENS, &[]).await?;
    if purged > 0 {
        tracing::info!(purged, "purged expired OAuth tokens");
    }
    Ok(())
}
