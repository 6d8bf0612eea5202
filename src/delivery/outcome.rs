//! What an attempt's result means: delivered, retry later (when), or final,
//! and the `error_message` a consumer reads in the attempt log.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::StatusCode;
use rand::Rng;

use super::client::{Response, SendError};

/// The retry policy of a replica (from configuration).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Delays before retry 1, 2, …; the first attempt is immediate.
    pub schedule: Vec<Duration>,
    /// Longest `Retry-After` honoured.
    pub retry_after_max: Duration,
}

/// The verdict on one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: LogStatus,
    pub response_code: Option<i32>,
    pub error_message: Option<String>,
    /// Some: try again then. None: the job is finished.
    pub retry_at: Option<DateTime<Utc>>,
    /// Whether the subscription should be deactivated (410 Gone), and why.
    pub deactivate: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStatus {
    Delivered,
    Failed,
}

impl LogStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LogStatus::Delivered => "delivered",
            LogStatus::Failed => "failed",
        }
    }
}

/// What happened on the wire, before judging it.
pub enum Attempted<'a> {
    Answered(&'a Response),
    NoAnswer(&'a SendError),
    /// Not sent: the subscription or its consumer is no longer active.
    Cancelled,
    /// Not sent: the stored secret is unusable (never expected).
    BadSecret,
}

impl RetryPolicy {
    /// Judges attempt number `attempt` (1 = the first) that ended `now`.
    pub fn judge(&self, attempt: i32, what: Attempted<'_>, now: DateTime<Utc>) -> Outcome {
        let (code, problem, retry_after) = match what {
            Attempted::Answered(r) if r.status.is_success() => {
                return Outcome {
                    status: LogStatus::Delivered,
                    response_code: Some(r.status.as_u16() as i32),
                    error_message: None,
                    retry_at: None,
                    deactivate: None,
                }
            }
            Attempted::Answered(r) if r.status == StatusCode::GONE => return final_failure(
                Some(410),
                "HTTP 410 Gone: the receiver asked us to stop; subscription deactivated, no retry"
                    .into(),
                Some("receiver answered 410 Gone".into()),
            ),
            Attempted::Answered(r) => {
                let throttled = matches!(r.status.as_u16(), 429 | 502 | 503 | 504);
                (
                    Some(r.status.as_u16() as i32),
                    describe_status(r.status),
                    r.retry_after.filter(|_| throttled),
                )
            }
            Attempted::NoAnswer(e) => (None, e.to_string(), None),
            Attempted::Cancelled => {
                return final_failure(
                    None,
                    "not sent: the subscription or its consumer is inactive; delivery cancelled"
                        .into(),
                    None,
                )
            }
            Attempted::BadSecret => {
                return final_failure(
                    None,
                    "not sent: the subscription's secret is unusable; rotate it".into(),
                    None,
                )
            }
        };
        let retries = self.schedule.len() as i32;
        if attempt > retries {
            let message = format!("{problem}; no retries left, delivery failed permanently");
            return final_failure(code, message, None);
        }
        let delay = self.delay_before_retry(attempt as usize, retry_after);
        let retry_at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        let message = format!(
            "{problem}; retry {attempt} of {retries} at {}",
            retry_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        Outcome {
            status: LogStatus::Failed,
            response_code: code,
            error_message: Some(message),
            retry_at: Some(retry_at),
            deactivate: None,
        }
    }

    /// The scheduled delay with ±10 % jitter (so a burst of failures does not
    /// retry in lockstep), never shorter than a `Retry-After` the receiver asked
    /// for, capped at `retry_after_max`.
    fn delay_before_retry(&self, retry: usize, retry_after: Option<Duration>) -> Duration {
        let base = self.schedule[retry - 1];
        let jittered = base.mul_f64(rand::rng().random_range(0.9..=1.1));
        match retry_after {
            Some(asked) => jittered.max(asked.min(self.retry_after_max)),
            None => jittered,
        }
    }
}

fn final_failure(code: Option<i32>, message: String, deactivate: Option<String>) -> Outcome {
    Outcome {
        status: LogStatus::Failed,
        response_code: code,
        error_message: Some(message),
        retry_at: None,
        deactivate,
    }
}

/// What one attempt's result says, for one-off attempts (the test endpoint):
/// None when delivered.
pub fn describe(result: &Result<Response, SendError>) -> Option<String> {
    match result {
        Ok(r) if r.status.is_success() => None,
        Ok(r) => Some(describe_status(r.status)),
        Err(e) => Some(e.to_string()),
    }
}

fn describe_status(status: StatusCode) -> String {
    let reason = status.canonical_reason().unwrap_or("");
    let what = if status.is_redirection() {
        " (redirects are not followed)"
    } else {
        ""
    };
    format!("HTTP {} {reason}{what}", status.as_u16())
        .replace("  ", " ")
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            schedule: vec![Duration::from_secs(10), Duration::from_secs(100)],
            retry_after_max: Duration::from_secs(3600),
        }
    }

    fn answered(code: u16, retry_after: Option<u64>) -> Response {
        Response {
            status: StatusCode::from_u16(code).unwrap(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn any_2xx_is_delivered() {
        let now = Utc::now();
        for code in [200, 201, 204, 299] {
            let o = policy().judge(1, Attempted::Answered(&answered(code, None)), now);
            assert_eq!(o.status, LogStatus::Delivered);
            assert_eq!(o.retry_at, None);
        }
    }

    #[test]
    fn failures_retry_on_schedule_with_jitter_then_give_up() {
        let now = Utc::now();
        let r = answered(500, None);
        let first = policy().judge(1, Attempted::Answered(&r), now);
        let wait = (first.retry_at.unwrap() - now).num_milliseconds();
        assert!((9_000..=11_000).contains(&wait), "{wait}");
        let msg = first.error_message.unwrap();
        assert!(
            msg.starts_with("HTTP 500 Internal Server Error; retry 1 of 2 at "),
            "{msg}"
        );
        let second = policy().judge(2, Attempted::Answered(&r), now);
        let wait = (second.retry_at.unwrap() - now).num_milliseconds();
        assert!((90_000..=110_000).contains(&wait), "{wait}");
        let last = policy().judge(3, Attempted::Answered(&r), now);
        assert_eq!(last.retry_at, None);
        assert!(last.error_message.unwrap().contains("no retries left"));
    }

    #[test]
    fn redirects_fail_and_say_why() {
        let o = policy().judge(1, Attempted::Answered(&answered(302, None)), Utc::now());
        assert_eq!(o.status, LogStatus::Failed);
        assert!(o
            .error_message
            .unwrap()
            .contains("redirects are not followed"));
    }

    #[test]
    fn retry_after_is_honoured_on_throttling_only_and_capped() {
        let now = Utc::now();
        let p = RetryPolicy {
            retry_after_max: Duration::from_secs(600),
            ..policy()
        };
        let o = p.judge(1, Attempted::Answered(&answered(429, Some(300))), now);
        assert_eq!((o.retry_at.unwrap() - now).num_seconds(), 300);
        let o = p.judge(1, Attempted::Answered(&answered(503, Some(99_999))), now);
        assert_eq!((o.retry_at.unwrap() - now).num_seconds(), 600);
        let o = p.judge(1, Attempted::Answered(&answered(500, Some(300))), now);
        assert!((o.retry_at.unwrap() - now).num_seconds() <= 11);
    }

    #[test]
    fn gone_deactivates_without_retry() {
        let o = policy().judge(1, Attempted::Answered(&answered(410, None)), Utc::now());
        assert_eq!(o.retry_at, None);
        assert!(o.deactivate.is_some());
    }

    #[test]
    fn transport_errors_are_described() {
        let e = SendError::Timeout(Duration::from_secs(15));
        let o = policy().judge(1, Attempted::NoAnswer(&e), Utc::now());
        assert!(o
            .error_message
            .unwrap()
            .starts_with("timed out after 15s; retry 1 of 2"));
        assert_eq!(o.response_code, None);
    }
}
