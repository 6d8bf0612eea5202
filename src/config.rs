//! Configuration from the environment (the README's configuration table),
//! parsed once at startup into typed values; an invalid value stops startup
//! with a message naming the variable.
//!
//! This module is the only place that reads the service's environment
//! variables: [`Config::from_env`] for the commands that need a database, and
//! [`listen_from_env`] and [`database_url_from_env`] for the two that may run
//! without one (`healthcheck`, `demo`).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::delivery::signing::Secret;
use crate::delivery::ssrf::TargetPolicy;
use secrecy::{ExposeSecret, SecretString};

/// Everything the service reads from its environment. `Debug` shows every
/// field; secrets are [`SecretString`]s (or wrap one, as [`DatabaseUrl`]
/// does), which print redacted.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub listen: SocketAddr,
    /// `serve` applies the migrations before it starts.
    pub migrate_on_start: bool,
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
    /// Where operator notifications go (`IHF_OPERATOR_WEBHOOK_URL` and
    /// `IHF_OPERATOR_WEBHOOK_SECRET`); None: none are sent.
    pub operator: Option<OperatorWebhook>,
    /// How long a subscription must fail continuously before
    /// `subscription.failing` is sent.
    pub failing_after: Duration,
    /// At most one `delivery.exhausted` per subscription per this long.
    pub exhausted_window: Duration,
    /// How long a client may take to send a request's headers.
    pub http_header_timeout: Duration,
    /// How long a client may take to send a request's body.
    pub http_body_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub http_idle_timeout: Duration,
    /// Open connections to the HTTP side; at the cap the oldest idle or
    /// incomplete one is shed.
    pub http_max_connections: usize,
    /// Subscriptions one consumer may have.
    pub max_subscriptions_per_consumer: usize,
    /// Resolution of a target's name, at subscribe and at send time.
    pub dns_timeout: Duration,
    /// Keys that seal subscription secrets at rest: the first seals, all
    /// unseal. Empty: secrets are stored unsealed.
    pub secret_keys: Vec<crate::access::sealing::SealingKey>,
    /// Length of one partition of the two logs (`webhook_deliveries`,
    /// `api_request_log`); partitions start at whole multiples of it since
    /// the Unix epoch (UTC).
    pub log_partition_interval: Duration,
    /// How long delivery-log partitions are kept once they have ended.
    pub delivery_retention: Retention,
    /// How long request-log partitions are kept once they have ended.
    pub request_log_retention: Retention,
}

/// How long a log keeps its rows: whole partitions are dropped once every
/// row they can hold is older than this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    Forever,
    For(Duration),
}

impl Retention {
    /// `90d`, `12h`, or `forever`; zero is refused.
    pub fn parse(text: &str) -> Result<Retention, String> {
        if text.trim() == "forever" {
            return Ok(Retention::Forever);
        }
        match parse_duration(text) {
            Ok(d) if d.is_zero() => Err("must be longer than 0 (or forever)".into()),
            Ok(d) => Ok(Retention::For(d)),
            Err(_) => Err(format!(
                "{text:?} is not a duration like 12h or 90d, or forever"
            )),
        }
    }
}

/// The operator's notification endpoint: trusted configuration, so private
/// and `http://` targets are allowed (link-local stays refused).
#[derive(Clone)]
pub struct OperatorWebhook {
    pub url: String,
    pub secret: Secret,
}

impl fmt::Debug for OperatorWebhook {
    // The host only: the URL may carry a token in its path or query.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = url::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        f.debug_struct("OperatorWebhook")
            .field("host", &host)
            .field("secret", &"REDACTED")
            .finish()
    }
}

