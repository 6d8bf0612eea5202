//! Configuration from the environment (SPEC §2), parsed once at startup into
//! typed values; an invalid value stops startup with a message naming the variable.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything the service reads from its environment.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub allow_private_targets: bool,
    pub allow_http_targets: bool,
    /// Delays before each retry; the first attempt is immediate.
    pub retry_schedule: Vec<Duration>,
    /// Total time allowed for one attempt (connect, send, read the response).
    pub delivery_timeout: Duration,
    /// Deliveries in flight per replica.
    pub worker_concurrency: usize,
    /// Attempts in flight per subscription on one replica.
    pub max_in_flight_per_subscription: usize,
    /// Attempts in flight per consumer (all its subscriptions) on one replica.
    pub max_in_flight_per_consumer: usize,
    /// Backstop poll while idle: bounds the latency a lost NOTIFY can cost.
    pub poll_interval: Duration,
    /// Added to the delivery timeout to make a claim's lease: how long after a
    /// replica dies its claimed jobs become due again.
    pub lease_margin: Duration,
    /// How long in-flight attempts may run on after SIGTERM before they are released.
    pub shutdown_timeout: Duration,
    /// Deactivate a subscription that has had no success for this long.
    pub disable_after: Duration,
    /// Longest `Retry-After` we honour.
    pub retry_after_max: Duration,
    /// How long the previous secret keeps signing after a rotation.
    pub secret_rotation_grace: Duration,
    /// Database connections in the pool (the listener has its own).
    pub db_pool_size: usize,
    /// How long a successful key lookup is reused; revocation done elsewhere
    /// than this replica's admin API takes effect within it. Zero: no cache.
    pub auth_cache_ttl: Duration,
    /// How often each replica adds its admitted requests to the shared daily
    /// counts and reads back everyone's (also flushes `last_used_at`).
    pub limits_sync_interval: Duration,
    /// Lifetime of tokens issued by `POST /api/v2/token`.
    pub token_ttl: Duration,
    pub log_json: bool,
}

impl std::fmt::Debug for Config {
    // By hand, so the database URL (which may carry a password) never prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("allow_private_targets", &self.allow_private_targets)
            .field("allow_http_targets", &self.allow_http_targets)
            .field("retry_schedule", &self.retry_schedule)
            .field("delivery_timeout", &self.delivery_timeout)
            .field("worker_concurrency", &self.worker_concurrency)
            .field(
                "max_in_flight_per_subscription",
                &self.max_in_flight_per_subscription,
            )
            .field(
                "max_in_flight_per_consumer",
                &self.max_in_flight_per_consumer,
            )
            .finish_non_exhaustive()
    }
}

/// A configuration value that could not be used; names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";

