//! The dispatcher loop: fan out, claim what there are free slots for, start
//! the attempts, and when there is nothing to do, ring for the doorbell and wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::attempt::{self, ClaimedJob, Finished};
use super::client::WebhookClient;
use super::outcome::RetryPolicy;
use super::recorder::Recorder;
use crate::config::Config;
use crate::db::sql;
use crate::listener::Doorbell;
use crate::metrics::Metrics;

/// Events fanned out per statement.
const FAN_OUT_BATCH: i64 = 1000;
/// Jobs claimed per statement at most.
const CLAIM_BATCH: usize = 500;
/// How long a "waiting" mark lasts unless refreshed: a replica that dies while
/// waiting stops making the framework's writers ring after this.
const WAIT_MARK_TTL: Duration = Duration::from_secs(30);

pub struct Worker {
    pool: Pool,
    client: WebhookClient,
    retry: RetryPolicy,
    bell: Arc<Doorbell>,
    metrics: Arc<Metrics>,
    replica: Uuid,
    concurrency: usize,
    per_subscription: i64,
    poll_interval: Duration,
    lease: Duration,
    shutdown_timeout: Duration,
    disable_after: Duration,
}

/// What one dispatcher round did.
struct Progress {
    fanned: usize,
    claimed: usize,
}

/// Claimed jobs whose attempts are running: (job id → attempt), released on
/// a shutdown that cannot wait for them.
type InFlight = Arc<Mutex<HashMap<i64, i32>>>;

impl Worker {
    pub fn new(
        config: &Config,
        pool: Pool,
        client: WebhookClient,
        bell: Arc<Doorbell>,
        metrics: Arc<Metrics>,
    ) -> Worker {
        Worker {
            pool,
            client,
            retry: RetryPolicy {
                schedule: config.retry_schedule.clone(),
                retry_after_max: config.retry_after_max,
            },
            bell,
            metrics,
            replica: Uuid::new_v4(),
            concurrency: config.worker_concurrency,
            per_subscription: config.max_in_flight_per_subscription as i64,
            poll_interval: config.poll_interval,
            lease: config.lease(),
            shutdown_timeout: config.shutdown_timeout,
            disable_after: config.disable_after,
        }
    }

