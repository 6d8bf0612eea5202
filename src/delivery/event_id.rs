//! Event ids (the `webhook-id`). Fan-out derives each from the captured row
//! (`sql/outbox_fan_out.sql`, so an event fanned out again keeps it) in the
//! UUIDv7 layout of RFC 9562 (section 5.7): the first 48 bits are the capture
//! time in Unix milliseconds. Test events get a fresh UUIDv7. The time an id
//! carries bounds a search of the delivery log, and tells an event the log
//! no longer holds (past its retention) from one it never had.

use chrono::{DateTime, Utc};
use uuid::{Uuid, Variant};

use crate::config::Retention;

/// The time a UUIDv7 carries (for an event: its capture time, to the
/// millisecond); `None` for any other version.
pub fn event_time(id: &Uuid) -> Option<DateTime<Utc>> {
    if id.get_version_num() != 7 || id.get_variant() != Variant::RFC4122 {
        return None;
    }
    let unix_ms = id.as_bytes()[..6]
        .iter()
        .fold(0i64, |ms, &byte| (ms << 8) | i64::from(byte));
    DateTime::from_timestamp_millis(unix_ms)
}

/// Whether the delivery log can no longer hold event `id`'s rows at `now`:
/// its time is older than the retention. Unknown for an id without a time.
pub fn past_retention(id: &Uuid, retention: Retention, now: DateTime<Utc>) -> bool {
    let Retention::For(kept) = retention else {
        return false;
    };
    let Ok(kept) = chrono::Duration::from_std(kept) else {
        return false;
    };
    event_time(id).is_some_and(|at| at < now - kept)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_time_of_the_rfc_9562_example_v7_id() {
        // RFC 9562, appendix A.6: 2022-02-22 14:22:22 UTC-05:00.
        let id: Uuid = "017f22e2-79b0-7cc3-98c4-dc0c0c07398f".parse().unwrap();
        assert_eq!(
            event_time(&id),
            Some("2022-02-22T19:22:22Z".parse().unwrap())
        );
    }

    #[test]
    fn ids_of_other_versions_carry_no_time() {
        assert_eq!(event_time(&Uuid::new_v4()), None);
        assert_eq!(event_time(&Uuid::nil()), None);
        // Version 7's nibble without the RFC variant is not a UUIDv7.
        let id: Uuid = "017f22e2-79b0-7cc3-08c4-dc0c0c07398f".parse().unwrap();
        assert_eq!(event_time(&id), None);
    }

    #[test]
    fn a_fresh_v7_id_carries_the_current_millisecond() {
        let before = Utc::now();
        let at = event_time(&Uuid::now_v7()).unwrap();
        let after = Utc::now();
        assert!(at >= before - chrono::Duration::milliseconds(1) && at <= after);
    }

    #[test]
    fn an_id_is_past_retention_only_when_its_time_is_older_than_it_keeps() {
        let id: Uuid = "017f22e2-79b0-7cc3-98c4-dc0c0c07398f".parse().unwrap();
        let at = event_time(&id).unwrap();
        let day = Duration::from_secs(86_400);
        let kept = Retention::For(day);
        assert!(!past_retention(&id, kept, at + chrono::Duration::hours(23)));
        assert!(past_retention(&id, kept, at + chrono::Duration::hours(25)));
        assert!(!past_retention(
            &id,
            Retention::Forever,
            at + chrono::Duration::days(3650)
        ));
        assert!(!past_retention(&Uuid::new_v4(), kept, Utc::now()));
    }
}
