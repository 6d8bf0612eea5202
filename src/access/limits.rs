//! Per-consumer rate limit (`rate_limit_per_minute` in any rolling minute) and
//! daily quota (`quota_per_day` per UTC day), decided in memory so a request
//! costs no database round trip.
//!
//! The minute limit is exact within a replica: it keeps the times of the
//! requests it admitted in the last minute. The daily count is shared through
//! `api_consumers.quota_used`: every replica adds what it admitted every sync
//! interval and reads back everyone's total ([`Limiter::sync`]). Between syncs a
//! replica knows its own requests exactly and the others' as of the last sync.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use uuid::Uuid;

use crate::db::sql;

/// How long a consumer's state is kept after its last request (once nothing
/// is left to sync); it is seeded again from the database on the next one.
const IDLE_EVICTION_MS: i64 = 120_000;
const MINUTE_MS: i64 = 60_000;

/// A consumer's limits, as configured in `api_consumers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_minute: u32,
    pub per_day: u64,
}

impl Limits {
    /// From the database columns; non-positive values (which the API refuses)
    /// are read as 1, so a bad row limits rather than opens.
    pub fn from_columns(per_minute: i32, per_day: i32) -> Limits {
        Limits {
            per_minute: per_minute.max(1) as u32,
            per_day: per_day.max(1) as u64,
        }
    }
}

/// The daily window as the database last said: `used` requests in the window
/// ending at `resets_at`.
#[derive(Debug, Clone, Copy)]
pub struct DailyCount {
    pub used: i64,
    pub resets_at: DateTime<Utc>,
}

/// One policy's state after a decision, for the `RateLimit` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyState {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until more of this quota becomes available.
    pub reset_secs: u64,
}

/// The limiter's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub minute: PolicyState,
    pub day: PolicyState,
    /// The policies that refused the request: `minute`, `day` or both.
    pub violated: Vec<&'static str>,
    /// For a refusal: seconds until a request would be admitted.
    pub retry_after_secs: u64,
    /// When the daily window ends.
    pub day_resets_at: DateTime<Utc>,
}

/// The next UTC midnight strictly after `now`.
pub fn next_utc_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    (now.date_naive() + Duration::days(1))
        .and_time(NaiveTime::MIN)
        .and_utc()
}

/// Whole seconds from `now_ms` until `at_ms`, rounded up, never negative.
fn secs_until(now_ms: i64, at_ms: i64) -> u64 {
    ((at_ms - now_ms).max(0) as u64).div_ceil(1000)
}

/// One consumer's state on this replica.
#[derive(Debug)]
struct Window {
    limits: Limits,
    /// Times (ms since the epoch) of the requests admitted in the last minute.
    recent: VecDeque<i64>,
    /// End of the daily window the counts below belong to.
    resets_at: DateTime<Utc>,
    /// Everyone's count as of the last sync.
    base: i64,
    /// Admitted here and being written by a sync right now.
    in_flight: i64,
    /// Admitted here since the last sync started.
    pending: i64,
    last_seen_ms: i64,
}

impl Window {
    fn new(limits: Limits, seed: DailyCount) -> Window {
        Window {
            limits,
            recent: VecDeque::new(),
            resets_at: seed.resets_at,
            base: seed.used,
            in_flight: 0,
            pending: 0,
            last_seen_ms: 0,
        }
    }

    fn used_today(&self) -> i64 {
        self.base + self.in_flight + self.pending
    }

    /// Forgets what no longer counts at `now`: requests older than a minute,
    /// and the daily count once its window has ended.
    fn advance(&mut self, now: DateTime<Utc>) {
        let now_ms = now.timestamp_millis();
        while self
            .recent
            .front()
            .is_some_and(|&t| t <= now_ms - MINUTE_MS)
        {
            self.recent.pop_front();
        }
        if now >= self.resets_at {
            // A sync in flight carries the old window's end; the database drops it.
            self.resets_at = next_utc_midnight(now);
            self.base = 0;
            self.in_flight = 0;
            self.pending = 0;
        }
    }

    fn state(&self, now: DateTime<Utc>) -> (PolicyState, PolicyState) {
        let now_ms = now.timestamp_millis();
        let per_minute = u64::from(self.limits.per_minute);
        let minute = PolicyState {
            limit: per_minute,
            remaining: per_minute.saturating_sub(self.recent.len() as u64),
            reset_secs: self
                .recent
                .front()
                .map_or(0, |&t| secs_until(now_ms, t + MINUTE_MS)),
        };
        let day = PolicyState {
            limit: self.limits.per_day,
            remaining: self
                .limits
                .per_day
                .saturating_sub(self.used_today().max(0) as u64),
            reset_secs: secs_until(now_ms, self.resets_at.timestamp_millis()),
        };
        (minute, day)
    }
}

/// The in-memory limiter of one replica.
#[derive(Debug, Default)]
pub struct Limiter {
    windows: Mutex<HashMap<Uuid, Window>>,
}

