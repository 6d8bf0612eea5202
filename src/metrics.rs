//! Prometheus metrics (Prometheus naming conventions): one registry per running service,
//! names in snake_case with unit suffixes, label values bounded (event types,
//! outcomes, route templates; never ids or URLs).

use std::time::Duration;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Latency buckets from 1 ms to 60 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

pub struct Metrics {
    registry: Registry,
    /// Attempts by event type and outcome: delivered, failed_attempt,
    /// finally_failed, refused (SSRF guard), cancelled (inactive subscription).
    pub deliveries: IntCounterVec,
    pub attempt_duration: HistogramVec,
    /// Source commit (the row's insert) to a 2xx answer.
    pub delivery_lag: Histogram,
    pub retries_scheduled: IntCounter,
    /// Subscriptions deactivated by the worker, by reason: gone, failing.
    pub subscriptions_disabled: IntCounterVec,
    pub listener_connected: IntGauge,
    pub listener_reconnects: IntCounter,
    pub notifications: IntCounter,
    /// Dispatcher wake-ups by cause: notification, progress (results recorded), poll.
    pub wakeups: IntCounterVec,
    pub jobs_due: IntGauge,
    pub oldest_due_job_age: Gauge,
    pub outbox_events: IntGauge,
    /// Pool connections by pool (api, worker) and state (size, available, waiting).
    pub pool_connections: IntGaugeVec,
    /// API requests by route template, method and status class.
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    /// Requests refused by a limit, by policy (minute, day).
    pub rate_limited: IntCounterVec,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("unique metric");
    c
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("unique metric");
    c
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("unique metric");
    g
}

fn histogram_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(SECONDS_BUCKETS.to_vec());
    let h = HistogramVec::new(opts, labels).expect("valid metric");
    registry
        .register(Box::new(h.clone()))
        .expect("unique metric");
    h
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let build = IntGaugeVec::new(
            Opts::new("ihf_build_info", "Build information; always 1."),
            &["version"],
        )
        .expect("valid metric");
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        r.register(Box::new(build)).expect("unique metric");
        let lag = Histogram::with_opts(
            HistogramOpts::new(
                "ihf_delivery_lag_seconds",
                "Time from the source row's insert to a 2xx answer.",
            )
            .buckets(SECONDS_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        r.register(Box::new(lag.clone())).expect("unique metric");
        let oldest = Gauge::new(
            "ihf_oldest_due_job_age_seconds",
            "How long the oldest due job has been due (0 when none).",
        )
        .expect("valid metric");
        r.register(Box::new(oldest.clone())).expect("unique metric");
        let pools = IntGaugeVec::new(
            Opts::new(
                "ihf_db_pool_connections",
                "Database pool connections by state.",
            ),
            &["pool", "state"],
        )
        .expect("valid metric");
        r.register(Box::new(pools.clone())).expect("unique metric");
        Metrics {
            deliveries: counter_vec(
                &r,
                "ihf_delivery_attempts_total",
                "Delivery attempts by event type and outcome.",
                &["event_type", "outcome"],
            ),
            attempt_duration: histogram_vec(
                &r,
                "ihf_delivery_attempt_duration_seconds",
                "Duration of one delivery attempt.",
                &["event_type"],
            ),
            delivery_lag: lag,
            retries_scheduled: counter(&r, "ihf_retries_scheduled_total", "Retries scheduled."),
            subscriptions_disabled: counter_vec(
                &r,
                "ihf_subscriptions_disabled_total",
                "Subscriptions deactivated by the worker, by reason.",
                &["reason"],
            ),
            listener_connected: gauge(
                &r,
                "ihf_listener_connected",
                "1 while the LISTEN connection is up.",
            ),
            listener_reconnects: counter(
                &r,
                "ihf_listener_reconnects_total",
                "Times the LISTEN connection was re-established.",
            ),
            notifications: counter(
                &r,
                "ihf_notifications_received_total",
                "NOTIFY doorbells received.",
            ),
            wakeups: counter_vec(
                &r,
                "ihf_dispatcher_wakeups_total",
                "Idle dispatcher wake-ups by cause.",
                &["cause"],
            ),
            jobs_due: gauge(&r, "ihf_jobs_due", "Jobs due now and not claimed."),
            oldest_due_job_age: oldest,
            outbox_events: gauge(
                &r,
                "ihf_outbox_events",
                "Captured events not yet fanned out.",
            ),
            pool_connections: pools,
            http_requests: counter_vec(
                &r,
                "ihf_http_requests_total",
                "HTTP requests by route template, method and status class.",
                &["route", "method", "status_class"],
            ),
            http_duration: histogram_vec(
                &r,
                "ihf_http_request_duration_seconds",
                "HTTP request duration by route template.",
                &["route", "method"],
            ),
            rate_limited: counter_vec(
                &r,
                "ihf_rate_limited_requests_total",
                "API requests refused by a rate limit or quota, by policy.",
                &["policy"],
            ),
            registry: r,
        }
    }

    pub fn observe_attempt(&self, event_type: &str, outcome: &str, duration: Duration) {
        self.deliveries
            .with_label_values(&[event_type, outcome])
            .inc();
        self.attempt_duration
            .with_label_values(&[event_type])
            .observe(duration.as_secs_f64());
    }

    /// Sets a pool's gauges from its current status.
    pub fn observe_pool(&self, name: &str, pool: &deadpool_postgres::Pool) {
        let status = pool.status();
        let set = |state: &str, v: usize| {
            self.pool_connections
                .with_label_values(&[name, state])
                .set(v as i64)
        };
        set("size", status.size);
        set("available", status.available);
        set("waiting", status.waiting);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("exposition is UTF-8")
    }
}
