//! The HTTP side: `/api/v2` (one module per resource), health, and the
//! plumbing they share (state, auth, problem+json, JSON bodies).

pub mod auth;
pub mod health;
pub mod json;
pub mod metrics;
pub mod problem;
pub mod webhook_actions;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use deadpool_postgres::Pool;

use crate::delivery::client::WebhookClient;
use crate::listener::Doorbell;
use crate::metrics::Metrics;
use crate::ssrf::TargetPolicy;

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
}

/// The whole HTTP side. With `api` false only health (and metrics) are served.
pub fn router(state: AppState, api: bool) -> Router {
    let mut router = health::router().merge(metrics::router());
    if api {
        router = router
            .merge(webhooks::router())
            .merge(webhook_actions::router())
            .fallback(|| async { problem::Problem::not_found("route") });
    }
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}
