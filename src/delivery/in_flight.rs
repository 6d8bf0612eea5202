//! The jobs leased to this replica: the attempts in flight, counted per
//! subscription and per consumer for the two caps, and the next jobs on deck.
//!
//! The caps: a hanging receiver holds at most
//! `IHF_MAX_IN_FLIGHT_PER_SUBSCRIPTION` slots, and a consumer with many
//! subscriptions at most `IHF_MAX_IN_FLIGHT_PER_CONSUMER`, so the others keep
//! flowing.
//!
//! On deck: the statements lease up to twice the caps (and twice the slots).
//! The jobs that cannot start yet wait here, in the order they were leased,
//! and the moment an attempt ends the first of them that fits starts, from
//! memory, in the ended attempt's own task. Without them a freed slot sat
//! empty until the dispatcher's next statement (a round trip and 1-3 ms of
//! database time while other slots freed too): with the receiver answering
//! at once, a subscription at its cap used about half its slots. A job on
//! deck holds no slot and sends nothing, so the caps on what receivers see
//! are unchanged; it is leased like one in flight, so a replica that dies
//! loses nothing (its leases expire), and one that stops hands it back. A
//! job waits on deck for [`ON_DECK_AT_MOST`] at most, and only while its
//! lease leaves a full attempt's time; one left there longer is handed back
//! (due again, for the next claim). So a subscription paused or deleted
//! sends nothing it did not lease within that bound before.
//!
//! Kept up to date as jobs are leased, start and finish (no recount per
//! round); the fan-out and claim statements get the counts of leased jobs
//! of the subscriptions and consumers that have any.

use std::collections::{HashMap, VecDeque};

use tokio::time::Instant;
use uuid::Uuid;

use super::attempt::ClaimedJob;

/// How long a job may wait on deck: its subscription's attempts end in
/// milliseconds unless its receiver is slow, and then the job is better
/// handed back than sent long after it was leased (its subscription may have
/// been paused since).
pub const ON_DECK_AT_MOST: std::time::Duration = std::time::Duration::from_secs(2);

/// The caps on attempts in flight, per replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub per_subscription: i32,
    pub per_consumer: i32,
}

