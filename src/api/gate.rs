//! The gate in front of every bearer-authenticated `/api/v2` route:
//! authenticate (cached) → rate limit and quota (in memory) → the route's
//! documented scope → the handler; then the rate-limit headers go on the
//! response and the request goes to the request log. Nothing here waits on
//! the database unless the key is not cached.
//!
//! What is logged: every request whose credentials name a consumer, whatever
//! its outcome, including 401s for that consumer's revoked or expired keys.
//! Requests without credentials or with unknown keys are not (there is no
//! consumer to log them against).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::auth::{self, AuthError, Authenticator};
use super::problem::Problem;
use super::AppState;
use crate::access::keys::Scope;
use crate::access::limits::{Decision, Limiter};
use crate::access::request_log::{Entry, RequestLog};

/// What the gate keeps between requests.
#[derive(Debug)]
pub struct Gate {
    pub auth: Authenticator,
    pub limiter: Limiter,
    pub log: RequestLog,
    /// The scope each documented operation requires (from the OpenAPI document).
    pub scopes: RouteScopes,
    /// Lifetime of tokens from `/api/v2/token`.
    pub token_ttl: Duration,
    /// How many refusals of each known key were logged this minute.
    pub refusals: RefusalBudget,
}

/// Refusals of a known key (revoked, expired, inactive consumer) go to its
/// consumer's request log up to [`REFUSALS_LOGGED_PER_MINUTE`] a minute per
/// key; beyond that they are only counted in `/metrics`, so a leaked revoked
/// key cannot flood the real consumer's log and usage. Refusals never touch
/// the consumer's rate limit or quota.
pub const REFUSALS_LOGGED_PER_MINUTE: u32 = 60;

/// Most keys tracked; past this the oldest minute's counts are dropped.
const MAX_TRACKED_KEYS: usize = 10_000;

#[derive(Debug, Default)]
pub struct RefusalBudget(std::sync::Mutex<HashMap<Uuid, (i64, u32)>>);

impl RefusalBudget {
    /// Whether a refusal of `key` at `now` may still be logged (and counts it).
    pub fn admit(&self, key: Uuid, now: DateTime<Utc>) -> bool {
        let minute = now.timestamp().div_euclid(60);
        let mut counts = self.0.lock().expect("refusal budget lock");
        if counts.len() >= MAX_TRACKED_KEYS && !counts.contains_key(&key) {
            counts.retain(|_, (m, _)| *m == minute);
            if counts.len() >= MAX_TRACKED_KEYS {
                counts.clear();
            }
        }
        let entry = counts.entry(key).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        entry.1 <= REFUSALS_LOGGED_PER_MINUTE
    }
}

/// `(method, route template)` → the scope the OpenAPI document says the
/// operation needs (`None`: any valid key).
#[derive(Debug, Default)]
pub struct RouteScopes(HashMap<(Method, String), Option<Scope>>);

impl RouteScopes {
    pub fn new(entries: impl IntoIterator<Item = (Method, String, Option<Scope>)>) -> RouteScopes {
        RouteScopes(
            entries
                .into_iter()
                .map(|(m, path, scope)| ((m, path), scope))
                .collect(),
        )
    }

