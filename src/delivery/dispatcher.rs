//! The dispatcher loop: fan out new events and claim due jobs for the free
//! slots and the deck behind them ([`super::in_flight`]), start the attempts,
//! and when there is nothing to do, ask for the doorbell and wait.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, Pool};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::attempt::{self, AttemptKind, ClaimedJob, Finished};
use super::claim::{self, Ask};
use super::client::WebhookClient;
use super::fan_out::{self, Room};
use super::in_flight::{Caps, InFlight};
use super::janitor;
use super::keep_back::KeepBack;
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
/// After a fan-out that kept events back, the next one looks at twice as
/// many as it took, and at least as many as make this many jobs: the
/// kept-back events are looked at again each time, so the window follows
/// what actually fits and the statement stays short. A round that took
/// nothing (no room yet) leaves the window as it was.
const MIN_KEPT_WINDOW_JOBS: f64 = 8.0;
/// While events are kept back, wait for this many attempts to end (or as
/// many as an event makes jobs, if more; or [`LINGER_POLL`]) before the next
/// fan-out, so that it takes a batch and not one event per statement.
const REFILL_BATCH: usize = 16;
/// After the last work found, how long an idle dispatcher keeps polling
/// before it arms the doorbell, and how often it polls meanwhile. Under a
/// steady stream of events the next one is a moment away; arming at every
/// short gap would make every writer committing in that moment ring, and
/// notifying commits are serialized by PostgreSQL (see migrations/V7). Past
/// this window the stream has stopped and the doorbell takes over.
const IDLE_LINGER: Duration = Duration::from_millis(5);
const LINGER_POLL: Duration = Duration::from_millis(1);
/// Under a dense stream the wait grows by this much per event the last round
/// took, up to [`LINGER_POLL_MAX`]: a round costs the database about 0.2 ms
/// however few events it takes, so at 8 000 events/s rounds every
/// millisecond spent a tenth of a CPU on little more than their own
/// overhead. Below about 8 events per millisecond (the latency targets go to
/// 2 000 events/s) rounds stay [`LINGER_POLL`] apart; above, the wait grows
/// until each round takes up to 64 events. See [`linger_poll`].
const LINGER_PER_EVENT: Duration = Duration::from_micros(125);
const LINGER_POLL_MAX: Duration = Duration::from_millis(8);
/// How soon to look again and ask for the doorbell once more when writers'
/// transactions held its lock too long to take it (see [`Arming::Contended`]).
const ARM_RETRY: Duration = Duration::from_millis(20);
/// How often a busy dispatcher looks for due jobs when nothing it saw says
/// there are any: retries coming due, released jobs, other replicas'
/// overflow. Only waiting jobs are looked at, but it is still a round trip,
/// so it is not run on every 1 ms linger poll.
const CLAIM_EVERY: Duration = Duration::from_millis(50);

pub struct Worker {
    pool: Pool,
    client: WebhookClient,
    retry: RetryPolicy,
    bell: Arc<Doorbell>,
    metrics: Arc<Metrics>,
    replica: Uuid,
    concurrency: usize,
    caps: Caps,
    poll_interval: Duration,
    lease: Duration,
    delivery_timeout: Duration,
    shutdown_timeout: Duration,
    disable_after: Duration,
    notify: Option<crate::notify::Rules>,
}

/// The attempts in flight, shared with the attempt tasks that end them.
type Shared = Arc<Mutex<InFlight>>;

/// Where started attempts go.
struct Launch {
    attempts: JoinSet<()>,
    results: mpsc::Sender<Finished>,
    in_flight: Shared,
    /// Notified whenever an attempt ends: its slot (and its subscription's
    /// and consumer's room) is free again, or taken by a job from on deck.
    freed: Arc<Notify>,
    /// Attempts started, by the dispatcher or from on deck.
    started: Arc<AtomicU64>,
}

/// One slot's task: what it needs to run attempts and report them.
struct Slot {
    http: WebhookClient,
    retry: RetryPolicy,
    results: mpsc::Sender<Finished>,
    in_flight: Shared,
    freed: Arc<Notify>,
    metrics: Arc<Metrics>,
    started: Arc<AtomicU64>,
}

