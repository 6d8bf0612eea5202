//! `delivery.exhausted` is rate limited per subscription: the first event
//! that gives up after its last retry is reported at once and opens an hour
//! (the window); events exhausted inside it are counted and reported in one
//! summary when it ends, which opens the next window, so the operator hears
//! at most once per subscription per window. The decisions are pure
//! ([`Window::exhausted`], [`Window::tick`]); [`record`] and [`summarize`]
//! apply them to rows locked in the caller's transaction, so two replicas
//! never both report the same exhaustion.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::sql;

/// One subscription's window (`ihf_operator_exhaustions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub ends: DateTime<Utc>,
    /// Exhaustions in this window not yet reported.
    pub pending: i32,
    pub first: Option<Uuid>,
    pub last: Option<Uuid>,
}

/// One `delivery.exhausted` to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub count: i32,
    pub first: Uuid,
    pub last: Uuid,
}

impl Window {
    fn fresh(now: DateTime<Utc>, length: chrono::Duration) -> Window {
        Window {
            ends: now + length,
            pending: 0,
            first: None,
            last: None,
        }
    }

    /// `events` (in order, at least one) exhausted their retries at `now`.
    pub fn exhausted(
        &self,
        events: &[Uuid],
        now: DateTime<Utc>,
        length: chrono::Duration,
    ) -> (Window, Option<Report>) {
        let (Some(&head), Some(&tail)) = (events.first(), events.last()) else {
            return (self.clone(), None);
        };
        let n = events.len() as i32;
        if now < self.ends {
            let open = Window {
                ends: self.ends,
                pending: self.pending + n,
                first: self.first.or(Some(head)),
                last: Some(tail),
            };
            return (open, None);
        }
        if self.pending > 0 {
            // The window ended before its summary went out: report it now,
            // these included, and start the next window.
            let report = Report {
                count: self.pending + n,
                first: self.first.unwrap_or(head),
                last: tail,
            };
            return (Window::fresh(now, length), Some(report));
        }
        let report = Report {
            count: 1,
            first: head,
            last: head,
        };
        let rest = &events[1..];
        let window = Window {
            pending: rest.len() as i32,
            first: rest.first().copied(),
            last: rest.last().copied(),
            ..Window::fresh(now, length)
        };
        (window, Some(report))
    }

    /// The sweep at `now`: a window that has ended with unreported
    /// exhaustions is summarized, and the next window starts.
    pub fn tick(&self, now: DateTime<Utc>, length: chrono::Duration) -> (Window, Option<Report>) {
        match (self.first, self.last) {
            (Some(first), Some(last)) if self.pending > 0 && now >= self.ends => (
                Window::fresh(now, length),
                Some(Report {
                    count: self.pending,
                    first,
                    last,
                }),
            ),
            _ => (self.clone(), None),
        }
    }

    fn from_row(row: &Row) -> (Uuid, Window) {
        (
            row.get("subscription_id"),
            Window {
                ends: row.get("window_ends"),
                pending: row.get("pending"),
                first: row.get("first_event_id"),
                last: row.get("last_event_id"),
            },
        )
    }
}

/// Records exhausted `(subscription, event)` pairs of one batch, queueing the
/// reports due at once.
pub async fn record(
    tx: &Transaction<'_>,
    exhausted: &[(Uuid, Uuid)],
    now: DateTime<Utc>,
    length: chrono::Duration,
) -> Result<(), tokio_postgres::Error> {
    let mut per_subscription: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for &(subscription, event) in exhausted {
        per_subscription
            .entry(subscription)
            .or_default()
            .push(event);
    }
    if per_subscription.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = per_subscription.keys().copied().collect();
    tx.execute(
        &tx.prepare_cached(sql::OPERATOR_EXHAUSTIONS_ENSURE).await?,
        &[&ids],
    )
    .await?;
    let rows = tx
        .query(
            &tx.prepare_cached(sql::OPERATOR_EXHAUSTIONS_LOCK).await?,
            &[&ids],
        )
        .await?;
    let decided = rows.iter().map(Window::from_row).map(|(id, window)| {
        let events = per_subscription.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        let (window, report) = window.exhausted(events, now, length);
        (id, window, report)
    });
    save(tx, decided.collect()).await
}

