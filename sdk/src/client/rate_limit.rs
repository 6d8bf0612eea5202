//! The rate-limit headers every `/api/v2` response carries:
//! `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers,
//! structured fields), GitHub's `X-RateLimit-*` trio, and `Retry-After`.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use http::HeaderMap;

/// What the server said about the caller's limits on one response.
///
/// Empty when the server sent no rate-limit headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// One entry per policy (`minute`, `day`), from `RateLimit-Policy` and
    /// `RateLimit`.
    pub policies: Vec<RateLimitPolicy>,
    /// `X-RateLimit-Limit`: requests allowed per minute.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`: requests left this minute.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset`: when the minute's allowance grows again.
    pub reset_at: Option<DateTime<Utc>>,
}

/// One policy of the `RateLimit` and `RateLimit-Policy` headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitPolicy {
    /// The policy's name: `minute` or `day`.
    pub name: String,
    /// `q`: requests allowed per window.
    pub quota: Option<u64>,
    /// `w`: the window.
    pub window: Option<Duration>,
    /// `r`: requests left.
    pub remaining: Option<u64>,
    /// `t`: how long until more requests are allowed.
    pub reset: Option<Duration>,
}

impl RateLimit {
    /// Reads the headers of a response.
    pub fn from_headers(headers: &HeaderMap) -> RateLimit {
        let mut policies: Vec<RateLimitPolicy> = Vec::new();
        let mut entry = |name: String| -> usize {
            match policies.iter().position(|p| p.name == name) {
                Some(i) => i,
                None => {
                    policies.push(RateLimitPolicy {
                        name,
                        ..RateLimitPolicy::default()
                    });
                    policies.len() - 1
                }
            }
        };
        let mut updates: Vec<(usize, &str, u64)> = Vec::new();
        for (header, keys) in [("ratelimit-policy", ["q", "w"]), ("ratelimit", ["r", "t"])] {
            for value in headers
                .get_all(header)
                .iter()
                .filter_map(|v| v.to_str().ok())
            {
                for (name, params) in parse_items(value) {
                    let i = entry(name);
                    for (k, v) in params {
                        if keys.contains(&k) {
                            updates.push((i, k, v));
                        }
                    }
                }
            }
        }
        for (i, key, value) in updates {
            let p = &mut policies[i];
            match key {
                "q" => p.quota = Some(value),
                "w" => p.window = Some(Duration::from_secs(value)),
                "r" => p.remaining = Some(value),
                "t" => p.reset = Some(Duration::from_secs(value)),
                _ => {}
            }
        }
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        RateLimit {
            policies,
            limit: number("x-ratelimit-limit"),
            remaining: number("x-ratelimit-remaining"),
            reset_at: number("x-ratelimit-reset")
                .and_then(|secs| DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)),
        }
    }

    /// The policy called `name` (`"minute"` or `"day"`), if sent.
    pub fn policy(&self, name: &str) -> Option<&RateLimitPolicy> {
        self.policies.iter().find(|p| p.name == name)
    }

    /// Whether the response carried no rate-limit headers at all.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
            && self.limit.is_none()
            && self.remaining.is_none()
            && self.reset_at.is_none()
    }
}

/// `"name";k=v;k=v, token;k=v` → `[(name, [(k, v)])]`. Only integer parameters
/// are kept; anything unparsable is skipped, never an error: these headers
/// are advice.
fn parse_items(value: &str) -> Vec<(String, Vec<(&str, u64)>)> {
    value
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next()?.trim_matches('"');
            if name.is_empty() {
                return None;
            }
            let params = parts
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k.trim(), v.trim().parse().ok()?))
                })
                .collect();
            Some((name.to_string(), params))
        })
        .collect()
}

/// `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(at.with_timezone(&Utc));
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn conventions_example_headers_are_read() {
        let rl = RateLimit::from_headers(&headers(&[
            (
                "ratelimit-policy",
                r#""minute";q=60;w=60, "day";q=10000;w=86400"#,
            ),
            ("ratelimit", r#""minute";r=59;t=37, "day";r=9876;t=41234"#),
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "59"),
            ("x-ratelimit-reset", "1700000000"),
        ]));
        let minute = rl.policy("minute").unwrap();
        assert_eq!(minute.quota, Some(60));
        assert_eq!(minute.window, Some(Duration::from_secs(60)));
        assert_eq!(minute.remaining, Some(59));
        assert_eq!(minute.reset, Some(Duration::from_secs(37)));
        let day = rl.policy("day").unwrap();
        assert_eq!((day.quota, day.remaining), (Some(10000), Some(9876)));
        assert_eq!(day.reset, Some(Duration::from_secs(41234)));
        assert_eq!((rl.limit, rl.remaining), (Some(60), Some(59)));
        assert_eq!(rl.reset_at.unwrap().timestamp(), 1_700_000_000);
    }

    #[test]
    fn garbage_is_ignored_and_no_headers_is_empty() {
        assert!(RateLimit::from_headers(&HeaderMap::new()).is_empty());
        let rl = RateLimit::from_headers(&headers(&[("ratelimit", r#", ;r=1, "x";r=abc;t=2"#)]));
        assert_eq!(rl.policies.len(), 1);
        assert_eq!(rl.policy("x").unwrap().reset, Some(Duration::from_secs(2)));
        assert_eq!(rl.policy("x").unwrap().remaining, None);
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "17")])),
            Some(Duration::from_secs(17))
        );
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Sun, 06 Nov 1994 08:49:37 GMT"
            )])),
            Some(Duration::ZERO)
        );
        let later = (Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        let wait = retry_after(&headers(&[("retry-after", &later)])).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
    }
}
