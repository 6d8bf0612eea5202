//! The dispatcher loop: fan out new events and claim due jobs for the free
//! slots, start the attempts, and when there is nothing to do, ask for the
//! doorbell and wait.

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
use super::fan_out;
use super::janitor;
use super::outcome::RetryPolicy;
use super::recorder::Recorder;
use crate::capture::doorbell::{Arming, Doorbell};
use crate::config::Config;
use crate::db::sql;
use crate::metrics::Metrics;

/// Jobs leased or claimed per statement at most.
const CLAIM_BATCH: usize = 500;
/// Events fanned out per statement: enough to fill the free slots, never so
/// few that a backlog drains one round trip per handful of events.
const MIN_FAN_OUT: i64 = 64;
const MAX_FAN_OUT: i64 = 1000;
/// After the last work found, how long an idle dispatcher keeps polling
/// before it arms the doorbell, and how often it polls meanwhile. Under a
/// steady stream of events the next one is a moment away; arming at every
/// short gap would make every writer committing in that moment ring, and
/// notifying commits are serialized by PostgreSQL (see migrations/V7). Past
/// this window the stream has stopped and the doorbell takes over.
const IDLE_LINGER: Duration = Duration::from_millis(5);
const LINGER_POLL: Duration = Duration::from_millis(1);
/// How often a busy dispatcher looks for due jobs when nothing it saw says
/// there are any: retries coming due, expired leases, other replicas'
/// overflow. The claim probes every subscription, so it is not run on every
/// 1 ms linger poll.
const CLAIM_EVERY: Duration = Duration::from_millis(50);
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
    notify: Option<crate::notify::Rules>,
}

/// Leased jobs whose attempts are running: job id → (attempt, subscription).
/// Counted per subscription for the cap; released on a shutdown that cannot
/// wait for them.
type InFlight = Arc<Mutex<HashMap<i64, (i32, Uuid)>>>;

/// Where started attempts go.
struct Launch<'a> {
    slots: &'a Arc<Semaphore>,
    attempts: &'a mut JoinSet<()>,
    results: &'a mpsc::Sender<Finished>,
    in_flight: &'a InFlight,
}

/// What one round of [`Worker::take_work`] found.
struct Work {
    events: i64,
    started: usize,
    /// Fewer events and due jobs than asked for: the queue is empty for
    /// now, so looking again at once would only find nothing.
    drained: bool,
}

/// When the dispatcher runs the claim statement.
struct ClaimPacing {
    /// Claim no later than this.
    next: Instant,
    /// Due jobs this replica knows of are waiting: its fan-out had no room to
    /// lease them, or the last claim filled every free slot or met a
    /// subscription's cap. Claim every round until a claim comes back short.
    known_due: bool,
}

impl ClaimPacing {
    fn due(&self) -> bool {
        self.known_due || Instant::now() >= self.next
    }

    /// After a claim that got `claimed` of `asked`; `capped`: some
    /// subscription is now at its cap.
    fn claimed(&mut self, claimed: usize, asked: usize, capped: bool) {
        self.known_due = claimed >= asked || capped;
        self.next = Instant::now() + CLAIM_EVERY;
    }
}

