//! Which partitions a log needs, and the DDL that makes it so.
//!
//! A log is covered, without gaps, by: one history partition from MINVALUE
//! (rows older than every regular partition: the rows the upgrade carried
//! over, clock skew), then regular partitions of `IHF_LOG_PARTITION_INTERVAL`
//! starting at whole multiples of it since the Unix epoch, made ahead of time
//! so that an insert never finds none. Where a stretch of the past has no
//! partition (the service was down, or the log is new) one partition covers
//! all of it instead of one per interval.
//!
//! Retention drops a regular partition once its end is older than the
//! retention, and the history once everything it can hold is; the history is
//! then made again, empty, ending where the oldest regular partition begins.
//! On a new install (the history is empty) the history is made to end at the
//! retention horizon at once, so that a row dated before it goes where
//! retention will drop it, and the log has its steady shape from the start.
//!
//! The planning here is pure (tested below); [`Pass`] runs it against the
//! database under an advisory lock and `lock_timeout` (see [`super::upkeep`]).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use tokio_postgres::Transaction;

use super::{statements, Log};
use crate::config::Retention;
use crate::db::sql;

/// A partition as the catalog has it: `starts` None is the history (MINVALUE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub starts: Option<DateTime<Utc>>,
    pub ends: DateTime<Utc>,
}

/// How far ahead partitions exist: two intervals, and at least ten minutes,
/// so that several upkeep rounds can fail before an insert could.
pub fn ahead(interval: Duration) -> Duration {
    (interval * 2).max(Duration::from_secs(600))
}

/// The start of the interval `at` falls in (whole multiples since the epoch).
pub fn floor(at: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let step = interval.as_secs().max(60) as i64;
    let secs = at.timestamp().div_euclid(step) * step;
    Utc.timestamp_opt(secs, 0).single().unwrap_or(at)
}

/// `<log>_p20261203` for a partition starting at midnight UTC, else
/// `<log>_p202612031530`: every start is a whole minute, so names are unique.
pub fn name(log: &Log, starts: DateTime<Utc>) -> String {
    let stamp = if starts.format("%H%M").to_string() == "0000" {
        starts.format("%Y%m%d")
    } else {
        starts.format("%Y%m%d%H%M")
    };
    format!("{}_p{stamp}", log.table)
}

fn regular(log: &Log, starts: DateTime<Utc>, ends: DateTime<Utc>) -> Partition {
    Partition {
        name: name(log, starts),
        starts: Some(starts),
        ends,
    }
}

/// The partitions to make so that the log is covered up to `now` + [`ahead`]:
/// from the end of the newest one, one per interval, except that a stretch
/// wholly in the past becomes one partition.
pub fn to_make_ahead(
    log: &Log,
    existing: &[Partition],
    now: DateTime<Utc>,
    interval: Duration,
) -> Vec<Partition> {
    let until = now + ahead(interval);
    let cursor = match existing.iter().map(|p| p.ends).max() {
        Some(end) => end,
        None => floor(now, interval),
    };
    steps(log, cursor, until, now, interval, Cut::Aligned)
}

/// Where the last of [`steps`] ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// At an interval boundary at or past the end (covering ahead).
    Aligned,
    /// Exactly at the end (filling a gap up to the next partition).
    Exact,
}

/// Partitions from `from` until `to` is covered: a stretch wholly before the
/// current interval as one partition, then one per interval.
fn steps(
    log: &Log,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    interval: Duration,
    cut: Cut,
) -> Vec<Partition> {
    let mut made = Vec::new();
    let mut cursor = from;
    while cursor < to {
        let mut next = (floor(cursor, interval) + interval).max(floor(now, interval));
        if cut == Cut::Exact {
            next = next.min(to);
        }
        made.push(regular(log, cursor, next));
        cursor = next;
    }
    made
}

/// What retention does to a log in one pass.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Retire {
    /// Partitions to drop whole, the history among them when it is re-made.
    pub drop: Vec<String>,
    /// The history made again (first), then a partition for any stretch
    /// between its end and the oldest regular partition.
    pub make: Vec<Partition>,
}