impl Limiter {
    /// Admits or refuses one request of `consumer` at `now`. `limits` are the
    /// consumer's current limits; `seed` its daily count, read only when this
    /// replica has no state for it yet.
    pub fn admit(
        &self,
        consumer: Uuid,
        limits: Limits,
        seed: DailyCount,
        now: DateTime<Utc>,
    ) -> Decision {
        let now_ms = now.timestamp_millis();
        let mut windows = self.windows.lock().expect("limiter lock");
        let w = windows
            .entry(consumer)
            .or_insert_with(|| Window::new(limits, seed));
        w.limits = limits;
        w.last_seen_ms = now_ms;
        w.advance(now);

        let minute_full = w.recent.len() as u64 >= u64::from(limits.per_minute);
        let day_full = w.used_today().max(0) as u64 >= limits.per_day;
        let mut violated = Vec::new();
        let mut retry_after_secs = 0;
        if day_full {
            violated.push("day");
            retry_after_secs = secs_until(now_ms, w.resets_at.timestamp_millis()).max(1);
        }
        if minute_full {
            violated.push("minute");
            // Admitted again once enough of the oldest requests leave the window.
            let excess = w.recent.len() - limits.per_minute as usize;
            let frees_at = w.recent[excess] + MINUTE_MS;
            retry_after_secs = retry_after_secs.max(secs_until(now_ms, frees_at).max(1));
        }
        let allowed = violated.is_empty();
        if allowed {
            w.recent.push_back(now_ms);
            w.pending += 1;
        }
        let (minute, day) = w.state(now);
        Decision {
            allowed,
            minute,
            day,
            violated,
            retry_after_secs,
            day_resets_at: w.resets_at,
        }
    }

    /// Takes what each consumer admitted since the last sync, to be written:
    /// (consumer, window end, count). Forgets consumers idle for a while.
    fn start_sync(&self, now: DateTime<Utc>) -> Vec<(Uuid, DateTime<Utc>, i64)> {
        let now_ms = now.timestamp_millis();
        let mut windows = self.windows.lock().expect("limiter lock");
        windows.retain(|_, w| {
            w.advance(now);
            w.pending > 0 || w.in_flight > 0 || now_ms - w.last_seen_ms < IDLE_EVICTION_MS
        });
        windows
            .iter_mut()
            .map(|(id, w)| {
                w.in_flight += w.pending;
                w.pending = 0;
                (*id, w.resets_at, w.in_flight)
            })
            .collect()
    }

    /// Adopts the database's answer for one consumer after a sync.
    fn finish_sync(&self, consumer: Uuid, daily: DailyCount, limits: Limits, active: bool) {
        let mut windows = self.windows.lock().expect("limiter lock");
        if !active {
            windows.remove(&consumer);
            return;
        }
        if let Some(w) = windows.get_mut(&consumer) {
            w.base = daily.used;
            w.resets_at = daily.resets_at;
            w.in_flight = 0;
            w.limits = limits;
        }
    }

    /// A failed sync: what was being written is written next time.
    fn abort_sync(&self) {
        let mut windows = self.windows.lock().expect("limiter lock");
        for w in windows.values_mut() {
            w.pending += w.in_flight;
            w.in_flight = 0;
        }
    }

    /// Adds this replica's admitted requests to the shared daily counts and
    /// adopts everyone's totals (and changed limits).
    pub async fn sync(
        &self,
        client: &deadpool_postgres::Client,
    ) -> Result<(), tokio_postgres::Error> {
        let batch = self.start_sync(Utc::now());
        if batch.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(batch.len());
        let mut ends = Vec::with_capacity(batch.len());
        let mut deltas = Vec::with_capacity(batch.len());
        for (id, end, delta) in batch {
            ids.push(id);
            ends.push(end);
            deltas.push(delta);
        }
        let stmt = match client.prepare_cached(sql::CONSUMERS_SYNC_QUOTA).await {
            Ok(stmt) => stmt,
            Err(e) => {
                self.abort_sync();
                return Err(e);
            }
        };
        let rows = match client.query(&stmt, &[&ids, &ends, &deltas]).await {
            Ok(rows) => rows,
            Err(e) => {
                self.abort_sync();
                return Err(e);
            }
        };
        let mut seen = std::collections::HashSet::new();
        for row in &rows {
            let id: Uuid = row.get("id");
            seen.insert(id);
            self.finish_sync(
                id,
                DailyCount {
                    used: row.get("quota_used"),
                    resets_at: row.get("quota_resets_at"),
                },
                Limits::from_columns(row.get("rate_limit_per_minute"), row.get("quota_per_day")),
                row.get("is_active"),
            );
        }
        // Consumers that no longer exist.
        let mut windows = self.windows.lock().expect("limiter lock");
        for id in ids.iter().filter(|id| !seen.contains(id)) {
            windows.remove(id);
        }
        Ok(())
    }