/// Summarizes every window that has ended with unreported exhaustions.
/// Returns how many reports were queued.
pub async fn summarize(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
    length: chrono::Duration,
) -> Result<usize, tokio_postgres::Error> {
    let rows = tx
        .query(
            &tx.prepare_cached(sql::OPERATOR_EXHAUSTIONS_DUE).await?,
            &[],
        )
        .await?;
    let decided: Vec<_> = rows
        .iter()
        .map(Window::from_row)
        .map(|(id, window)| {
            let (window, report) = window.tick(now, length);
            (id, window, report)
        })
        .collect();
    let reports = decided.iter().filter(|(_, _, r)| r.is_some()).count();
    save(tx, decided).await?;
    Ok(reports)
}

/// Writes the decided windows back and queues the reports.
async fn save(
    tx: &Transaction<'_>,
    decided: Vec<(Uuid, Window, Option<Report>)>,
) -> Result<(), tokio_postgres::Error> {
    if decided.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = decided.iter().map(|(id, ..)| *id).collect();
    let ends: Vec<DateTime<Utc>> = decided.iter().map(|(_, w, _)| w.ends).collect();
    let pending: Vec<i32> = decided.iter().map(|(_, w, _)| w.pending).collect();
    let firsts: Vec<Option<Uuid>> = decided.iter().map(|(_, w, _)| w.first).collect();
    let lasts: Vec<Option<Uuid>> = decided.iter().map(|(_, w, _)| w.last).collect();
    let stmt = tx.prepare_cached(sql::OPERATOR_EXHAUSTIONS_SAVE).await?;
    tx.execute(&stmt, &[&ids, &ends, &pending, &firsts, &lasts])
        .await?;
    let reports: Vec<(Uuid, Report)> = decided
        .into_iter()
        .filter_map(|(id, _, r)| Some((id, r?)))
        .collect();
    if reports.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = reports.iter().map(|(id, _)| *id).collect();
    let counts: Vec<i32> = reports.iter().map(|(_, r)| r.count).collect();
    let firsts: Vec<Uuid> = reports.iter().map(|(_, r)| r.first).collect();
    let lasts: Vec<Uuid> = reports.iter().map(|(_, r)| r.last).collect();
    let stmt = tx.prepare_cached(sql::OPERATOR_NOTIFY_EXHAUSTED).await?;
    tx.execute(&stmt, &[&ids, &counts, &firsts, &lasts]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour() -> chrono::Duration {
        chrono::Duration::hours(1)
    }

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
    }

    fn idle() -> Window {
        Window {
            ends: DateTime::<Utc>::MIN_UTC,
            pending: 0,
            first: None,
            last: None,
        }
    }

    #[test]
    fn the_first_exhaustion_is_reported_at_once_and_the_rest_wait_for_the_hour() {
        let now = Utc::now();
        let events = ids(3);
        let (window, report) = idle().exhausted(&events, now, hour());
        assert_eq!(
            report,
            Some(Report {
                count: 1,
                first: events[0],
                last: events[0]
            })
        );
        assert_eq!(window.ends, now + hour());
        assert_eq!(
            (window.pending, window.first, window.last),
            (2, Some(events[1]), Some(events[2]))
        );

        let later = ids(2);
        let (window, report) =
            window.exhausted(&later, now + chrono::Duration::minutes(10), hour());
        assert_eq!(report, None, "at most one per hour");
        assert_eq!(
            (window.pending, window.first, window.last),
            (4, Some(events[1]), Some(later[1]))
        );

        let (same, none) = window.tick(now + chrono::Duration::minutes(59), hour());
        assert_eq!((same, none), (window.clone(), None));
        let end = now + hour();
        let (next, summary) = window.tick(end, hour());
        assert_eq!(
            summary,
            Some(Report {
                count: 4,
                first: events[1],
                last: later[1]
            })
        );
        assert_eq!(next.ends, end + hour(), "the summary opens the next hour");
        assert_eq!(next.pending, 0);
    }

    #[test]
    fn an_ended_window_with_nothing_pending_reports_the_next_exhaustion_at_once() {
        let now = Utc::now();
        let (window, _) = idle().exhausted(&ids(1), now, hour());
        assert_eq!(window.tick(now + hour(), hour()).1, None);
        let next = ids(1);
        let (_, report) = window.exhausted(&next, now + hour(), hour());
        assert_eq!(report.map(|r| (r.count, r.first)), Some((1, next[0])));
    }

    #[test]
    fn an_ended_window_whose_summary_is_late_is_reported_with_the_new_events() {
        let now = Utc::now();
        let first = ids(3);
        let (window, _) = idle().exhausted(&first, now, hour());
        let late = ids(1);
        let (window, report) = window.exhausted(&late, now + hour(), hour());
        assert_eq!(
            report,
            Some(Report {
                count: 3,
                first: first[1],
                last: late[0]
            })
        );
        assert_eq!(window.pending, 0);
    }
}