impl Slot {
    /// Runs `job`'s attempt, then the next job on deck that fits the slot it
    /// frees, until none does.
    async fn run(self, mut job: ClaimedJob) {
        loop {
            let finished = attempt::run(&job, &self.http, &self.retry).await;
            self.metrics.observe_attempt(
                &job.event_type,
                finished.kind.as_str(),
                finished.duration,
            );
            if finished.kind == AttemptKind::Delivered {
                let lag = (Utc::now() - job.occurred_at)
                    .num_microseconds()
                    .unwrap_or(0);
                self.metrics.delivery_lag.observe(lag.max(0) as f64 / 1e6);
            }
            let _ = self.results.send(finished).await;
            let next = {
                let mut in_flight = self.in_flight.lock().unwrap();
                in_flight.finish(job.id);
                in_flight.next_to_start(Instant::now())
            };
            self.freed.notify_one();
            let Some(next) = next else { break };
            self.started.fetch_add(1, Ordering::Relaxed);
            job = next;
        }
    }
}

/// What one round of [`Worker::take_work`] found.
struct Work {
    events: i64,
    started: usize,
    /// Fewer events and due jobs than asked for: the queue is empty for
    /// now, so looking again at once would only find nothing.
    drained: bool,
    /// Events were kept back in the outbox for want of room: look again
    /// once attempts have ended.
    kept_back: bool,
}

impl Work {
    /// Events fanned out or attempts started: the round was not empty.
    fn found_any(&self) -> bool {
        self.events > 0 || self.started > 0
    }
}

/// How many events the next fan-out looks at, and which it may keep back.
struct FanOutPacing {
    /// Jobs per event in the last fan-out, to size the next one to the free
    /// slots.
    jobs_per_event: f64,
    /// Set after a fan-out that kept events back: look at this many.
    window: Option<i64>,
    keep_back: KeepBack,
}

impl FanOutPacing {
    fn events(&self, free: i64) -> i64 {
        let sized = ((free as f64 / self.jobs_per_event.max(1.0)).ceil() as i64)
            .clamp(MIN_FAN_OUT, MAX_FAN_OUT);
        self.window.map_or(sized, |w| w.min(sized))
    }

    fn fanned_out(&mut self, batch: &fan_out::Batch, now: Instant) {
        if batch.events > 0 {
            self.jobs_per_event = batch.jobs as f64 / batch.events as f64;
        }
        self.window = match (batch.kept, batch.events) {
            (None, _) => None,
            (Some(_), 0) => self.window.or(Some(batch.looked_at)),
            (Some(_), taken) => {
                let least = (MIN_KEPT_WINDOW_JOBS / self.jobs_per_event.max(1.0)).ceil() as i64;
                Some((2 * taken).max(least).clamp(1, MAX_FAN_OUT))
            }
        };
        self.keep_back.kept(batch.kept, now);
    }
}

/// When the dispatcher runs the claim statement.
struct ClaimPacing {
    /// Claim no later than this.
    next: Instant,
    /// Due jobs this replica knows of are waiting: its fan-out had no room to
    /// lease them, or the last claim filled every free slot or met a cap.
    /// Claim every round until a claim comes back short.
    known_due: bool,
}

impl ClaimPacing {
    fn due(&self) -> bool {
        self.known_due || Instant::now() >= self.next
    }

    /// After a claim that got `claimed` of `asked`; `capped`: some
    /// subscription or consumer is now at its cap.
    fn claimed(&mut self, claimed: usize, asked: usize, capped: bool) {
        self.known_due = claimed >= asked || capped;
        self.next = Instant::now() + CLAIM_EVERY;
    }
}

/// What an idle dispatcher does next.
#[derive(Debug, PartialEq, Eq)]
enum Settle {
    /// Work was found a moment ago: poll again shortly.
    Linger,
    /// The doorbell was just armed: look once more (an event committed before
    /// the lock was granted rang nothing), then sleep.
    LookAgain,
    /// The lock was contended: look again shortly and ask once more.
    RetrySoon,
    /// Sleep until rung, nudged, or the next due job or poll.
    Sleep,
}