/// Retention for one log: regular partitions that ended before `now` −
/// retention go; the history goes when everything it can hold is past
/// retention, or when it is empty and ends after the retention horizon, and
/// is made again ending at the oldest regular partition (or the horizon).
pub fn to_retire(
    log: &Log,
    existing: &[Partition],
    now: DateTime<Utc>,
    interval: Duration,
    retention: Retention,
    history_is_empty: bool,
) -> Retire {
    let mut retire = Retire::default();
    let history = existing.iter().find(|p| p.starts.is_none());
    let mut kept: Vec<&Partition> = existing.iter().filter(|p| p.starts.is_some()).collect();
    kept.sort_by_key(|p| p.starts);
    let cutoff = match retention {
        Retention::For(keep) => Some(now - keep),
        Retention::Forever => None,
    };
    if let Some(cutoff) = cutoff {
        retire.drop.extend(
            kept.iter()
                .filter(|p| p.ends <= cutoff)
                .map(|p| p.name.clone()),
        );
        kept.retain(|p| p.ends > cutoff);
    }
    let oldest = kept.first().and_then(|p| p.starts);
    let new_end = match (history, cutoff) {
        (None, _) => Some(oldest.unwrap_or_else(|| floor(now, interval))),
        (Some(_), None) => None,
        (Some(h), Some(cutoff)) => {
            let horizon = floor(cutoff, interval);
            let end = oldest.map_or(horizon, |o| o.min(horizon));
            let past = !history_is_empty && h.ends <= cutoff;
            let misplaced = history_is_empty && end != h.ends;
            (past || misplaced).then_some(end)
        }
    };
    if let Some(end) = new_end {
        if let Some(h) = history {
            retire.drop.push(h.name.clone());
        }
        retire.make.push(Partition {
            name: log.history(),
            starts: None,
            ends: end,
        });
        if let Some(oldest) = oldest.filter(|o| *o > end) {
            retire
                .make
                .extend(steps(log, end, oldest, now, interval, Cut::Exact));
        }
    }
    retire
}

/// One log's partitions, read in the transaction that changes them.
pub async fn list(
    tx: &Transaction<'_>,
    log: &Log,
) -> Result<Vec<Partition>, tokio_postgres::Error> {
    let rows = tx.query(sql::LOG_PARTITIONS_LIST, &[&log.table]).await?;
    Ok(rows
        .iter()
        .map(|r| Partition {
            name: r.get("name"),
            starts: r.get("starts"),
            ends: r.get("ends"),
        })
        .collect())
}

/// Whether the history partition holds no row (one probe).
pub async fn history_is_empty(
    tx: &Transaction<'_>,
    log: &Log,
) -> Result<bool, tokio_postgres::Error> {
    let probe = format!("SELECT NOT EXISTS (SELECT 1 FROM {})", log.history());
    Ok(tx.query_one(&probe, &[]).await?.get(0))
}

/// Makes `p` a partition of `log`.
pub async fn make(
    tx: &Transaction<'_>,
    log: &Log,
    p: &Partition,
) -> Result<(), tokio_postgres::Error> {
    let literal = |t: DateTime<Utc>| format!("'{}'", t.to_rfc3339());
    let before_attach = log.partition_ddl.replace("{partition}", &p.name);
    let ddl = include_str!("../../sql/ddl/log_partition_create.sql")
        .replace("{before_attach}", &before_attach)
        .replace("{partition}", &p.name)
        .replace("{log}", log.table)
        .replace("{from}", &p.starts.map_or("MINVALUE".into(), literal))
        .replace("{to}", &literal(p.ends));
    for statement in statements(&ddl) {
        tx.batch_execute(&statement).await?;
    }
    Ok(())
}

/// Drops the partition `name` of `log` (with its rows: retention).
pub async fn drop(tx: &Transaction<'_>, name: &str) -> Result<(), tokio_postgres::Error> {
    let ddl = include_str!("../../sql/ddl/log_partition_drop.sql").replace("{partition}", name);
    for statement in statements(&ddl) {
        tx.batch_execute(&statement).await?;
    }
    Ok(())
}