    /// The documented scope of an operation; `None` when it needs none or is
    /// not documented (then only the handler's own check applies, and the
    /// OpenAPI coverage test fails).
    pub fn required(&self, method: &Method, template: &str) -> Option<Scope> {
        let method = if method == Method::HEAD {
            Method::GET
        } else {
            method.clone()
        };
        self.0
            .get(&(method, template.to_string()))
            .copied()
            .flatten()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The middleware (`route_layer`, so the route template is known).
pub async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let now = Utc::now();
    let gate = state.gate.clone();
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let method = request.method().clone();
    let Some(token) = auth::bearer_token(request.headers()) else {
        return auth::unauthorized(None).into_response();
    };
    let key = match gate.auth.authenticate(&state.db, token).await {
        Ok(key) => key,
        Err(AuthError::Unavailable(problem)) => return problem.into_response(),
        Err(AuthError::Refused(refusal)) => {
            let response = auth::unauthorized(Some(refusal.description())).into_response();
            if let Some((consumer, key)) = refusal.consumer_and_key() {
                gate.record_refusal(
                    &state.metrics,
                    consumer,
                    key,
                    endpoint,
                    &method,
                    &response,
                    started,
                    now,
                );
            }
            return response;
        }
    };
    let decision = gate
        .limiter
        .admit(key.consumer_id, key.limits, key.daily, now);
    let mut response = if !decision.allowed {
        too_many_requests(&decision).into_response()
    } else if let Some(scope) = gate
        .scopes
        .required(&method, &endpoint)
        .filter(|s| !key.scopes.contains(*s))
    {
        auth::insufficient_scope(scope).into_response()
    } else {
        request.extensions_mut().insert(key.caller());
        request.extensions_mut().insert(decision.clone());
        next.run(request).await
    };
    set_rate_limit_headers(response.headers_mut(), &decision, now);
    gate.record(key.consumer_id, endpoint, &method, &response, started, now);
    response
}

impl Gate {
    /// Logs a refusal of a known key against its consumer within the key's
    /// budget; beyond it, counts it in `/metrics` only.
    #[allow(clippy::too_many_arguments)]
    pub fn record_refusal(
        &self,
        metrics: &crate::metrics::Metrics,
        consumer_id: Uuid,
        key_id: Uuid,
        endpoint: String,
        method: &Method,
        response: &Response,
        started: Instant,
        at: DateTime<Utc>,
    ) {
        if self.refusals.admit(key_id, at) {
            self.record(consumer_id, endpoint, method, response, started, at);
        } else {
            metrics.refusals_unlogged.inc();
        }
    }

    /// Queues the request-log entry of a finished request.
    pub fn record(
        &self,
        consumer_id: Uuid,
        endpoint: String,
        method: &Method,
        response: &Response,
        started: Instant,
        at: DateTime<Utc>,
    ) {
        self.log.record(Entry {
            consumer_id,
            endpoint,
            method: super::metrics::method_label(method).to_string(),
            status: response.status().as_u16(),
            latency_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
            at,
        });
    }
}

/// The 429 problem naming the violated policies (draft-ietf-httpapi-ratelimit-headers).
pub fn too_many_requests(decision: &Decision) -> Problem {
    let detail = if decision.violated.contains(&"day") {
        format!(
            "the daily quota of {} requests is used up; it resets at {}",
            decision.day.limit,
            decision
                .day_resets_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    } else {
        format!(
            "more than {} requests in a minute; retry in {} s",
            decision.minute.limit, decision.retry_after_secs
        )
    };
    Problem {
        extensions: Some(json!({ "violated-policies": decision.violated })),
        ..Problem::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests", detail)
    }
}

/// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers),
/// GitHub's `X-RateLimit-*` trio for the minute policy, and `Retry-After` on
/// a refusal.
pub fn set_rate_limit_headers(headers: &mut HeaderMap, d: &Decision, now: DateTime<Utc>) {
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set(
        "ratelimit-policy",
        format!(
            "\"minute\";q={};w=60, \"day\";q={};w=86400",
            d.minute.limit, d.day.limit
        ),
    );
    set(
        "ratelimit",
        format!(
            "\"minute\";r={};t={}, \"day\";r={};t={}",
            d.minute.remaining, d.minute.reset_secs, d.day.remaining, d.day.reset_secs
        ),
    );
    set("x-ratelimit-limit", d.minute.limit.to_string());
    set("x-ratelimit-remaining", d.minute.remaining.to_string());
    set(
        "x-ratelimit-reset",
        (now.timestamp() + d.minute.reset_secs as i64).to_string(),
    );
    if !d.allowed {
        set("retry-after", d.retry_after_secs.to_string());
    }
}

/// The gate's state for a new App.
pub fn new_gate(
    auth_cache_ttl: Duration,
    token_ttl: Duration,
    log: RequestLog,
    scopes: RouteScopes,
) -> Arc<Gate> {
    Arc::new(Gate {
        auth: Authenticator::new(auth_cache_ttl),
        limiter: Limiter::default(),
        log,
        scopes,
        token_ttl,
        refusals: RefusalBudget::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_of_one_key_are_logged_sixty_a_minute() {
        let budget = RefusalBudget::default();
        let (key, other) = (Uuid::new_v4(), Uuid::new_v4());
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let logged = (0..100).filter(|_| budget.admit(key, t)).count();
        assert_eq!(logged, REFUSALS_LOGGED_PER_MINUTE as usize);
        assert!(budget.admit(other, t), "each key has its own budget");
        assert!(budget.admit(key, t + chrono::Duration::seconds(60)));
    }
}
