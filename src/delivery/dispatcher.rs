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
use super::fan_out::FanOut;
use super::janitor;
use super::outcome::RetryPolicy;
use super::recorder::Recorder;
use crate::config::Config;
use crate::db::sql;
use crate::listener::Doorbell;
use crate::metrics::Metrics;

/// Jobs claimed per statement at most.
const CLAIM_BATCH: usize = 500;
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
        let fan_out = tokio::spawn(
            FanOut {
                pool: self.pool.clone(),
                bell: self.bell.clone(),
                metrics: self.metrics.clone(),
                replica: self.replica,
                poll_interval: self.poll_interval,
            }
            .run(cancel.clone()),
        );
        let janitor = tokio::spawn(janitor::run(self.pool.clone(), cancel.clone()));
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
        let mut started: u64 = 0;

        while !cancel.is_cancelled() {
            while attempts.try_join_next().is_some() {}
            // Not raced against `cancel`: a claim dropped after its statement
            // would strand leased jobs. It only waits on its own query (which
            // times out) and, cancellably, for a free slot.
            match self
                .claim_and_start(&slots, &mut attempts, &results, &in_flight, &cancel)
                .await
            {
                Ok(0) => {}
                Ok(claimed) => {
                    started += claimed as u64;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claim failed; retrying after the poll interval");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(self.poll_interval) => continue,
                    }
                }
            }
            // Nothing claimable: sleep until the next job is due, new jobs are
            // fanned out or results free capacity (nudges), or the poll.
            let deadline = match self.next_due().await {
                Ok(Some(due)) => {
                    let wait = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                    Instant::now() + wait.min(self.poll_interval)
                }
                _ => Instant::now() + self.poll_interval,
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.bell.nudged() => {
                    self.metrics.wakeups.with_label_values(&["progress"]).inc();
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.metrics.wakeups.with_label_values(&["poll"]).inc();
                }
            }
        }
        let _ = fan_out.await;
        let _ = janitor.await;
        self.shut_down(attempts, in_flight, results, recorder).await;
        tracing::info!(attempts_started = started, "worker stopped");
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
        let started = std::time::Instant::now();
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
        tracing::debug!(
            free,
            claimed,
            ms = started.elapsed().as_millis() as u64,
            "claimed"
        );
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