impl Config {
    /// Reads the process environment. `DATABASE_URL` is required.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests can supply their own values.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str, default: &str| -> (&'static str, String) {
            let value = lookup(name).filter(|v| !v.trim().is_empty());
            (name, value.unwrap_or_else(|| default.to_string()))
        };
        let database_url = lookup("DATABASE_URL")
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                err(
                    "DATABASE_URL",
                    "is required (a PostgreSQL connection string)",
                )
            })?;
        let (name, listen) = get("IHF_LISTEN", "127.0.0.1:8080");
        let listen = listen.parse().map_err(|_| {
            err(
                name,
                format!("{listen:?} is not an address like 127.0.0.1:8080"),
            )
        })?;
        let (name, v) = get("IHF_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE);
        let retry_schedule = parse_schedule(&v).map_err(|m| err(name, m))?;
        let duration = |name: &'static str, default: &str| -> Result<Duration, ConfigError> {
            let (name, v) = get(name, default);
            parse_duration(&v).map_err(|m| err(name, m))
        };
        let positive = |name: &'static str, default: &str| -> Result<usize, ConfigError> {
            let (name, v) = get(name, default);
            match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(err(name, format!("{v:?} is not a positive whole number"))),
            }
        };
        let flag = |name: &'static str| -> Result<bool, ConfigError> {
            let (name, v) = get(name, "false");
            parse_bool(&v).ok_or_else(|| err(name, format!("{v:?} is not true or false")))
        };
        let delivery_timeout = duration("IHF_DELIVERY_TIMEOUT", "15s")?;
        if delivery_timeout.is_zero() {
            return Err(err("IHF_DELIVERY_TIMEOUT", "must be longer than 0"));
        }
        let (name, format) = get("IHF_LOG_FORMAT", "text");
        let log_json = match format.as_str() {
            "json" => true,
            "text" => false,
            other => return Err(err(name, format!("{other:?} is not text or json"))),
        };
        Ok(Config {
            database_url,
            listen,
            allow_private_targets: flag("IHF_ALLOW_PRIVATE_TARGETS")?,
            allow_http_targets: flag("IHF_ALLOW_HTTP_TARGETS")?,
            retry_schedule,
            delivery_timeout,
            worker_concurrency: positive("IHF_WORKER_CONCURRENCY", "512")?,
            max_in_flight_per_subscription: positive("IHF_MAX_IN_FLIGHT_PER_SUBSCRIPTION", "64")?,
            max_in_flight_per_consumer: positive("IHF_MAX_IN_FLIGHT_PER_CONSUMER", "128")?,
            poll_interval: duration("IHF_POLL_INTERVAL", "500ms")?,
            shutdown_timeout: duration("IHF_SHUTDOWN_TIMEOUT", "30s")?,
            lease_margin: duration("IHF_LEASE_MARGIN", "25s")?,
            disable_after: duration("IHF_DISABLE_AFTER", "5d")?,
            retry_after_max: duration("IHF_RETRY_AFTER_MAX", "1h")?,
            secret_rotation_grace: duration("IHF_SECRET_ROTATION_GRACE", "24h")?,
            db_pool_size: positive("IHF_DB_POOL_SIZE", "8")?,
            auth_cache_ttl: duration("IHF_AUTH_CACHE_TTL", "5s")?,
            // At most 30 s, so the cross-replica overshoot bound in the README holds.
            limits_sync_interval: within(
                "IHF_LIMITS_SYNC_INTERVAL",
                duration("IHF_LIMITS_SYNC_INTERVAL", "2s")?,
                Duration::from_millis(10)..=Duration::from_secs(30),
                "10ms and 30s",
            )?,
            token_ttl: within(
                "IHF_TOKEN_TTL",
                duration("IHF_TOKEN_TTL", "1h")?,
                Duration::from_secs(1)..=Duration::from_secs(30 * 86_400),
                "1s and 30d",
            )?,
            log_json,
        })
    }

    /// How long a claimed job stays leased: long enough for one attempt, short
    /// enough that a dead replica's jobs are retried within timeout + 30 s
    /// (with the default margin and poll interval).
    pub fn lease(&self) -> Duration {
        self.delivery_timeout + self.lease_margin
    }
}

/// `value` if it lies within `range` (given in words for the message).
fn within(
    variable: &'static str,
    value: Duration,
    range: std::ops::RangeInclusive<Duration>,
    words: &str,
) -> Result<Duration, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(err(variable, format!("must be between {words}")))
    }
}

fn err(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Parses `250ms`, `5s`, `5m`, `2h`, `90d` (a whole number and a unit).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 5s, 5m, 2h or 90d"))?;
    let ms_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{text:?} needs a unit: ms, s, m, h or d (e.g. 5s)")),
    };
    n.checked_mul(ms_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// Parses a comma-separated retry schedule such as `5s,5m,30m`. An empty
/// schedule (`none`) means a failed first attempt is final.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    if text.trim() == "none" {
        return Ok(Vec::new());
    }
    text.split(',').map(parse_duration).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_every_documented_unit() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(
            parse_duration("90d").unwrap(),
            Duration::from_secs(90 * 86400)
        );
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("five s").is_err());
        assert!(parse_duration("-5s").is_err());
    }

    #[test]
    fn default_schedule_is_svix_like() {
        let s = parse_schedule(DEFAULT_RETRY_SCHEDULE).unwrap();
        assert_eq!(s.len(), 7);
        assert_eq!(s[0], Duration::from_secs(5));
        assert_eq!(s[6], Duration::from_secs(36_000));
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let e = Config::from_lookup(|n| match n {
            "DATABASE_URL" => Some("postgres://x".into()),
            "IHF_DELIVERY_TIMEOUT" => Some("soon".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(e.variable, "IHF_DELIVERY_TIMEOUT");
        assert!(Config::from_lookup(|_| None)
            .unwrap_err()
            .to_string()
            .starts_with("DATABASE_URL"));
    }
}