/// `DATABASE_URL`, which may carry a password: `Debug` shows the URL with
/// the password redacted, and only [`DatabaseUrl::expose`] gives it whole.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(SecretString::from(url.into()))
    }

    /// The connection string, password included: for connecting only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with its password (in the user part or a `password`
    /// parameter) replaced. The `key=value` form is not taken apart: it
    /// is hidden whole rather than half right.
    fn redacted(&self) -> String {
        // Letters only, so the URL shows it without percent-encoding.
        const REDACTED: &str = "REDACTED";
        let mut url = match url::Url::parse(self.expose()) {
            Ok(url) if url.has_host() => url,
            _ => return REDACTED.to_string(),
        };
        // A URL whose password cannot be replaced (an empty host, as in a
        // socket URL) is hidden whole.
        if url.password().is_some() && url.set_password(Some(REDACTED)).is_err() {
            return REDACTED.to_string();
        }
        if url.query_pairs().any(|(key, _)| key == "password") {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(key, value)| {
                    let value = if key == "password" {
                        REDACTED.into()
                    } else {
                        value.into_owned()
                    };
                    (key.into_owned(), value)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        url.to_string()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
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

/// A variable of the process environment; the one place that reads it.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `IHF_LISTEN` alone, for `healthcheck`, which must work without `DATABASE_URL`.
pub fn listen_from_env() -> Result<SocketAddr, ConfigError> {
    listen(env)
}

/// `DATABASE_URL` if it is set, for the demo, which makes its own database
/// (on that server if given, else in a cluster of its own).
pub fn database_url_from_env() -> Option<DatabaseUrl> {
    env("DATABASE_URL")
        .filter(|v| !v.trim().is_empty())
        .map(DatabaseUrl::new)
}

fn listen(lookup: impl Fn(&str) -> Option<String>) -> Result<SocketAddr, ConfigError> {
    const NAME: &str = "IHF_LISTEN";
    let text = lookup(NAME)
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    text.parse().map_err(|_| {
        err(
            NAME,
            format!("{text:?} is not an address like 127.0.0.1:8080"),
        )
    })
}

impl Config {
    /// Reads the process environment. `DATABASE_URL` is required.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env)
    }

    /// Reads the process environment, except for the variables `fixed`
    /// answers (the demo fixes the listen address and the target policy).
    pub fn from_env_with(fixed: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| fixed(name).or_else(|| env(name)))
    }

    /// Reads configuration through `lookup`, so tests can supply their own values.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str, default: &str| -> (&'static str, String) {
            let value = lookup(name).filter(|v| !v.trim().is_empty());
            (name, value.unwrap_or_else(|| default.to_string()))
        };
        let database_url = lookup("DATABASE_URL")
            .filter(|v| !v.trim().is_empty())
            .map(DatabaseUrl::new)
            .ok_or_else(|| {
                err(
                    "DATABASE_URL",
                    "is required (a PostgreSQL connection string)",
                )
            })?;
        let listen = listen(&lookup)?;
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
        let retention = |name: &'static str, default: &str| -> Result<Retention, ConfigError> {
            let (name, v) = get(name, default);
            Retention::parse(&v).map_err(|m| err(name, m))
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
        let operator = operator_webhook(&lookup)?;
        Ok(Config {
            database_url,
            listen,
            migrate_on_start: flag("IHF_MIGRATE_ON_START")?,
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
            operator,
            failing_after: duration("IHF_FAILING_AFTER", "1h")?,
            exhausted_window: within(
                "IHF_EXHAUSTED_NOTIFY_WINDOW",
                duration("IHF_EXHAUSTED_NOTIFY_WINDOW", "1h")?,
                Duration::from_secs(1)..=Duration::from_secs(30 * 86_400),
                "1s and 30d",
            )?,
            http_header_timeout: nonzero(
                "IHF_HTTP_HEADER_TIMEOUT",
                duration("IHF_HTTP_HEADER_TIMEOUT", "10s")?,
            )?,
            http_body_timeout: nonzero(
                "IHF_HTTP_BODY_TIMEOUT",
                duration("IHF_HTTP_BODY_TIMEOUT", "30s")?,
            )?,
            http_idle_timeout: nonzero(
                "IHF_HTTP_IDLE_TIMEOUT",
                duration("IHF_HTTP_IDLE_TIMEOUT", "60s")?,
            )?,
            http_max_connections: positive("IHF_HTTP_MAX_CONNECTIONS", "1024")?,
            max_subscriptions_per_consumer: positive("IHF_MAX_SUBSCRIPTIONS_PER_CONSUMER", "100")?,
            dns_timeout: nonzero("IHF_DNS_TIMEOUT", duration("IHF_DNS_TIMEOUT", "5s")?)?,
            secret_keys: match lookup("IHF_SECRET_KEYS").filter(|v| !v.trim().is_empty()) {
                None => Vec::new(),
                Some(text) => crate::access::sealing::parse_keys(&text)
                    .map_err(|m| err("IHF_SECRET_KEYS", m))?,
            },
            log_partition_interval: partition_interval(duration(
                "IHF_LOG_PARTITION_INTERVAL",
                "1d",
            )?)?,
            delivery_retention: retention("IHF_DELIVERY_RETENTION", "90d")?,
            request_log_retention: retention("IHF_REQUEST_LOG_RETENTION", "30d")?,
        })
    }

    /// How long a claimed job stays leased: long enough for one attempt, short
    /// enough that a dead replica's jobs are retried within timeout + 30 s
    /// (with the default margin and poll interval).
    pub fn lease(&self) -> Duration {
        self.delivery_timeout + self.lease_margin
    }
}