/// (subscriptions, attempts in flight) on this replica, for the cap.
fn in_flight_per_subscription(in_flight: &InFlight) -> (Vec<Uuid>, Vec<i32>) {
    let mut counts: HashMap<Uuid, i32> = HashMap::new();
    for (_, subscription) in in_flight.lock().unwrap().values() {
        *counts.entry(*subscription).or_default() += 1;
    }
    counts.into_iter().unzip()
}

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
            notify: config.operator.as_ref().map(|_| crate::notify::Rules {
                exhausted_window: config.exhausted_window,
            }),
        }
    }

    /// Runs until `cancel` fires, then stops taking work, lets in-flight
    /// attempts finish within the shutdown timeout, releases the rest and
    /// writes every result it has.
    pub async fn run(self, cancel: CancellationToken) {
        let janitor = tokio::spawn(janitor::run(self.pool.clone(), cancel.clone()));
        let (results, results_rx) = mpsc::channel::<Finished>(self.concurrency * 2);
        let recorder = tokio::spawn(
            Recorder {
                pool: self.pool.clone(),
                disable_after: self.disable_after,
                give_up_after: self.lease,
                bell: self.bell.clone(),
                metrics: self.metrics.clone(),
                notify: self.notify,
            }
            .run(results_rx),
        );
        let slots = Arc::new(Semaphore::new(self.concurrency));
        let in_flight: InFlight = Arc::default();
        let mut attempts = JoinSet::new();
        let mut started: u64 = 0;
        // Jobs per event in the last fan-out, to size the next one to the
        // free slots.
        let mut jobs_per_event = 1.0_f64;
        // Whether this replica holds the doorbell lock (asked to be rung).
        let mut armed = false;
        // When the last round found work (the linger window starts there).
        let mut last_work: Option<Instant> = None;
        let mut pacing = ClaimPacing {
            next: Instant::now(),
            known_due: true,
        };

        while !cancel.is_cancelled() {
            while attempts.try_join_next().is_some() {}
            if slots.available_permits() == 0 {
                // Wait for one attempt to end before taking more work.
                tokio::select! {
                    permit = slots.clone().acquire_owned() => drop(permit),
                    _ = cancel.cancelled() => break,
                }
            }
            // Not raced against `cancel`: a statement dropped after it ran
            // would strand leased jobs. It only waits on its own queries.
            let launch = Launch {
                slots: &slots,
                attempts: &mut attempts,
                results: &results,
                in_flight: &in_flight,
            };
            match self
                .take_work(launch, &mut jobs_per_event, &mut pacing)
                .await
            {
                Ok(work) if work.events > 0 || work.started > 0 => {
                    started += work.started as u64;
                    last_work = Some(Instant::now());
                    if armed {
                        // Busy: the framework's writers need not ring.
                        self.bell.disarm().await;
                        armed = false;
                    }
                    if !work.drained {
                        continue;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %format_args!("{e:#}"), "taking work failed; retrying after the poll interval");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(self.poll_interval) => continue,
                    }
                }
            }
            // Idle. Just after work, poll for a moment before asking to be rung.
            if !armed && last_work.is_some_and(|at| at.elapsed() < IDLE_LINGER) {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = self.bell.nudged() => {}
                    _ = tokio::time::sleep(LINGER_POLL) => {}
                }
                continue;
            }
            // Ask to be rung, then look once more before waiting: an event
            // committed before the lock was granted rang no bell.
            if !armed && self.bell.arm().await == Arming::Armed {
                armed = true;
                continue;
            }
            // Sleep until the next job is due, a NOTIFY, results that free
            // capacity (nudges), or the poll.
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
                    // Rung once is enough: every further ringing commit waits
                    // on the notify lock, so stop them before looking.
                    self.bell.disarm().await;
                    armed = false;
                }
                _ = self.bell.nudged() => {
                    self.metrics.wakeups.with_label_values(&["progress"]).inc();
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.metrics.wakeups.with_label_values(&["poll"]).inc();
                }
            }
            // Whatever came due while asleep is claimed on waking.
            pacing.next = Instant::now();
        }
        self.bell.disarm().await;
        let _ = janitor.await;
        self.shut_down(attempts, in_flight, results, recorder).await;
        tracing::info!(attempts_started = started, "worker stopped");
    }

    /// Fans out new events, leasing the jobs it creates to the free slots,
    /// then claims due jobs (retries, expired leases, overflow) for the slots
    /// still free, and starts every attempt.
    async fn take_work(
        &self,
        mut launch: Launch<'_>,
        jobs_per_event: &mut f64,
        pacing: &mut ClaimPacing,
    ) -> anyhow::Result<Work> {
        let client = self.pool.get().await?;
        let lease_ms = self.lease.as_millis() as i64;
        let (busy_subs, busy_counts) = in_flight_per_subscription(launch.in_flight);
        let free = launch.slots.available_permits().min(CLAIM_BATCH) as i64;
        let events =
            ((free as f64 / jobs_per_event.max(1.0)).ceil() as i64).clamp(MIN_FAN_OUT, MAX_FAN_OUT);
        let timer = std::time::Instant::now();
        let room = fan_out::Room {
            slots: free,
            lease_ms,
            replica: self.replica,
            per_subscription: self.per_subscription,
            busy: (&busy_subs, &busy_counts),
        };
        let batch = fan_out::fan_out(&client, events, &room).await?;
        if batch.events > 0 {
            *jobs_per_event = batch.jobs as f64 / batch.events as f64;
            tracing::debug!(
                events = batch.events,
                jobs = batch.jobs,
                leased = batch.leased.len(),
                ms = timer.elapsed().as_millis() as u64,
                "fanned out"
            );
        }
        if batch.jobs > batch.leased.len() as i64 {
            pacing.known_due = true;
        }
        let mut started = self.start_all(batch.leased, &mut launch)?;
        let mut drained = batch.events < events;

        let free = launch.slots.available_permits().min(CLAIM_BATCH) as i64;
        if free > 0 && pacing.due() {
            let (busy_subs, busy_counts) = in_flight_per_subscription(launch.in_flight);
            let timer = std::time::Instant::now();
            let claim = client.prepare_cached(sql::JOBS_CLAIM_DUE).await?;
            let rows = client
                .query(
                    &claim,
                    &[
                        &free,
                        &lease_ms,
                        &self.replica,
                        &self.per_subscription,
                        &busy_subs,
                        &busy_counts,
                    ],
                )
                .await?;
            if !rows.is_empty() {
                tracing::debug!(
                    free,
                    claimed = rows.len(),
                    ms = timer.elapsed().as_millis() as u64,
                    "claimed"
                );
            }
            let claimed = rows.len();
            drained &= (claimed as i64) < free;
            started +=
                self.start_all(rows.iter().map(ClaimedJob::from_row).collect(), &mut launch)?;
            // A subscription at its cap may have due jobs the claim had to leave.
            let capped = in_flight_per_subscription(launch.in_flight)
                .1
                .iter()
                .any(|&n| i64::from(n) >= self.per_subscription);
            pacing.claimed(claimed, free as usize, capped);
        } else if free == 0 {
            // No slots, so no telling whether more is due.
            drained = false;
        }
        Ok(Work {
            events: batch.events,
            started,
            drained,
        })
    }

    /// Starts one attempt per job, each holding a slot.
    fn start_all(&self, jobs: Vec<ClaimedJob>, launch: &mut Launch<'_>) -> anyhow::Result<usize> {
        let count = jobs.len();
        for job in jobs {
            let permit = launch.slots.clone().try_acquire_owned().expect(
                "a slot is free for every job: each batch is sized to the free slots, \
                 only this task takes them, and the semaphore is never closed",
            );
            launch
                .in_flight
                .lock()
                .unwrap()
                .insert(job.id, (job.attempt, job.subscription_id));
            let (http, retry, results, in_flight, metrics) = (
                self.client.clone(),
                self.retry.clone(),
                launch.results.clone(),
                launch.in_flight.clone(),
                self.metrics.clone(),
            );
            launch.attempts.spawn(async move {
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
        Ok(count)
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
            let unfinished: Vec<(i64, i32)> = in_flight
                .lock()
                .unwrap()
                .drain()
                .map(|(job, (attempt, _))| (job, attempt))
                .collect();
            tracing::warn!(
                released = unfinished.len(),
                "shutdown deadline reached; releasing unfinished attempts"
            );
            if let Err(e) = self.release(&unfinished).await {
                tracing::warn!(error = %format_args!("{e:#}"), "could not release jobs; their leases will expire");
            }
        }
        drop(results);
        let _ = recorder.await;
    }

    async fn release(&self, jobs: &[(i64, i32)]) -> anyhow::Result<()> {
        let (ids, fences): (Vec<i64>, Vec<i32>) = jobs.iter().copied().unzip();
        let client = self.pool.get().await?;
        client.execute(sql::JOBS_RELEASE, &[&ids, &fences]).await?;
        Ok(())
    }
}