impl Caps {
    /// Jobs leased at most (in flight and on deck): as many again as may run.
    pub fn leased(self) -> Caps {
        Caps {
            per_subscription: self.per_subscription.saturating_mul(2),
            per_consumer: self.per_consumer.saturating_mul(2),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Running {
    attempt: i32,
    subscription: Uuid,
    consumer: Uuid,
}

/// A leased job waiting for room to start.
#[derive(Debug)]
struct OnDeck {
    job: ClaimedJob,
    /// After this its lease no longer covers a whole attempt.
    start_by: Instant,
}

/// Jobs per subscription and per consumer.
#[derive(Debug, Default)]
struct Counts {
    per_subscription: HashMap<Uuid, i32>,
    per_consumer: HashMap<Uuid, i32>,
}

impl Counts {
    fn of(&self, subscription: Uuid, consumer: Uuid) -> (i32, i32) {
        (
            self.per_subscription
                .get(&subscription)
                .copied()
                .unwrap_or(0),
            self.per_consumer.get(&consumer).copied().unwrap_or(0),
        )
    }

    /// Counts one more; how many of the two reached `caps`.
    fn bump(&mut self, subscription: Uuid, consumer: Uuid, caps: Caps) -> usize {
        usize::from(bump(
            &mut self.per_subscription,
            subscription,
            caps.per_subscription,
        )) + usize::from(bump(&mut self.per_consumer, consumer, caps.per_consumer))
    }

    /// Counts one fewer; how many of the two were at `caps`.
    fn drop_one(&mut self, subscription: Uuid, consumer: Uuid, caps: Caps) -> usize {
        usize::from(drop_one(
            &mut self.per_subscription,
            subscription,
            caps.per_subscription,
        )) + usize::from(drop_one(
            &mut self.per_consumer,
            consumer,
            caps.per_consumer,
        ))
    }
}

#[derive(Debug)]
pub struct InFlight {
    caps: Caps,
    /// Attempts in flight at most (`IHF_WORKER_CONCURRENCY`).
    slots: usize,
    running: HashMap<i64, Running>,
    running_counts: Counts,
    on_deck: VecDeque<OnDeck>,
    /// In flight and on deck: what the statements lease against.
    leased_counts: Counts,
    /// Subscriptions and consumers at their lease cap right now.
    at_cap: usize,
    /// Stopping: nothing more starts.
    closed: bool,
}

impl InFlight {
    pub fn new(caps: Caps, slots: usize) -> InFlight {
        InFlight {
            caps,
            slots,
            running: HashMap::new(),
            running_counts: Counts::default(),
            on_deck: VecDeque::new(),
            leased_counts: Counts::default(),
            at_cap: 0,
            closed: false,
        }
    }

    /// The caps the statements lease within (in flight and on deck).
    pub fn lease_caps(&self) -> Caps {
        self.caps.leased()
    }

    /// Jobs leased to this replica: in flight and on deck.
    pub fn leased(&self) -> usize {
        self.running.len() + self.on_deck.len()
    }

    /// How many more jobs the statements may lease: as many on deck as there
    /// are slots.
    pub fn lease_room(&self) -> usize {
        (2 * self.slots).saturating_sub(self.leased())
    }

    /// Whether some subscription or consumer is at its lease cap: due jobs
    /// may be waiting for its room, so the next claim should not be put off.
    pub fn any_at_cap(&self) -> bool {
        self.at_cap > 0
    }

    /// How many more attempts `subscription` (of `consumer`) may start.
    fn room(&self, subscription: Uuid, consumer: Uuid) -> i32 {
        let (sub, con) = self.running_counts.of(subscription, consumer);
        (self.caps.per_subscription - sub)
            .min(self.caps.per_consumer - con)
            .max(0)
    }

    /// Takes jobs just leased (at `leased_at` at the earliest, each for
    /// `lease`): puts on deck those within the lease caps and returns them
    /// with the excess, to be released without being attempted. The
    /// statements lease within the caps; this is the guarantee. Then starts
    /// what fits ([`InFlight::start_ready`]). A job on deck starts within
    /// [`ON_DECK_AT_MOST`], and only while its lease has more than `attempt`
    /// (the delivery timeout) plus half of the rest left.
    pub fn admit(
        &mut self,
        jobs: Vec<ClaimedJob>,
        leased_at: Instant,
        lease: std::time::Duration,
        attempt: std::time::Duration,
    ) -> (Vec<ClaimedJob>, Vec<ClaimedJob>) {
        let start_by = leased_at + ON_DECK_AT_MOST.min(lease.saturating_sub(attempt) / 2);
        let lease_caps = self.lease_caps();
        let mut excess = Vec::new();
        for job in jobs {
            let (sub, con) = self.leased_counts.of(job.subscription_id, job.consumer_id);
            let fits = sub < lease_caps.per_subscription
                && con < lease_caps.per_consumer
                && self.lease_room() > 0;
            if fits && !self.closed {
                self.at_cap +=
                    self.leased_counts
                        .bump(job.subscription_id, job.consumer_id, lease_caps);
                self.on_deck.push_back(OnDeck { job, start_by });
            } else {
                excess.push(job);
            }
        }
        (self.start_ready(leased_at), excess)
    }

    /// Starts every job on deck that fits now, in the order leased.
    pub fn start_ready(&mut self, now: Instant) -> Vec<ClaimedJob> {
        std::iter::from_fn(|| self.next_to_start(now)).collect()
    }

    /// The first job on deck that fits the slots and the caps, now counted
    /// as in flight; skips those whose lease is too short (see
    /// [`InFlight::take_stale`]).
    pub fn next_to_start(&mut self, now: Instant) -> Option<ClaimedJob> {
        if self.closed || self.running.len() >= self.slots {
            return None;
        }
        let at = self.on_deck.iter().position(|d| {
            now <= d.start_by && self.room(d.job.subscription_id, d.job.consumer_id) > 0
        })?;
        let job = self.on_deck.remove(at)?.job;
        let previous = self.running.insert(
            job.id,
            Running {
                attempt: job.attempt,
                subscription: job.subscription_id,
                consumer: job.consumer_id,
            },
        );
        debug_assert!(previous.is_none(), "job {} started twice", job.id);
        self.running_counts
            .bump(job.subscription_id, job.consumer_id, self.caps);
        Some(job)
    }

    /// The attempt of `job` ended (its result is on its way to the recorder).
    pub fn finish(&mut self, job: i64) {
        let Some(running) = self.running.remove(&job) else {
            return;
        };
        self.running_counts
            .drop_one(running.subscription, running.consumer, self.caps);
        self.forget_lease(running.subscription, running.consumer);
    }

    fn forget_lease(&mut self, subscription: Uuid, consumer: Uuid) {
        let lease_caps = self.lease_caps();
        self.at_cap -= self
            .leased_counts
            .drop_one(subscription, consumer, lease_caps);
    }

    /// Takes off deck the jobs whose lease no longer covers an attempt, and
    /// returns (job, attempt) of each, to hand them back.
    pub fn take_stale(&mut self, now: Instant) -> Vec<(i64, i32)> {
        // Every job gets the same time on deck, so the deck's lease order is
        // also the order of their deadlines: the stale ones are in front.
        let fresh_from = self
            .on_deck
            .iter()
            .position(|d| now <= d.start_by)
            .unwrap_or(self.on_deck.len());
        let stale: VecDeque<OnDeck> = self.on_deck.drain(..fresh_from).collect();
        self.hand_back(stale)
    }

    /// Stops starting jobs, and returns (job, attempt) of each job on deck,
    /// to hand them back.
    pub fn close(&mut self) -> Vec<(i64, i32)> {
        self.closed = true;
        let on_deck = std::mem::take(&mut self.on_deck);
        self.hand_back(on_deck)
    }

    fn hand_back(&mut self, jobs: VecDeque<OnDeck>) -> Vec<(i64, i32)> {
        jobs.into_iter()
            .map(|d| {
                self.forget_lease(d.job.subscription_id, d.job.consumer_id);
                (d.job.id, d.job.attempt)
            })
            .collect()
    }

    /// Subscriptions with jobs leased here, and how many, sorted by id
    /// (fan-out looks each one up by binary search).
    pub fn subscriptions(&self) -> (Vec<Uuid>, Vec<i32>) {
        sorted_by_id(&self.leased_counts.per_subscription)
    }

    /// Consumers with jobs leased here, and how many, sorted by id.
    pub fn consumers(&self) -> (Vec<Uuid>, Vec<i32>) {
        sorted_by_id(&self.leased_counts.per_consumer)
    }

    /// The same as JSON objects id → count (for the claim, which looks them
    /// up per subscription it visits).
    pub fn as_json(&self) -> (serde_json::Value, serde_json::Value) {
        let object = |counts: &HashMap<Uuid, i32>| {
            serde_json::Value::Object(
                counts
                    .iter()
                    .map(|(k, v)| (k.to_string(), (*v).into()))
                    .collect(),
            )
        };
        (
            object(&self.leased_counts.per_subscription),
            object(&self.leased_counts.per_consumer),
        )
    }

    /// Forgets every attempt in flight and returns (job, attempt) of each, to
    /// release them on a shutdown that cannot wait.
    pub fn take_all(&mut self) -> Vec<(i64, i32)> {
        let running: Vec<Running> = self.running.values().copied().collect();
        for r in running {
            self.running_counts
                .drop_one(r.subscription, r.consumer, self.caps);
            self.forget_lease(r.subscription, r.consumer);
        }
        self.running
            .drain()
            .map(|(job, r)| (job, r.attempt))
            .collect()
    }
}

/// Counts one more; true when that reaches the cap.
fn bump(counts: &mut HashMap<Uuid, i32>, key: Uuid, cap: i32) -> bool {
    let n = counts.entry(key).or_default();
    *n += 1;
    *n == cap
}

/// The counts as two parallel columns sorted by id. `Uuid` orders by its
/// bytes, as PostgreSQL's `uuid` does, so `width_bucket` can search them.
fn sorted_by_id(counts: &HashMap<Uuid, i32>) -> (Vec<Uuid>, Vec<i32>) {
    let mut pairs: Vec<(Uuid, i32)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
    pairs.sort_unstable_by_key(|(id, _)| *id);
    pairs.into_iter().unzip()
}

/// Counts one fewer; true when it was at the cap.
fn drop_one(counts: &mut HashMap<Uuid, i32>, key: Uuid, cap: i32) -> bool {
    let Some(n) = counts.get_mut(&key) else {
        return false;
    };
    let was_at_cap = *n == cap;
    *n -= 1;
    if *n <= 0 {
        counts.remove(&key);
    }
    was_at_cap
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn job(id: i64, subscription: Uuid, consumer: Uuid) -> ClaimedJob {
        ClaimedJob {
            id,
            attempt: 1,
            event_id: Uuid::nil(),
            subscription_id: subscription,
            consumer_id: consumer,
            body: String::new(),
            envelope_logged: false,
            event_type: String::new(),
            occurred_at: chrono::Utc::now(),
            target_url: String::new(),
            secret: String::new(),
            previous_secret: None,
            active: true,
            stored_headers: serde_json::Value::Null,
        }
    }

    const LEASE: Duration = Duration::from_secs(40);
    const ATTEMPT: Duration = Duration::from_secs(15);

    fn in_flight(per_subscription: i32, per_consumer: i32, slots: usize) -> InFlight {
        InFlight::new(
            Caps {
                per_subscription,
                per_consumer,
            },
            slots,
        )
    }

    fn admit(in_flight: &mut InFlight, jobs: Vec<ClaimedJob>) -> (Vec<i64>, Vec<i64>) {
        let (start, excess) = in_flight.admit(jobs, Instant::now(), LEASE, ATTEMPT);
        let ids = |jobs: Vec<ClaimedJob>| jobs.into_iter().map(|j| j.id).collect();
        (ids(start), ids(excess))
    }

    #[test]
    fn a_consumer_never_runs_more_than_its_cap_across_its_subscriptions() {
        let mut in_flight = in_flight(2, 3, 100);
        let (consumer, a, b) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let jobs = (0..6)
            .map(|i| job(i, a, consumer))
            .chain((6..10).map(|i| job(i, b, consumer)))
            .collect();
        let (started, excess) = admit(&mut in_flight, jobs);
        assert_eq!(started, vec![0, 1, 6], "2 of a, then 1 of b");
        // Leased at most twice the caps: a 4, the consumer 6.
        assert_eq!(excess, vec![4, 5, 8, 9]);
        assert_eq!(in_flight.leased(), 6);
        assert!(in_flight.any_at_cap());
        assert_eq!(in_flight.room(b, consumer), 0);
        assert_eq!(in_flight.room(b, Uuid::new_v4()), 1, "b itself has room");
    }

    #[test]
    fn an_attempt_that_ends_starts_the_first_job_on_deck_that_fits() {
        let mut in_flight = in_flight(2, 10, 100);
        let (consumer, a, b) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let jobs = vec![
            job(1, a, consumer),
            job(2, a, consumer),
            job(3, a, consumer),
            job(4, b, consumer),
            job(5, a, consumer),
        ];
        let (started, _) = admit(&mut in_flight, jobs);
        assert_eq!(started, vec![1, 2, 4], "a is at its cap: 3 and 5 wait");
        assert_eq!(in_flight.next_to_start(Instant::now()).map(|j| j.id), None);
        // b's attempt ends: b has room, but nothing of b is on deck.
        in_flight.finish(4);
        assert_eq!(in_flight.next_to_start(Instant::now()).map(|j| j.id), None);
        // One of a's ends: the oldest of a's on deck takes the slot.
        in_flight.finish(1);
        assert_eq!(
            in_flight.next_to_start(Instant::now()).map(|j| j.id),
            Some(3)
        );
        assert_eq!(in_flight.next_to_start(Instant::now()).map(|j| j.id), None);
        in_flight.finish(2);
        in_flight.finish(3);
        assert_eq!(in_flight.start_ready(Instant::now()).len(), 1);
        in_flight.finish(5);
        assert_eq!(in_flight.leased(), 0);
        assert!(!in_flight.any_at_cap());
        assert!(in_flight.subscriptions().0.is_empty());
    }

    #[test]
    fn no_more_attempts_run_than_there_are_slots_and_as_many_again_wait() {
        let mut in_flight = in_flight(64, 640, 3);
        let jobs = (0..10)
            .map(|i| job(i, Uuid::new_v4(), Uuid::new_v4()))
            .collect();
        let (started, excess) = admit(&mut in_flight, jobs);
        assert_eq!(started, vec![0, 1, 2]);
        assert_eq!(excess, vec![6, 7, 8, 9], "three on deck at most");
        assert_eq!(in_flight.lease_room(), 0);
        in_flight.finish(0);
        assert_eq!(
            in_flight.next_to_start(Instant::now()).map(|j| j.id),
            Some(3)
        );
        assert_eq!(in_flight.lease_room(), 1);
    }

    #[test]
    fn a_job_left_on_deck_too_long_is_handed_back_not_started() {
        // (lease, delivery timeout): how long a job may wait on deck.
        for (lease, attempt, waits) in [
            (LEASE, ATTEMPT, ON_DECK_AT_MOST),
            // A short lease margin: half of it, so an attempt started at
            // the last moment still ends within its lease.
            (
                ATTEMPT + Duration::from_secs(1),
                ATTEMPT,
                Duration::from_millis(500),
            ),
        ] {
            let mut in_flight = in_flight(1, 10, 100);
            let (consumer, a) = (Uuid::new_v4(), Uuid::new_v4());
            let leased_at = Instant::now();
            let mut second = job(2, a, consumer);
            second.attempt = 4;
            let (started, _) =
                in_flight.admit(vec![job(1, a, consumer), second], leased_at, lease, attempt);
            assert_eq!(started.len(), 1);
            assert!(in_flight.take_stale(leased_at + waits).is_empty());
            in_flight.finish(1);
            let late = leased_at + waits + Duration::from_millis(1);
            assert!(in_flight.next_to_start(late).is_none());
            assert_eq!(in_flight.take_stale(late), vec![(2, 4)]);
            assert_eq!(in_flight.leased(), 0);
            assert!(in_flight.subscriptions().0.is_empty());
        }
    }

    #[test]
    fn only_the_jobs_on_deck_past_their_time_are_handed_back() {
        let mut in_flight = in_flight(2, 10, 100);
        let (consumer, a) = (Uuid::new_v4(), Uuid::new_v4());
        let first = Instant::now();
        let later = first + Duration::from_millis(500);
        let jobs = (1..=3).map(|i| job(i, a, consumer)).collect();
        let (started, _) = in_flight.admit(jobs, first, LEASE, ATTEMPT);
        assert_eq!(started.len(), 2, "job 3 waits on deck");
        let (started, _) = in_flight.admit(vec![job(4, a, consumer)], later, LEASE, ATTEMPT);
        assert!(started.is_empty(), "job 4 waits on deck");
        let between = first + ON_DECK_AT_MOST + Duration::from_millis(250);
        assert_eq!(in_flight.take_stale(between), vec![(3, 1)]);
        assert_eq!(in_flight.leased(), 3);
        in_flight.finish(1);
        assert_eq!(in_flight.next_to_start(between).map(|j| j.id), Some(4));
    }

    /// Subscription `a` (of `consumer`) with a cap of 1: job 1 in flight,
    /// job 2 on deck.
    fn one_running_one_on_deck() -> (InFlight, Uuid, Uuid) {
        let mut in_flight = in_flight(1, 10, 100);
        let (consumer, a) = (Uuid::new_v4(), Uuid::new_v4());
        let (started, _) = admit(
            &mut in_flight,
            vec![job(1, a, consumer), job(2, a, consumer)],
        );
        assert_eq!(started, vec![1]);
        (in_flight, consumer, a)
    }

    #[test]
    fn closing_hands_back_what_is_on_deck_and_starts_nothing_more() {
        let (mut in_flight, consumer, a) = one_running_one_on_deck();
        assert_eq!(in_flight.close(), vec![(2, 1)]);
        in_flight.finish(1);
        assert!(in_flight.next_to_start(Instant::now()).is_none());
        let (started, excess) = admit(&mut in_flight, vec![job(3, a, consumer)]);
        assert!(started.is_empty());
        assert_eq!(excess, vec![3]);
    }

    #[test]
    fn the_statements_see_the_jobs_on_deck_and_twice_the_caps() {
        let (in_flight, consumer, a) = one_running_one_on_deck();
        assert_eq!(in_flight.subscriptions(), (vec![a], vec![2]));
        assert_eq!(in_flight.consumers(), (vec![consumer], vec![2]));
        assert_eq!(
            in_flight.lease_caps(),
            Caps {
                per_subscription: 2,
                per_consumer: 20
            }
        );
        assert!(in_flight.any_at_cap(), "a is at its lease cap");
    }

    #[test]
    fn the_busy_lists_are_sorted_by_id_and_stay_parallel() {
        let mut in_flight = in_flight(64, 640, 10_000);
        let consumers: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
        let subscriptions: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
        // Subscription i gets i + 1 attempts, so the counts tell them apart.
        let jobs = subscriptions
            .iter()
            .enumerate()
            .flat_map(|(i, s)| (0..=i).map(move |n| (i, n, *s)))
            .map(|(i, n, s)| job((i * 100 + n) as i64, s, consumers[i % 20]))
            .collect();
        admit(&mut in_flight, jobs);
        let (ids, counts) = in_flight.subscriptions();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        for (id, count) in ids.iter().zip(&counts) {
            let i = subscriptions.iter().position(|s| s == id).unwrap();
            assert_eq!(*count, i as i32 + 1);
        }
        let (ids, counts) = in_flight.consumers();
        assert_eq!(ids.len(), 20);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(counts.iter().sum::<i32>(), (1..=50).sum::<i32>());
        // PostgreSQL compares uuids byte by byte: the same order.
        let bytes: Vec<[u8; 16]> = ids.iter().map(|id| *id.as_bytes()).collect();
        assert!(bytes.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn taking_all_returns_each_attempt_in_flight_with_its_number() {
        let mut in_flight = in_flight(5, 5, 100);
        let mut j = job(7, Uuid::new_v4(), Uuid::new_v4());
        j.attempt = 3;
        admit(&mut in_flight, vec![j]);
        assert_eq!(in_flight.take_all(), vec![(7, 3)]);
        assert!(!in_flight.any_at_cap());
        assert_eq!(in_flight.leased(), 0);
    }
}
