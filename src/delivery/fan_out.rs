//! The fan-out loop: turns captured events (`ihf_outbox`) into one job per
//! active subscription, and owns this replica's doorbell mark: when the outbox
//! is empty it marks itself waiting (so the capture trigger rings), looks once
//! more, and sleeps until the NOTIFY or the backstop poll.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use deadpool_postgres::Pool;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::sql;
use crate::listener::Doorbell;
use crate::metrics::Metrics;

/// Events fanned out per statement.
const BATCH: i64 = 1000;
/// How long a "waiting" mark lasts unless refreshed: a replica that dies while
/// waiting stops making the framework's writers ring after this.
const MARK_TTL: Duration = Duration::from_secs(30);

pub struct FanOut {
    pub pool: Pool,
    pub bell: Arc<Doorbell>,
    pub metrics: Arc<Metrics>,
    pub replica: Uuid,
    pub poll_interval: Duration,
}

impl FanOut {
    pub async fn run(self, cancel: CancellationToken) {
        let mut marked_until: Option<Instant> = None;
        while !cancel.is_cancelled() {
            match self.fan_out_batch().await {
                Ok((0, _)) => {}
                Ok((_, jobs)) => {
                    if jobs > 0 {
                        // New jobs: the dispatcher should claim them.
                        self.bell.nudge();
                    }
                    // Busy from here on: the framework's writers need not
                    // ring. Cleared after the nudge, so the claim need not wait.
                    if marked_until.take().is_some() {
                        if let Err(e) = self.mark_waiting(false).await {
                            tracing::warn!(error = %e, "cannot clear this replica's waiting mark");
                        }
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "fan-out failed; retrying after the poll interval");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(self.poll_interval) => continue,
                    }
                }
            }
            // Idle. Ask to be rung, then look once more before waiting: an
            // event committed just before the mark became visible rang no bell.
            let fresh = marked_until.is_some_and(|t| t > Instant::now() + MARK_TTL / 3);
            if !fresh {
                match self.mark_waiting(true).await {
                    Ok(()) => marked_until = Some(Instant::now() + MARK_TTL),
                    Err(e) => tracing::warn!(error = %e, "cannot mark this replica as waiting"),
                }
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.bell.rung() => {
                    self.metrics.wakeups.with_label_values(&["notification"]).inc();
                    // Fan out at once; the mark is cleared once there is work.
                    // A redelivery rings too, with a job and no outbox row.
                    self.bell.nudge();
                }
                _ = tokio::time::sleep(self.poll_interval) => {
                    self.metrics.wakeups.with_label_values(&["poll"]).inc();
                }
            }
        }
    }

    /// Fans out one batch; returns (events taken, jobs created).
    async fn fan_out_batch(&self) -> anyhow::Result<(i64, i64)> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql::OUTBOX_FAN_OUT).await?;
        let row = client.query_one(&stmt, &[&BATCH]).await?;
        let (events, jobs): (i64, i64) = (row.get("events"), row.get("jobs"));
        if events > 0 {
            tracing::debug!(events, jobs, "fanned out");
        }
        Ok((events, jobs))
    }

    async fn mark_waiting(&self, waiting: bool) -> anyhow::Result<()> {
        let until = waiting.then(|| Utc::now() + chrono::Duration::from_std(MARK_TTL).unwrap());
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql::WAITERS_SET).await?;
        client.execute(&stmt, &[&self.replica, &until]).await?;
        Ok(())
    }
}