/// How long a lingering dispatcher waits before it looks again, after a
/// round that took `events` events.
fn linger_poll(events: i64) -> Duration {
    let events = u32::try_from(events).unwrap_or(u32::MAX);
    LINGER_PER_EVENT
        .saturating_mul(events)
        .clamp(LINGER_POLL, LINGER_POLL_MAX)
}

/// Going idle and arming the doorbell. Whether it is armed is the doorbell's
/// own state ([`Doorbell::is_armed`]), asked, never copied.
struct Idle {
    bell: Arc<Doorbell>,
    /// When the last round found work (the linger window starts there).
    last_work: Option<Instant>,
    /// Events the last round took: it sets the next linger poll.
    last_events: i64,
}

impl Idle {
    /// A round found work: the framework's writers need not ring.
    async fn busy(&mut self) {
        self.last_work = Some(Instant::now());
        if self.bell.is_armed() {
            self.bell.disarm().await;
        }
        // Busy: the next round looks anyway.
        self.bell.watching();
    }

    /// A round found nothing (more): what next.
    async fn settle(&mut self) -> Settle {
        if self.bell.is_armed() {
            // Armed and looked once more: any new event rings.
            self.bell.watching();
            return Settle::Sleep;
        }
        if self.last_work.is_some_and(|at| at.elapsed() < IDLE_LINGER) {
            return Settle::Linger;
        }
        match self.bell.arm().await {
            Arming::Armed => Settle::LookAgain,
            Arming::Elsewhere => {
                // Another replica's doorbell rings for us too.
                self.bell.watching();
                Settle::Sleep
            }
            Arming::Contended => {
                self.bell.watching();
                Settle::RetrySoon
            }
            Arming::Unavailable => Settle::Sleep,
        }
    }

    /// Rung once is enough: every further ringing commit waits on the notify
    /// lock, so stop them before looking.
    async fn rung(&mut self) {
        self.bell.disarm().await;
    }
}

