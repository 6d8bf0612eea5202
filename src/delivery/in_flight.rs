//! The attempts in flight on this replica, counted per subscription and per
//! consumer for the two caps: a hanging receiver holds at most
//! `IHF_MAX_IN_FLIGHT_PER_SUBSCRIPTION` slots, and a consumer with many
//! subscriptions at most `IHF_MAX_IN_FLIGHT_PER_CONSUMER`, so the others keep
//! flowing. Kept up to date as attempts start and finish (no recount per
//! round); the fan-out and claim statements get the counts of the
//! subscriptions and consumers that have any.

use std::collections::HashMap;

use uuid::Uuid;

use super::attempt::ClaimedJob;

/// The caps, per replica.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub per_subscription: i32,
    pub per_consumer: i32,
}

#[derive(Debug, Clone, Copy)]
struct Running {
    attempt: i32,
    subscription: Uuid,
    consumer: Uuid,
}

#[derive(Debug)]
pub struct InFlight {
    caps: Caps,
    jobs: HashMap<i64, Running>,
    per_subscription: HashMap<Uuid, i32>,
    per_consumer: HashMap<Uuid, i32>,
    /// Subscriptions and consumers at their cap right now.
    at_cap: usize,
}

impl InFlight {
    pub fn new(caps: Caps) -> InFlight {
        InFlight {
            caps,
            jobs: HashMap::new(),
            per_subscription: HashMap::new(),
            per_consumer: HashMap::new(),
            at_cap: 0,
        }
    }

    pub fn caps(&self) -> Caps {
        self.caps
    }

    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Whether some subscription or consumer is at its cap: due jobs may be
    /// waiting for its room, so the next claim should not be put off.
    pub fn any_at_cap(&self) -> bool {
        self.at_cap > 0
    }

    /// How many more attempts `subscription` (of `consumer`) may start.
    pub fn room(&self, subscription: Uuid, consumer: Uuid) -> i32 {
        let sub = self
            .per_subscription
            .get(&subscription)
            .copied()
            .unwrap_or(0);
        let con = self.per_consumer.get(&consumer).copied().unwrap_or(0);
        (self.caps.per_subscription - sub)
            .min(self.caps.per_consumer - con)
            .max(0)
    }

    /// Splits leased jobs into those within both caps, now counted as in
    /// flight, and the excess, to be released without being attempted. The
    /// statements lease within the caps; this is the guarantee.
    pub fn admit(&mut self, jobs: Vec<ClaimedJob>) -> (Vec<ClaimedJob>, Vec<ClaimedJob>) {
        let mut admitted = Vec::with_capacity(jobs.len());
        let mut excess = Vec::new();
        for job in jobs {
            if self.room(job.subscription_id, job.consumer_id) > 0 {
                self.start(job.id, job.attempt, job.subscription_id, job.consumer_id);
                admitted.push(job);
            } else {
                excess.push(job);
            }
        }
        (admitted, excess)
    }

    fn start(&mut self, job: i64, attempt: i32, subscription: Uuid, consumer: Uuid) {
        let previous = self.jobs.insert(
            job,
            Running {
                attempt,
                subscription,
                consumer,
            },
        );
        debug_assert!(previous.is_none(), "job {job} started twice");
        let caps = self.caps;
        self.at_cap += usize::from(bump(
            &mut self.per_subscription,
            subscription,
            caps.per_subscription,
        ));
        self.at_cap += usize::from(bump(&mut self.per_consumer, consumer, caps.per_consumer));
    }

    /// The attempt of `job` ended (its result is on its way to the recorder).
    pub fn finish(&mut self, job: i64) {
        let Some(running) = self.jobs.remove(&job) else {
            return;
        };
        let caps = self.caps;
        self.at_cap -= usize::from(drop_one(
            &mut self.per_subscription,
            running.subscription,
            caps.per_subscription,
        ));
        self.at_cap -= usize::from(drop_one(
            &mut self.per_consumer,
            running.consumer,
            caps.per_consumer,
        ));
    }

    /// Subscriptions with attempts in flight, and how many, sorted by id
    /// (fan-out looks each one up by binary search).
    pub fn subscriptions(&self) -> (Vec<Uuid>, Vec<i32>) {
        sorted_by_id(&self.per_subscription)
    }

    /// Consumers with attempts in flight, and how many, sorted by id.
    pub fn consumers(&self) -> (Vec<Uuid>, Vec<i32>) {
        sorted_by_id(&self.per_consumer)
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
        (object(&self.per_subscription), object(&self.per_consumer))
    }

    /// Forgets every attempt and returns (job, attempt) of each, to release
    /// them on a shutdown that cannot wait.
    pub fn take_all(&mut self) -> Vec<(i64, i32)> {
        self.per_subscription.clear();
        self.per_consumer.clear();
        self.at_cap = 0;
        self.jobs.drain().map(|(job, r)| (job, r.attempt)).collect()
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

    #[test]
    fn a_consumer_never_gets_more_than_its_cap_across_its_subscriptions() {
        let mut in_flight = InFlight::new(Caps {
            per_subscription: 2,
            per_consumer: 3,
        });
        let (consumer, a, b) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let jobs = (0..4)
            .map(|i| job(i, a, consumer))
            .chain((4..8).map(|i| job(i, b, consumer)))
            .collect();
        let (admitted, excess) = in_flight.admit(jobs);
        assert_eq!(admitted.len(), 3, "2 of a, 1 of b");
        assert_eq!(excess.len(), 5);
        assert!(in_flight.any_at_cap());
        assert_eq!(in_flight.room(b, consumer), 0);
        assert_eq!(in_flight.room(b, Uuid::new_v4()), 1, "b itself has room");
    }

    #[test]
    fn finishing_frees_room_and_forgets_idle_subscriptions() {
        let mut in_flight = InFlight::new(Caps {
            per_subscription: 1,
            per_consumer: 10,
        });
        let (consumer, a) = (Uuid::new_v4(), Uuid::new_v4());
        in_flight.admit(vec![job(1, a, consumer)]);
        assert!(in_flight.any_at_cap());
        assert_eq!(in_flight.subscriptions().0, vec![a]);
        in_flight.finish(1);
        in_flight.finish(1);
        assert!(!in_flight.any_at_cap());
        assert!(in_flight.is_empty());
        assert!(in_flight.subscriptions().0.is_empty());
        assert_eq!(in_flight.room(a, consumer), 1);
    }

    #[test]
    fn the_busy_lists_are_sorted_by_id_and_stay_parallel() {
        let mut in_flight = InFlight::new(Caps {
            per_subscription: 64,
            per_consumer: 640,
        });
        let consumers: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
        let subscriptions: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
        // Subscription i gets i + 1 attempts, so the counts tell them apart.
        let jobs = subscriptions
            .iter()
            .enumerate()
            .flat_map(|(i, s)| (0..=i).map(move |n| (i, n, *s)))
            .map(|(i, n, s)| job((i * 100 + n) as i64, s, consumers[i % 20]))
            .collect();
        in_flight.admit(jobs);
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
    fn taking_all_returns_each_job_with_its_attempt() {
        let mut in_flight = InFlight::new(Caps {
            per_subscription: 5,
            per_consumer: 5,
        });
        let mut j = job(7, Uuid::new_v4(), Uuid::new_v4());
        j.attempt = 3;
        in_flight.admit(vec![j]);
        assert_eq!(in_flight.take_all(), vec![(7, 3)]);
        assert!(!in_flight.any_at_cap());
    }
}
