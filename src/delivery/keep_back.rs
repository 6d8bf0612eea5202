//! How long the fan-out may keep events back in the outbox.
//!
//! An event some of whose jobs cannot be leased now (its subscription or
//! consumer at its cap, no room in flight or on deck) stays in the outbox,
//! where waiting costs nothing, instead of becoming a job that waits: that
//! would cost a `pending` log row with the envelope, a claim and an update,
//! and under a burst to a few subscriptions it is most of the database's
//! work. Slots free up within milliseconds when receivers answer, and the
//! event is taken then. A slow or hanging receiver's events must not hold up the outbox for
//! everyone else, though: once events have been kept back for
//! [`KEEP_BACK_AT_MOST`], the next fan-out takes every event it looks at, and
//! the jobs that do not fit wait (and log their `pending` row).
//!
//! Only events in the fan-out's window are kept back, and the others in it
//! are taken past them, so a slow subscription delays another's events only
//! when its kept-back events fill the whole window (hundreds of events), and
//! then by at most that bound. A backlog (events arriving faster than a
//! subscription's cap lets it drain) stays in the outbox as long as it keeps
//! moving: 250 ms is long enough for a window of up to 1,000 events to drain
//! under load, where 25 ms forced most of such a backlog into waiting jobs.

use std::time::Duration;

use tokio::time::Instant;

/// How long an event may be kept back before it is fanned out anyway.
pub const KEEP_BACK_AT_MOST: Duration = Duration::from_millis(250);

/// Which kept-back events are being watched, and since when.
#[derive(Debug, Default)]
pub struct KeepBack {
    /// Every event up to this outbox sequence number has been kept back
    /// since `since` at the latest.
    watch: Option<(i64, Instant)>,
}

impl KeepBack {
    /// Whether the next fan-out must take every event it looks at.
    pub fn take_all(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|at| now >= at)
    }

    /// When the watched events will have waited long enough.
    pub fn deadline(&self) -> Option<Instant> {
        self.watch.map(|(_, since)| since + KEEP_BACK_AT_MOST)
    }

    /// After a fan-out that kept back the events `first..=last` (None when
    /// it kept nothing back).
    pub fn kept(&mut self, kept: Option<(i64, i64)>, now: Instant) {
        self.watch = match (kept, self.watch) {
            (None, _) => None,
            // Some of the watched events are still waiting: keep the clock.
            (Some((first, _)), Some((mark, since))) if first <= mark => Some((mark, since)),
            // The watched ones were all taken: watch the ones kept now.
            (Some((_, last)), _) => Some((last, now)),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nothing_kept_back_means_nothing_to_force() {
        let now = Instant::now();
        let mut k = KeepBack::default();
        assert!(!k.take_all(now));
        k.kept(None, now);
        assert!(!k.take_all(now + ms(1000)));
        assert_eq!(k.deadline(), None);
    }

    #[test]
    fn events_kept_back_too_long_are_taken() {
        let t0 = Instant::now();
        let mut k = KeepBack::default();
        k.kept(Some((10, 20)), t0);
        assert!(!k.take_all(t0 + ms(10)));
        // Some of 10..=20 are still kept back later.
        k.kept(Some((15, 40)), t0 + ms(10));
        assert!(k.take_all(t0 + KEEP_BACK_AT_MOST));
        assert_eq!(k.deadline(), Some(t0 + KEEP_BACK_AT_MOST));
    }

    #[test]
    fn a_flowing_queue_is_never_forced() {
        // Every round takes what was kept back in the last one: the clock
        // restarts on the newly kept events each time.
        let t0 = Instant::now();
        let mut k = KeepBack::default();
        for round in 0..100_u64 {
            let now = t0 + ms(round * 10);
            assert!(!k.take_all(now), "round {round}");
            let first = round as i64 * 64 + 1;
            k.kept(Some((first, first + 63)), now);
        }
    }

    #[test]
    fn a_round_that_keeps_nothing_back_resets_the_clock() {
        let t0 = Instant::now();
        let mut k = KeepBack::default();
        k.kept(Some((1, 5)), t0);
        k.kept(None, t0 + ms(20));
        k.kept(Some((3, 8)), t0 + ms(24));
        assert!(!k.take_all(t0 + KEEP_BACK_AT_MOST));
        assert!(k.take_all(t0 + ms(24) + KEEP_BACK_AT_MOST));
    }
}
