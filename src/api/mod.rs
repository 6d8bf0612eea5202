//! The HTTP side: `/api/v2` (one module per resource), health, and the
//! plumbing they share (state, the gate, auth, problem+json, JSON bodies,
//! query strings, pagination, the OpenAPI document).

pub(crate) mod admin_consumers;
pub(crate) mod admin_keys;
pub(crate) mod admin_overview;
pub(crate) mod auth;
pub mod console;
pub(crate) mod deliveries;
pub(crate) mod event_types;
pub mod gate;
pub(crate) mod health;
pub(crate) mod json;
pub(crate) mod keys;
pub(crate) mod me;
pub(crate) mod metrics;
pub mod openapi;
pub(crate) mod page;
pub(crate) mod problem;
pub(crate) mod query;
pub(crate) mod token;
pub(crate) mod upkeep;
pub(crate) mod usage;
pub(crate) mod webhook_actions;
pub(crate) mod webhook_health;
pub(crate) mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::{middleware, Router};
use deadpool_postgres::Pool;
use utoipa_axum::router::OpenApiRouter;

use crate::capture::doorbell::Doorbell;
use crate::config::Retention;
use crate::delivery::client::WebhookClient;
use crate::delivery::ssrf::TargetPolicy;
use crate::metrics::Metrics;

/// Request bodies larger than this are refused (OWASP API4).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Pool,
    pub target_policy: TargetPolicy,
    /// The worker's doorbell, when this replica runs the worker (for `/readyz`).
    pub doorbell: Option<Arc<Doorbell>>,
    /// Sends test events (`POST /api/v2/webhooks/{id}/test`).
    pub webhook_client: WebhookClient,
    /// How long a rotated-out secret keeps signing.
    pub secret_rotation_grace: Duration,
    pub metrics: Arc<Metrics>,
    /// The worker's pool, when this replica runs the worker (for `/metrics`).
    pub worker_pool: Option<Pool>,
    /// Authentication cache, limiter and request log of the gated routes.
    pub gate: Arc<gate::Gate>,
    /// `IHF_MAX_SUBSCRIPTIONS_PER_CONSUMER`.
    pub max_subscriptions_per_consumer: usize,
    /// `IHF_DELIVERY_RETENTION`: tells a redelivery of an event the log no
    /// longer holds (410) from one of an event it never had (404).
    pub delivery_retention: Retention,
}

/// Routes behind the gate (bearer key or token, limits, scopes, request log).
/// Each is documented with `#[utoipa::path]` and registered with `routes!`,
/// which puts it in the router and in the OpenAPI document at once.
fn gated_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(me::routes())
        .merge(event_types::routes())
        .merge(webhooks::routes())
        .merge(webhook_actions::routes())
        .merge(webhook_health::routes())
        .merge(deliveries::routes())
        .merge(usage::routes())
        .merge(admin_consumers::routes())
        .merge(admin_keys::routes())
        .merge(keys::routes())
        .merge(admin_overview::routes())
}

/// Routes with their own client authentication (token) or none (the document).
fn open_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(token::routes())
        .merge(openapi::routes())
}

/// Every `/api/v2` route, for the OpenAPI document.
pub fn documented_routes() -> OpenApiRouter<AppState> {
    gated_routes().merge(open_routes())
}

/// The whole HTTP side. With `api` false only health (and metrics) are served.
pub fn router(state: AppState, api: bool) -> Router {
    let mut router = health::router().merge(metrics::router());
    if api {
        let gated: Router<AppState> = gated_routes().into();
        let open: Router<AppState> = open_routes().into();
        router = router
            .merge(gated.route_layer(middleware::from_fn_with_state(state.clone(), gate::gate)))
            .merge(open)
            .merge(console::router())
            .method_not_allowed_fallback(|| async {
                problem::Problem::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Method Not Allowed",
                    "this route does not take that method; the Allow header lists those it takes",
                )
            })
            .fallback(|| async { problem::Problem::not_found("route") });
    }
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(middleware::map_response(problem::ensure_problem))
        .with_state(state)
}