    /// Forgets a consumer, so its next request is seeded from the database
    /// (after an operator changed its limits or quota window).
    pub fn forget(&self, consumer: Uuid) {
        self.windows.lock().expect("limiter lock").remove(&consumer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn seed(used: i64, resets_at: &str) -> DailyCount {
        DailyCount {
            used,
            resets_at: at(resets_at),
        }
    }

    const LIMITS: Limits = Limits {
        per_minute: 3,
        per_day: 5,
    };

    #[test]
    fn the_minute_limit_rolls_rather_than_resetting_on_the_minute() {
        let limiter = Limiter::default();
        let c = Uuid::new_v4();
        let day = seed(0, "2030-01-02T00:00:00Z");
        for t in [
            "2030-01-01T10:00:00Z",
            "2030-01-01T10:00:20Z",
            "2030-01-01T10:00:40Z",
        ] {
            assert!(limiter.admit(c, LIMITS, day, at(t)).allowed, "{t}");
        }
        let refused = limiter.admit(c, LIMITS, day, at("2030-01-01T10:00:59.5Z"));
        assert!(!refused.allowed);
        assert_eq!(refused.violated, vec!["minute"]);
        assert_eq!(
            refused.retry_after_secs, 1,
            "the 10:00:00 request leaves at 10:01:00"
        );
        assert_eq!(refused.minute.remaining, 0);
        // 10:01:00: only the first request has left the window.
        let d = limiter.admit(c, LIMITS, day, at("2030-01-01T10:01:00Z"));
        assert!(d.allowed);
        assert_eq!(d.minute.remaining, 0);
        assert_eq!(d.minute.reset_secs, 20);
        assert!(
            !limiter
                .admit(c, LIMITS, day, at("2030-01-01T10:01:10Z"))
                .allowed
        );
    }

    #[test]
    fn the_daily_quota_counts_the_seed_and_refuses_until_midnight_utc() {
        let limiter = Limiter::default();
        let c = Uuid::new_v4();
        let day = seed(4, "2030-01-02T00:00:00Z");
        let last = limiter.admit(c, LIMITS, day, at("2030-01-01T23:00:00Z"));
        assert!(last.allowed);
        assert_eq!(last.day.remaining, 0);
        assert_eq!(last.day.reset_secs, 3600);
        let refused = limiter.admit(c, LIMITS, day, at("2030-01-01T23:59:00Z"));
        assert_eq!(refused.violated, vec!["day"]);
        assert_eq!(refused.retry_after_secs, 60);
        let next_day = limiter.admit(c, LIMITS, day, at("2030-01-02T00:00:01Z"));
        assert!(next_day.allowed, "the window rolled at midnight");
        assert_eq!(next_day.day.remaining, 4);
        assert_eq!(next_day.day_resets_at, at("2030-01-03T00:00:00Z"));
    }

    #[test]
    fn both_policies_can_be_violated_at_once() {
        let limiter = Limiter::default();
        let c = Uuid::new_v4();
        let limits = Limits {
            per_minute: 1,
            per_day: 1,
        };
        let day = seed(0, "2030-01-02T00:00:00Z");
        assert!(
            limiter
                .admit(c, limits, day, at("2030-01-01T12:00:00Z"))
                .allowed
        );
        let d = limiter.admit(c, limits, day, at("2030-01-01T12:00:01Z"));
        assert_eq!(d.violated, vec!["day", "minute"]);
        assert_eq!(d.retry_after_secs, 12 * 3600 - 1);
    }

    #[test]
    fn a_sync_keeps_requests_admitted_while_it_runs_and_adopts_the_shared_count() {
        let limiter = Limiter::default();
        let c = Uuid::new_v4();
        let day = seed(0, "2030-01-02T00:00:00Z");
        let limits = Limits {
            per_minute: 100,
            per_day: 10,
        };
        let now = at("2030-01-01T12:00:00Z");
        limiter.admit(c, limits, day, now);
        limiter.admit(c, limits, day, now);
        let batch = limiter.start_sync(now);
        assert_eq!(batch, vec![(c, day.resets_at, 2)]);
        limiter.admit(c, limits, day, now); // during the sync
                                            // Another replica admitted 5 meanwhile: the database says 7.
        limiter.finish_sync(c, seed(7, "2030-01-02T00:00:00Z"), limits, true);
        let d = limiter.admit(c, limits, day, now);
        assert_eq!(d.day.remaining, 10 - 7 - 2);
        limiter.abort_sync();
        assert_eq!(limiter.start_sync(now), vec![(c, day.resets_at, 2)]);
    }

    #[test]
    fn midnight_is_utc() {
        assert_eq!(
            next_utc_midnight(at("2030-03-31T23:59:59.999Z")),
            at("2030-04-01T00:00:00Z")
        );
        assert_eq!(
            next_utc_midnight(at("2030-04-01T00:00:00Z")),
            at("2030-04-02T00:00:00Z")
        );
    }
}