/// `IHF_OPERATOR_WEBHOOK_URL` with its `whsec_` secret, both or neither.
fn operator_webhook(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<OperatorWebhook>, ConfigError> {
    let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let url = match set("IHF_OPERATOR_WEBHOOK_URL") {
        Some(url) => url,
        None if set("IHF_OPERATOR_WEBHOOK_SECRET").is_some() => {
            return Err(err(
                "IHF_OPERATOR_WEBHOOK_URL",
                "is required when IHF_OPERATOR_WEBHOOK_SECRET is set",
            ))
        }
        None => return Ok(None),
    };
    let url = TargetPolicy::OPERATOR
        .check_url(url.trim())
        .map_err(|refusal| err("IHF_OPERATOR_WEBHOOK_URL", refusal.to_string()))?
        .to_string();
    let secret = set("IHF_OPERATOR_WEBHOOK_SECRET").ok_or_else(|| {
        err(
            "IHF_OPERATOR_WEBHOOK_SECRET",
            "is required when IHF_OPERATOR_WEBHOOK_URL is set (a whsec_ secret)",
        )
    })?;
    let secret = Secret::parse(secret.trim())
        .map_err(|e| err("IHF_OPERATOR_WEBHOOK_SECRET", e.to_string()))?;
    Ok(Some(OperatorWebhook { url, secret }))
}

/// `value` unless it is zero.
fn nonzero(variable: &'static str, value: Duration) -> Result<Duration, ConfigError> {
    if value.is_zero() {
        Err(err(variable, "must be longer than 0"))
    } else {
        Ok(value)
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

/// Whole minutes, at least one: partition names carry the minute they start.
fn partition_interval(value: Duration) -> Result<Duration, ConfigError> {
    if value < Duration::from_secs(60) || !value.as_millis().is_multiple_of(60_000) {
        return Err(err(
            "IHF_LOG_PARTITION_INTERVAL",
            "must be a whole number of minutes, at least 1m (e.g. 1d, 6h, 1m)",
        ));
    }
    Ok(value)
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

/// `15s`, `500ms`, `2m`: how durations read in messages (the units
/// [`parse_duration`] reads).
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
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
    fn human_durations_read_back_as_the_same_duration() {
        for (d, text) in [
            (Duration::from_millis(250), "250ms"),
            (Duration::from_secs(15), "15s"),
            (Duration::from_secs(120), "2m"),
            (Duration::ZERO, "0ms"),
        ] {
            assert_eq!(human_duration(d), text);
            assert_eq!(parse_duration(text).unwrap(), d);
        }
    }

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn debug_shows_every_setting_but_no_password() {
        let with_password = config(&[
            ("DATABASE_URL", "postgres://ihf:hunter2@db.internal:5432/framework?sslmode=disable&password=hunter3"),
            ("IHF_MIGRATE_ON_START", "true"),
            ("IHF_TOKEN_TTL", "2h"),
        ])
        .unwrap();
        let debug = format!("{with_password:?}");
        assert!(!debug.contains("hunter"), "{debug}");
        assert!(
            debug.contains("postgres://ihf:REDACTED@db.internal:5432/framework?sslmode=disable&password=REDACTED"),
            "{debug}"
        );
        assert!(debug.contains("migrate_on_start: true"), "{debug}");
        assert!(debug.contains("token_ttl: 7200s"), "{debug}");
        assert!(!debug.contains(".."), "no field left out: {debug}");

        for hidden in [
            "host=db user=ihf password=hunter2",
            "postgres://ihf:hunter2@/framework?host=/run/postgresql",
        ] {
            let config = config(&[("DATABASE_URL", hidden)]).unwrap();
            assert!(!format!("{config:?}").contains("hunter2"), "{hidden}");
        }
        let no_password = config(&[("DATABASE_URL", "postgres://ihf@db/framework")]).unwrap();
        assert!(format!("{no_password:?}").contains("postgres://ihf@db/framework"));
    }

    #[test]
    fn migrate_on_start_is_a_flag_named_in_its_error() {
        assert!(
            !config(&[("DATABASE_URL", "postgres://x")])
                .unwrap()
                .migrate_on_start
        );
        let e = config(&[
            ("DATABASE_URL", "postgres://x"),
            ("IHF_MIGRATE_ON_START", "maybe"),
        ])
        .unwrap_err();
        assert_eq!(e.variable, "IHF_MIGRATE_ON_START");
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
        let e = Config::from_lookup(|n| match n {
            "DATABASE_URL" => Some("postgres://x".into()),
            "IHF_OPERATOR_WEBHOOK_URL" => Some("http://127.0.0.1:9/ops".into()),
            "IHF_OPERATOR_WEBHOOK_SECRET" => Some("sesame".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(e.variable, "IHF_OPERATOR_WEBHOOK_SECRET");
        let e = Config::from_lookup(|n| match n {
            "DATABASE_URL" => Some("postgres://x".into()),
            "IHF_OPERATOR_WEBHOOK_URL" => Some("http://169.254.169.254/".into()),
            "IHF_OPERATOR_WEBHOOK_SECRET" => {
                Some(crate::delivery::signing::generate_secret().expose().into())
            }
            _ => None,
        })
        .unwrap_err();
        assert_eq!(
            e.variable, "IHF_OPERATOR_WEBHOOK_URL",
            "link-local stays refused"
        );
        assert!(Config::from_lookup(|_| None)
            .unwrap_err()
            .to_string()
            .starts_with("DATABASE_URL"));
    }

    /// The configuration with `DATABASE_URL` and one more variable set.
    fn with(name: &'static str, value: &'static str) -> Result<Config, ConfigError> {
        Config::from_lookup(move |n| match n {
            "DATABASE_URL" => Some("postgres://x".into()),
            n if n == name => Some(value.into()),
            _ => None,
        })
    }

    #[test]
    fn hardening_settings_have_their_defaults_and_name_themselves_when_invalid() {
        let c = with("NONE", "").unwrap();
        assert_eq!(c.http_header_timeout, Duration::from_secs(10));
        assert_eq!(c.http_body_timeout, Duration::from_secs(30));
        assert_eq!(c.http_idle_timeout, Duration::from_secs(60));
        assert_eq!(c.http_max_connections, 1024);
        assert_eq!(c.max_subscriptions_per_consumer, 100);
        assert_eq!(c.dns_timeout, Duration::from_secs(5));
        assert!(c.secret_keys.is_empty());
        for (name, bad) in [
            ("IHF_HTTP_HEADER_TIMEOUT", "0s"),
            ("IHF_HTTP_MAX_CONNECTIONS", "0"),
            ("IHF_MAX_SUBSCRIPTIONS_PER_CONSUMER", "many"),
            ("IHF_DNS_TIMEOUT", "5"),
            ("IHF_SECRET_KEYS", "c2hvcnQ="),
        ] {
            assert_eq!(with(name, bad).unwrap_err().variable, name);
        }
    }

    #[test]
    fn log_settings_have_their_defaults_and_name_themselves_when_invalid() {
        let c = with("NONE", "").unwrap();
        assert_eq!(c.log_partition_interval, Duration::from_secs(86_400));
        assert_eq!(
            c.delivery_retention,
            Retention::For(Duration::from_secs(90 * 86_400))
        );
        assert_eq!(
            c.request_log_retention,
            Retention::For(Duration::from_secs(30 * 86_400))
        );
        let c = with("IHF_DELIVERY_RETENTION", "forever").unwrap();
        assert_eq!(c.delivery_retention, Retention::Forever);
        let c = with("IHF_LOG_PARTITION_INTERVAL", "1m").unwrap();
        assert_eq!(c.log_partition_interval, Duration::from_secs(60));
        for (name, value) in [
            ("IHF_LOG_PARTITION_INTERVAL", "30s"),
            ("IHF_LOG_PARTITION_INTERVAL", "90s"),
            ("IHF_LOG_PARTITION_INTERVAL", "daily"),
            ("IHF_DELIVERY_RETENTION", "0d"),
            ("IHF_DELIVERY_RETENTION", "always"),
            ("IHF_REQUEST_LOG_RETENTION", "-1d"),
        ] {
            let e = with(name, value).unwrap_err();
            assert_eq!(e.variable, name, "{value}");
        }
    }
}