/// Locks the history against inserts until the transaction ends.
pub async fn lock_history(tx: &Transaction<'_>, log: &Log) -> Result<(), tokio_postgres::Error> {
    let ddl =
        include_str!("../../sql/ddl/log_history_lock.sql").replace("{partition}", &log.history());
    for statement in statements(&ddl) {
        tx.batch_execute(&statement).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::DELIVERIES;

    const DAY: Duration = Duration::from_secs(86_400);
    const MINUTE: Duration = Duration::from_secs(60);

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn history(ends: &str) -> Partition {
        Partition {
            name: DELIVERIES.history(),
            starts: None,
            ends: at(ends),
        }
    }

    fn part(starts: &str, ends: &str) -> Partition {
        regular(&DELIVERIES, at(starts), at(ends))
    }

    fn days(n: u64) -> Retention {
        Retention::For(DAY * n as u32)
    }

    #[test]
    fn names_carry_the_start_to_the_day_or_the_minute() {
        assert_eq!(
            name(&DELIVERIES, at("2026-12-03T00:00:00Z")),
            "webhook_deliveries_p20261203"
        );
        assert_eq!(
            name(&DELIVERIES, at("2026-12-03T15:30:00Z")),
            "webhook_deliveries_p202612031530"
        );
    }

    #[test]
    fn ahead_fills_from_the_newest_end_to_two_intervals_past_now() {
        let existing = [history("2026-12-03T08:00:00Z")];
        let made = to_make_ahead(&DELIVERIES, &existing, at("2026-12-03T09:00:00Z"), DAY);
        assert_eq!(
            made,
            vec![
                // The first is cut short to reach the day boundary.
                part("2026-12-03T08:00:00Z", "2026-12-04T00:00:00Z"),
                part("2026-12-04T00:00:00Z", "2026-12-05T00:00:00Z"),
                part("2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z"),
            ]
        );
        // Already covered: nothing to make.
        let covered = [
            existing[0].clone(),
            made[0].clone(),
            made[1].clone(),
            made[2].clone(),
        ];
        assert!(to_make_ahead(&DELIVERIES, &covered, at("2026-12-03T10:00:00Z"), DAY).is_empty());
    }

    #[test]
    fn a_stretch_in_the_past_becomes_one_partition() {
        // Down for three days (or a template made long ago).
        let existing = [history("2026-11-30T08:00:00Z")];
        let made = to_make_ahead(&DELIVERIES, &existing, at("2026-12-03T09:30:00Z"), MINUTE);
        assert_eq!(
            made[0],
            part("2026-11-30T08:00:00Z", "2026-12-03T09:30:00Z")
        );
        assert_eq!(
            made[1],
            part("2026-12-03T09:30:00Z", "2026-12-03T09:31:00Z")
        );
        assert_eq!(made.len(), 1 + 10, "ten minutes ahead at one a minute");
        assert!(made.windows(2).all(|w| w[0].ends == w[1].starts.unwrap()));
    }

    #[test]
    fn retention_drops_whole_partitions_that_ended_before_the_horizon() {
        let existing = [
            history("2026-09-01T00:00:00Z"),
            part("2026-09-01T00:00:00Z", "2026-09-02T00:00:00Z"),
            part("2026-09-02T00:00:00Z", "2026-09-03T00:00:00Z"),
            part("2026-09-03T00:00:00Z", "2026-09-04T00:00:00Z"),
        ];
        // 90 days before 2026-12-02T12:00 is 2026-09-03T12:00.
        let retire = to_retire(
            &DELIVERIES,
            &existing,
            at("2026-12-02T12:00:00Z"),
            DAY,
            days(90),
            false,
        );
        assert_eq!(
            retire.drop,
            vec![
                "webhook_deliveries_p20260901".to_string(),
                "webhook_deliveries_p20260902".to_string(),
                "webhook_deliveries_history".to_string(),
            ]
        );
        assert_eq!(retire.make, vec![history("2026-09-03T00:00:00Z")]);
    }

    #[test]
    fn a_history_with_rows_stays_until_all_it_can_hold_is_past_retention() {
        let existing = [
            history("2026-12-01T08:00:00Z"),
            part("2026-12-01T08:00:00Z", "2026-12-02T00:00:00Z"),
        ];
        let now = at("2026-12-02T12:00:00Z");
        assert_eq!(
            to_retire(&DELIVERIES, &existing, now, DAY, days(90), false),
            Retire::default()
        );
        // Everything either can hold is past retention on 2027-03-02.
        let later = at("2027-03-02T09:00:00Z");
        let retire = to_retire(&DELIVERIES, &existing, later, DAY, days(90), false);
        assert_eq!(
            retire.drop,
            vec![
                "webhook_deliveries_p202612010800".to_string(),
                "webhook_deliveries_history".to_string()
            ]
        );
        assert_eq!(retire.make, vec![history("2026-12-02T00:00:00Z")]);
        // The next pass leaves the (empty) history where it is.
        let after = [
            retire.make[0].clone(),
            part("2026-12-02T00:00:00Z", "2027-03-05T00:00:00Z"),
        ];
        assert_eq!(
            to_retire(&DELIVERIES, &after, later, DAY, days(90), true),
            Retire::default()
        );
    }

    #[test]
    fn an_empty_history_is_made_to_end_at_the_horizon() {
        // A new install: the history (empty) ends at the migration.
        let existing = [
            history("2026-12-03T08:00:00Z"),
            part("2026-12-03T08:00:00Z", "2026-12-04T00:00:00Z"),
        ];
        let now = at("2026-12-03T09:00:00Z");
        let retire = to_retire(&DELIVERIES, &existing, now, DAY, days(90), true);
        assert_eq!(retire.drop, vec!["webhook_deliveries_history".to_string()]);
        assert_eq!(
            retire.make,
            vec![
                history("2026-09-04T00:00:00Z"),
                part("2026-09-04T00:00:00Z", "2026-12-03T00:00:00Z"),
                part("2026-12-03T00:00:00Z", "2026-12-03T08:00:00Z"),
            ]
        );
        // Once made, it stays, also days later.
        let mut reshaped = retire.make.clone();
        reshaped.push(existing[1].clone());
        assert_eq!(
            to_retire(&DELIVERIES, &reshaped, now, DAY, days(90), true),
            Retire::default()
        );
        let later = at("2026-12-06T09:00:00Z");
        assert_eq!(
            to_retire(&DELIVERIES, &reshaped, later, DAY, days(90), true),
            Retire::default()
        );
    }

    #[test]
    fn a_gap_reaching_past_now_is_split_where_now_begins() {
        // A new log whose history (empty) ends a few minutes ahead.
        let existing = [
            history("2026-12-03T09:10:00Z"),
            part("2026-12-03T09:10:00Z", "2026-12-03T09:11:00Z"),
        ];
        let now = at("2026-12-03T09:03:30Z");
        let retire = to_retire(
            &DELIVERIES,
            &existing,
            now,
            MINUTE,
            Retention::For(MINUTE * 2),
            true,
        );
        assert_eq!(retire.make[0], history("2026-12-03T09:01:00Z"));
        assert_eq!(
            retire.make[1],
            part("2026-12-03T09:01:00Z", "2026-12-03T09:03:00Z")
        );
        assert_eq!(
            retire.make[2],
            part("2026-12-03T09:03:00Z", "2026-12-03T09:04:00Z")
        );
        assert_eq!(retire.make.last().unwrap().ends, at("2026-12-03T09:10:00Z"));
        assert_eq!(retire.make.len(), 1 + 1 + 7);
    }

    #[test]
    fn forever_drops_nothing() {
        let existing = [
            history("2020-01-01T00:00:00Z"),
            part("2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z"),
        ];
        let retire = to_retire(
            &DELIVERIES,
            &existing,
            at("2026-12-03T09:00:00Z"),
            DAY,
            Retention::Forever,
            true,
        );
        assert_eq!(retire, Retire::default());
    }

    #[test]
    fn a_missing_history_is_made_again() {
        let existing = [part("2026-12-03T00:00:00Z", "2026-12-04T00:00:00Z")];
        let retire = to_retire(
            &DELIVERIES,
            &existing,
            at("2026-12-03T09:00:00Z"),
            DAY,
            Retention::Forever,
            false,
        );
        assert!(retire.drop.is_empty());
        assert_eq!(retire.make, vec![history("2026-12-03T00:00:00Z")]);
    }
}