impl Worker {
    pub fn new(
        config: &Config,
        pool: Pool,
        client: WebhookClient,
        bell: Arc<Doorbell>,
        metrics: Arc<Metrics>,
    ) -> Worker {
        let cap = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
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
            caps: Caps {
                per_subscription: cap(config.max_in_flight_per_subscription),
                per_consumer: cap(config.max_in_flight_per_consumer),
            },
            poll_interval: config.poll_interval,
            lease: config.lease(),
            delivery_timeout: config.delivery_timeout,
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
        let janitor = tokio::spawn(janitor::run(
            self.pool.clone(),
            self.bell.clone(),
            cancel.clone(),
        ));
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
        let mut launch = Launch {
            attempts: JoinSet::new(),
            results,
            in_flight: Arc::new(Mutex::new(InFlight::new(self.caps, self.concurrency))),
            freed: Arc::new(Notify::new()),
            started: Arc::new(AtomicU64::new(0)),
        };
        let freed = launch.freed.clone();
        let mut fan_out = FanOutPacing {
            jobs_per_event: 1.0,
            window: None,
            keep_back: KeepBack::default(),
        };
        let mut idle = Idle {
            bell: self.bell.clone(),
            last_work: None,
            last_events: 0,
        };
        let mut pacing = ClaimPacing {
            next: Instant::now(),
            known_due: true,
        };

        while !cancel.is_cancelled() {
            while launch.attempts.try_join_next().is_some() {}
            if self.lease_room(&launch) == 0 {
                // Lease more as soon as an attempt ends.
                tokio::select! {
                    _ = freed.notified() => continue,
                    _ = cancel.cancelled() => break,
                }
            }
            // Not raced against `cancel`: a statement dropped after it ran
            // would strand leased jobs. It only waits on its own queries.
            let round = self.take_work(&mut launch, &mut fan_out, &mut pacing).await;
            if let Ok(work) = &round {
                idle.last_events = work.events;
            }
            match round {
                Ok(work) if work.kept_back => {
                    // A round that took nothing found no room, and only
                    // attempts ending make any: looking again sooner costs a
                    // statement (2-3 ms of database time in a backlog) and
                    // finds nothing again.
                    let linger = work.found_any();
                    if linger {
                        idle.busy().await;
                    }
                    let until = fan_out.keep_back.deadline();
                    let want = REFILL_BATCH.max(fan_out.jobs_per_event.ceil() as usize);
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = self.refilled(&launch, want, until, linger) => continue,
                    }
                }
                Ok(work) if work.found_any() => {
                    idle.busy().await;
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
            // Attempts ending free room for due jobs a cap held back.
            let room_frees = pacing.known_due || launch.in_flight.lock().unwrap().any_at_cap();
            let wait = match idle.settle().await {
                Settle::LookAgain => continue,
                Settle::Linger => linger_poll(idle.last_events),
                Settle::RetrySoon => ARM_RETRY,
                Settle::Sleep => {
                    self.sleep(&mut idle, &freed, room_frees, &cancel).await;
                    // Whatever came due while asleep is claimed on waking.
                    pacing.next = Instant::now();
                    continue;
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.bell.nudged() => {}
                _ = freed.notified(), if room_frees => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.bell.disarm().await;
        let _ = janitor.await;
        let started = launch.started.clone();
        self.shut_down(launch, recorder).await;
        let started = started.load(Ordering::Relaxed);
        tracing::info!(attempts_started = started, "worker stopped");
    }

    /// How many more jobs this replica may lease (in flight and on deck).
    fn lease_room(&self, launch: &Launch) -> usize {
        launch.in_flight.lock().unwrap().lease_room()
    }

    /// While events are kept back: returns once `want` attempts have ended
    /// (or all of them; an attempt that ends starts the next job on deck, so
    /// leased jobs are counted), after [`LINGER_POLL`] if `linger` (else
    /// after the poll interval), or at `until` (when the kept-back events are
    /// to be taken anyway).
    async fn refilled(&self, launch: &Launch, want: usize, until: Option<Instant>, linger: bool) {
        let count = || launch.in_flight.lock().unwrap().leased();
        let before = count();
        let wait = if linger {
            LINGER_POLL
        } else {
            self.poll_interval
        };
        let mut until_at = Instant::now() + wait;
        if let Some(at) = until {
            until_at = until_at.min(at);
        }
        loop {
            let now = count();
            if now == 0 || before.saturating_sub(now) >= want {
                return;
            }
            tokio::select! {
                _ = launch.freed.notified() => {}
                _ = tokio::time::sleep_until(until_at) => return,
            }
        }
    }

    /// Sleeps until the next job is due, a NOTIFY, results that free
    /// capacity (nudges), an attempt ending while some cap holds jobs back,
    /// or the poll.
    async fn sleep(
        &self,
        idle: &mut Idle,
        freed: &Notify,
        room_frees: bool,
        cancel: &CancellationToken,
    ) {
        let deadline = match self.next_due().await {
            Ok(Some(due)) => {
                let wait = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                Instant::now() + wait.min(self.poll_interval)
            }
            _ => Instant::now() + self.poll_interval,
        };
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = self.bell.rung() => {
                self.metrics.wakeups.with_label_values(&["notification"]).inc();
                idle.rung().await;
            }
            _ = self.bell.nudged() => {
                self.metrics.wakeups.with_label_values(&["progress"]).inc();
            }
            _ = freed.notified(), if room_frees => {
                self.metrics.wakeups.with_label_values(&["progress"]).inc();
            }
            _ = tokio::time::sleep_until(deadline) => {
                self.metrics.wakeups.with_label_values(&["poll"]).inc();
            }
        }
    }

    /// Fans out new events, leasing the jobs it creates to the free slots,
    /// then claims due jobs (retries, expired leases, overflow) for the slots
    /// still free, and starts every attempt.
    async fn take_work(
        &self,
        launch: &mut Launch,
        fanning: &mut FanOutPacing,
        pacing: &mut ClaimPacing,
    ) -> anyhow::Result<Work> {
        let client = self.pool.get().await?;
        let lease_ms = self.lease.as_millis() as i64;
        let stale = launch.in_flight.lock().unwrap().take_stale(Instant::now());
        if !stale.is_empty() {
            tracing::debug!(released = stale.len(), "on deck too long; released");
            claim::release(&client, &stale).await?;
        }
        let free = self.lease_room(launch).min(CLAIM_BATCH) as i64;
        let events = fanning.events(free);
        let take_all = fanning.keep_back.take_all(Instant::now());
        let timer = std::time::Instant::now();
        let leased_at = Instant::now();
        let room = Room::new(
            free,
            lease_ms,
            self.replica,
            &launch.in_flight.lock().unwrap(),
        );
        let batch = fan_out::fan_out(&client, events, &room, take_all).await?;
        fanning.fanned_out(&batch, Instant::now());
        if batch.events > 0 || batch.kept.is_some() {
            tracing::debug!(
                looked_at = batch.looked_at,
                events = batch.events,
                jobs = batch.jobs,
                leased = batch.leased.len(),
                kept_back = batch.kept.is_some(),
                take_all,
                ms = timer.elapsed().as_millis() as u64,
                "fanned out"
            );
        }
        if batch.jobs > batch.leased.len() as i64 {
            pacing.known_due = true;
        }
        let kept_back = batch.kept.is_some();
        let mut started = self
            .start_all(&client, batch.leased, launch, leased_at)
            .await?;
        let mut drained = batch.looked_at < events && !kept_back;

        let free = self.lease_room(launch).min(CLAIM_BATCH) as i64;
        if free > 0 && pacing.due() {
            let ask = Ask::new(
                free,
                lease_ms,
                self.replica,
                &launch.in_flight.lock().unwrap(),
            );
            let timer = std::time::Instant::now();
            let leased_at = Instant::now();
            let jobs = claim::claim(&client, &ask).await?;
            let claimed = jobs.len();
            if claimed > 0 {
                tracing::debug!(
                    free,
                    claimed,
                    ms = timer.elapsed().as_millis() as u64,
                    "claimed"
                );
            }
            drained &= (claimed as i64) < free;
            started += self.start_all(&client, jobs, launch, leased_at).await?;
            let capped = launch.in_flight.lock().unwrap().any_at_cap();
            pacing.claimed(claimed, free as usize, capped);
        } else if free == 0 {
            // No slots, so no telling whether more is due.
            drained = false;
        }
        Ok(Work {
            events: batch.events,
            started,
            drained,
            kept_back,
        })
    }

    /// Puts jobs leased at `leased_at` on deck and starts those that fit the
    /// slots and caps; hands back the excess unattempted.
    async fn start_all(
        &self,
        client: &Client,
        jobs: Vec<ClaimedJob>,
        launch: &mut Launch,
        leased_at: Instant,
    ) -> anyhow::Result<usize> {
        let (start, excess) = launch.in_flight.lock().unwrap().admit(
            jobs,
            leased_at,
            self.lease,
            self.delivery_timeout,
        );
        if !excess.is_empty() {
            let back: Vec<(i64, i32)> = excess.iter().map(|j| (j.id, j.attempt)).collect();
            tracing::debug!(released = back.len(), "over a cap; released");
            claim::release(client, &back).await?;
        }
        let count = start.len();
        for job in start {
            let slot = Slot {
                http: self.client.clone(),
                retry: self.retry.clone(),
                results: launch.results.clone(),
                in_flight: launch.in_flight.clone(),
                freed: launch.freed.clone(),
                metrics: self.metrics.clone(),
                started: launch.started.clone(),
            };
            launch.attempts.spawn(slot.run(job));
        }
        launch.started.fetch_add(count as u64, Ordering::Relaxed);
        Ok(count)
    }

    async fn next_due(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql::JOBS_NEXT_DUE).await?;
        Ok(client.query_one(&stmt, &[]).await?.get(0))
    }

    async fn shut_down(&self, launch: Launch, recorder: tokio::task::JoinHandle<()>) {
        let Launch {
            mut attempts,
            results,
            in_flight,
            ..
        } = launch;
        // Nothing more starts; what waits on deck goes back at once, for
        // another replica (or the next start) to claim.
        let on_deck = in_flight.lock().unwrap().close();
        tracing::info!(
            in_flight = attempts.len(),
            on_deck = on_deck.len(),
            "worker stopping: no more claims"
        );
        let handed_back = async {
            let client = self.pool.get().await?;
            claim::release(&client, &on_deck).await
        };
        if let Err(e) = handed_back.await {
            tracing::warn!(error = %format_args!("{e:#}"), "could not hand back the jobs on deck; their leases will expire");
        }
        let drained = tokio::time::timeout(self.shutdown_timeout, async {
            while attempts.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            attempts.abort_all();
            while attempts.join_next().await.is_some() {}
            let unfinished = in_flight.lock().unwrap().take_all();
            tracing::warn!(
                released = unfinished.len(),
                "shutdown deadline reached; releasing unfinished attempts"
            );
            let released = async {
                let client = self.pool.get().await?;
                claim::release(&client, &unfinished).await
            };
            if let Err(e) = released.await {
                tracing::warn!(error = %format_args!("{e:#}"), "could not release jobs; their leases will expire");
            }
        }
        drop(results);
        let _ = recorder.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(looked_at: i64, events: i64, jobs: i64, kept: bool) -> fan_out::Batch {
        fan_out::Batch {
            looked_at,
            events,
            kept: kept.then_some((1, 2)),
            jobs,
            leased: Vec::new(),
        }
    }

    fn pacing() -> FanOutPacing {
        FanOutPacing {
            jobs_per_event: 1.0,
            window: None,
            keep_back: KeepBack::default(),
        }
    }

    #[test]
    fn a_lingering_dispatcher_looks_every_millisecond_unless_the_stream_is_dense() {
        assert_eq!(linger_poll(0), LINGER_POLL);
        assert_eq!(linger_poll(2), LINGER_POLL, "2 000 events/s");
        assert_eq!(linger_poll(8), LINGER_POLL);
        assert_eq!(linger_poll(16), Duration::from_millis(2));
        assert_eq!(linger_poll(64), LINGER_POLL_MAX);
        assert_eq!(linger_poll(1000), LINGER_POLL_MAX);
        assert_eq!(linger_poll(i64::MAX), LINGER_POLL_MAX);
    }

    #[test]
    fn the_window_is_sized_to_the_free_slots_until_events_are_kept_back() {
        let mut p = pacing();
        assert_eq!(p.events(500), 500);
        assert_eq!(p.events(10), MIN_FAN_OUT);
        p.fanned_out(&batch(500, 500, 3000, false), Instant::now());
        assert_eq!(p.events(500), 84, "six jobs per event");
    }

    #[test]
    fn after_keeping_back_it_looks_at_twice_what_fitted() {
        let mut p = pacing();
        // One subscription at its cap of 64: 64 of 448 taken.
        p.fanned_out(&batch(448, 64, 64, true), Instant::now());
        assert_eq!(p.events(448), 128);
        // A round with no room yet leaves the window alone.
        p.fanned_out(&batch(128, 0, 0, true), Instant::now());
        assert_eq!(p.events(448), 128);
        // Few taken: the window shrinks, to no fewer than make 8 jobs.
        p.fanned_out(&batch(128, 5, 5, true), Instant::now());
        assert_eq!(p.events(448), 10);
        p.fanned_out(&batch(10, 1, 1, true), Instant::now());
        assert_eq!(p.events(448), 8);
        // Nothing kept back: sized to the free slots again.
        p.fanned_out(&batch(128, 128, 128, false), Instant::now());
        assert_eq!(p.events(448), 448);
    }

    #[test]
    fn events_with_many_jobs_keep_a_small_window() {
        let mut p = pacing();
        // 200 subscriptions per event, room for two events.
        p.fanned_out(&batch(64, 2, 400, true), Instant::now());
        assert_eq!(p.events(500), 4);
    }
}