    /// Runs until `cancel` fires, then stops claiming, lets in-flight attempts
    /// finish within the shutdown timeout, releases the rest and writes every
    /// result it has.
    pub async fn run(self, cancel: CancellationToken) {
        let (results, results_rx) = mpsc::channel::<Finished>(self.concurrency * 2);
        let recorder = tokio::spawn(
            Recorder {
                pool: self.pool.clone(),
                disable_after: self.disable_after,
                give_up_after: self.lease,
                bell: self.bell.clone(),
                metrics: self.metrics.clone(),
            }
            .run(results_rx),
        );
        let slots = Arc::new(Semaphore::new(self.concurrency));
        let in_flight: InFlight = Arc::default();
        let mut attempts = JoinSet::new();
        let mut waiting_until: Option<Instant> = None;
        let mut started: u64 = 0;

        while !cancel.is_cancelled() {
            while attempts.try_join_next().is_some() {}
            // Not raced against `cancel`: a step dropped after its claim would
            // strand leased jobs. It only waits on its own queries (which time
            // out) and, cancellably, for a free slot.
            let worked = self
                .step(&slots, &mut attempts, &results, &in_flight, &cancel)
                .await;
            match worked {
                Ok(Progress { fanned, claimed }) if fanned + claimed > 0 => {
                    started += claimed as u64;
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "dispatcher step failed; retrying after the poll interval");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(self.poll_interval) => continue,
                    }
                }
            }
            // Idle. Ask to be rung, then look once more before waiting: an event
            // committed just before the mark became visible rang no bell.
            let mark_fresh = waiting_until.is_some_and(|t| t > Instant::now() + WAIT_MARK_TTL / 3);
            if !mark_fresh {
                match self.mark_waiting(true).await {
                    Ok(()) => waiting_until = Some(Instant::now() + WAIT_MARK_TTL),
                    Err(e) => tracing::warn!(error = %e, "cannot mark this replica as waiting"),
                }
                continue;
            }
            let deadline = match self.next_due().await {
                Ok(Some(due)) => {
                    let wait = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                    Instant::now() + wait.min(self.poll_interval)
                }
                _ => Instant::now() + self.poll_interval,
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.bell.rung() => {
                    self.metrics.wakeups.with_label_values(&["notification"]).inc();
                    // Busy from here on: the framework's writers need not ring.
                    if let Err(e) = self.mark_waiting(false).await {
                        tracing::warn!(error = %e, "cannot clear this replica's waiting mark");
                    }
                    waiting_until = None;
                }
                _ = self.bell.nudged() => {
                    self.metrics.wakeups.with_label_values(&["progress"]).inc();
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.metrics.wakeups.with_label_values(&["poll"]).inc();
                }
            }
        }
        self.shut_down(attempts, in_flight, results, recorder).await;
        tracing::info!(attempts_started = started, "worker stopped");
    }

    /// One round: fan out a batch, claim due jobs for the free slots and start
    /// them.
    async fn step(
        &self,
        slots: &Arc<Semaphore>,
        attempts: &mut JoinSet<()>,
        results: &mpsc::Sender<Finished>,
        in_flight: &InFlight,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Progress> {
        // Fan-out runs beside the claim (on its own connection): it feeds the
        // next round, and serializing the two would idle the senders.
        let fan_out = async {
            let client = self.pool.get().await?;
            let stmt = client.prepare_cached(sql::OUTBOX_FAN_OUT).await?;
            anyhow::Ok(client.execute(&stmt, &[&FAN_OUT_BATCH]).await?)
        };
        let (fanned, claimed) = tokio::join!(
            fan_out,
            self.claim_and_start(slots, attempts, results, in_flight, cancel)
        );
        let progress = Progress {
            fanned: fanned? as usize,
            claimed: claimed?,
        };
        if progress.fanned + progress.claimed > 0 {
            tracing::debug!(
                fanned = progress.fanned,
                claimed = progress.claimed,
                "dispatched"
            );
        }
        Ok(progress)
    }

    /// Claims due jobs for the free slots (waiting for one if none is free)
    /// and starts their attempts. Returns how many it started.
    async fn claim_and_start(
        &self,
        slots: &Arc<Semaphore>,
        attempts: &mut JoinSet<()>,
        results: &mpsc::Sender<Finished>,
        in_flight: &InFlight,
        cancel: &CancellationToken,
    ) -> anyhow::Result<usize> {
        if slots.available_permits() == 0 {
            // Wait for one attempt to end before claiming more.
            tokio::select! {
                permit = slots.clone().acquire_owned() => drop(permit?),
                _ = cancel.cancelled() => return Ok(0),
            }
        }
        if cancel.is_cancelled() {
            return Ok(0);
        }
        let client = self.pool.get().await?;
        let free = slots.available_permits().min(CLAIM_BATCH) as i64;
        let claim = client.prepare_cached(sql::JOBS_CLAIM_DUE).await?;
        let lease_ms = self.lease.as_millis() as i64;
        let rows = client
            .query(
                &claim,
                &[&free, &lease_ms, &self.replica, &self.per_subscription],
            )
            .await?;
        drop(client);
        let claimed = rows.len();
        for row in rows {
            let job = ClaimedJob::from_row(&row);
            let permit = slots.clone().try_acquire_owned()?;
            in_flight.lock().unwrap().insert(job.id, job.attempt);
            let (http, retry, results, in_flight, metrics) = (
                self.client.clone(),
                self.retry.clone(),
                results.clone(),
                in_flight.clone(),
                self.metrics.clone(),
            );
            attempts.spawn(async move {
                let finished = attempt::run(&job, &http, &retry).await;
                metrics.observe_attempt(&job.event_type, finished.kind, finished.duration);
                if finished.kind == "delivered" {
                    let lag = (Utc::now() - job.occurred_at)
                        .num_microseconds()
                        .unwrap_or(0);
                    metrics.delivery_lag.observe(lag.max(0) as f64 / 1e6);
                }
                let _ = results.send(finished).await;
                in_flight.lock().unwrap().remove(&job.id);
                drop(permit);
            });
        }
        Ok(claimed)
    }

    async fn mark_waiting(&self, waiting: bool) -> anyhow::Result<()> {
        let until: Option<DateTime<Utc>> =
            waiting.then(|| Utc::now() + chrono::Duration::from_std(WAIT_MARK_TTL).unwrap());
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql::WAITERS_SET).await?;
        client.execute(&stmt, &[&self.replica, &until]).await?;
        Ok(())
    }

    async fn next_due(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql::JOBS_NEXT_DUE).await?;
        Ok(client.query_one(&stmt, &[]).await?.get(0))
    }

    async fn shut_down(
        &self,
        mut attempts: JoinSet<()>,
        in_flight: InFlight,
        results: mpsc::Sender<Finished>,
        recorder: tokio::task::JoinHandle<()>,
    ) {
        tracing::info!(
            in_flight = attempts.len(),
            "worker stopping: no more claims"
        );
        let drained = tokio::time::timeout(self.shutdown_timeout, async {
            while attempts.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            attempts.abort_all();
            while attempts.join_next().await.is_some() {}
            let unfinished: Vec<(i64, i32)> = in_flight.lock().unwrap().drain().collect();
            tracing::warn!(
                released = unfinished.len(),
                "shutdown deadline reached; releasing unfinished attempts"
            );
            if let Err(e) = self.release(&unfinished).await {
                tracing::warn!(error = %e, "could not release jobs; their leases will expire");
            }
        }
        drop(results);
        let _ = recorder.await;
        if let Ok(client) = self.pool.get().await {
            let _ = client.execute(sql::WAITERS_REMOVE, &[&self.replica]).await;
        }
    }

    async fn release(&self, jobs: &[(i64, i32)]) -> anyhow::Result<()> {
        let (ids, fences): (Vec<i64>, Vec<i32>) = jobs.iter().copied().unzip();
        let client = self.pool.get().await?;
        client.execute(sql::JOBS_RELEASE, &[&ids, &fences]).await?;
        Ok(())
    }
}
