//! Cursor pagination shared by the list endpoints: `?limit=` (capped) and an
//! opaque `cursor` naming the last row seen (its time and id).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::problem::Problem;

/// The largest page a list endpoint returns (OWASP API4).
pub const MAX_PAGE: i64 = 100;
pub const DEFAULT_PAGE: i64 = 50;

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// `rows` fetched with [`Request::fetch`] (one more than asked): the page
    /// and, if there is more, the cursor at its last row.
    pub fn new(
        mut rows: Vec<T>,
        request: &Request,
        position: impl Fn(&T) -> (DateTime<Utc>, Uuid),
    ) -> Page<T> {
        let limit = request.limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|row| {
                let (at, id) = position(row);
                encode_cursor(at, id)
            })
        } else {
            None
        };
        Page {
            data: rows,
            next_cursor,
        }
    }
}

/// A validated page request.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub limit: i64,
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

impl Request {
    /// Checks `limit` (1..=[`MAX_PAGE`]) and decodes `cursor`; either bad is a 400.
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Request, Problem> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(Problem::bad_request(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        // `?cursor=` (empty) is no cursor: the first page.
        let after = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => {
                Some(decode_cursor(c).ok_or_else(|| Problem::bad_request("cursor is not valid"))?)
            }
            None => None,
        };
        Ok(Request { limit, after })
    }

    /// Rows to ask the database for: one more than the page, to know if more exist.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

pub fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{},{id}", at.timestamp_micros()))
}

pub fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (micros, id) = text.split_once(',')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    // A tampered cursor may hold a time PostgreSQL cannot store; that is the
    // caller's mistake (400), not a failed query (500).
    in_range(at).then_some((at, id.parse().ok()?))
}

/// Whether `at` lies in years 1 to 9999, well inside what PostgreSQL's
/// `timestamptz` holds, so a query with it cannot fail on the value.
pub fn in_range(at: DateTime<Utc>) -> bool {
    use chrono::Datelike;
    (1..=9999).contains(&at.year())
}

/// A timestamp from the query string, refused with a 400 naming `parameter`
/// when it lies outside [`in_range`].
pub fn check_time(parameter: &str, at: Option<DateTime<Utc>>) -> Result<(), Problem> {
    match at {
        Some(at) if !in_range(at) => Err(Problem::bad_request(format!(
            "{parameter} must lie between the years 0001 and 9999"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(at, id)), Some((at, id)));
        assert_eq!(decode_cursor("not-a-cursor"), None);
    }

    #[test]
    fn cursors_and_times_out_of_the_databases_range_are_bad_requests() {
        // Year -144,000: chrono holds it, PostgreSQL does not.
        let far = URL_SAFE_NO_PAD.encode(format!("{},{}", -(i64::MAX / 2), Uuid::nil()));
        assert_eq!(decode_cursor(&far), None);
        assert!(Request::parse(None, Some(&far)).is_err());
        let ancient = "-5000-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert!(check_time("since", Some(ancient)).is_err());
        assert!(check_time("since", Some(Utc::now())).is_ok());
    }

    #[test]
    fn limits_are_capped() {
        assert!(Request::parse(Some(0), None).is_err());
        assert!(Request::parse(Some(MAX_PAGE + 1), None).is_err());
        assert_eq!(Request::parse(None, None).unwrap().limit, DEFAULT_PAGE);
        assert!(Request::parse(None, Some("")).unwrap().after.is_none());
    }
}
