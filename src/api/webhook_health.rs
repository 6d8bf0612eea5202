//! How a subscription's deliveries are going, and getting back what failed:
//! `GET /api/v2/webhooks/{id}/stats` sums up its attempt log over a window;
//! `POST /api/v2/webhooks/{id}/recover` re-queues the window's events that
//! failed for good, under their original `webhook-id`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::json::ApiJson;
use super::problem::Problem;
use super::query::ApiQuery;
use super::webhooks::{own_subscription, parse_id};
use super::AppState;
use crate::access::keys::Scope;
use crate::db::sql;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(recover))
}

/// The default stats window.
const DEFAULT_WINDOW: chrono::Duration = chrono::Duration::hours(24);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Start of the window (RFC 3339); default: 24 hours ago. The window
    /// ends now.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub counts: StatusCounts,
    pub latency_ms: Latency,
}

/// Rows of the attempt log in the window, by status.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCounts {
    /// Attempts answered 2xx.
    pub delivered: i64,
    /// Failed attempts (each retry counts).
    pub failed: i64,
    /// Deliveries scheduled (their first attempt waited for a slot or a
    /// redelivery or recovery was queued).
    pub pending: i64,
}

/// Latency percentiles of the window's attempts that got an answer; null
/// when there were none.
#[derive(Debug, Serialize, ToSchema)]
pub struct Latency {
    pub p50: Option<i64>,
    pub p95: Option<i64>,
}

/// A subscription's attempt log summed up over a window.
#[utoipa::path(
    get,
    path = "/api/v2/webhooks/{id}/stats",
    operation_id = "getSubscriptionStats",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id"), StatsQuery),
    security(("bearer" = ["webhooks:read"])),
    responses(
        (status = 200, description = "Counts by status and latency percentiles", body = Stats),
        (status = 400, description = "The query string is not valid"),
        (status = 404, description = "No such subscription of the caller's"),
        (status = 422, description = "`since` is in the future"),
    )
)]
async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<StatsQuery>,
) -> Result<Json<Stats>, Problem> {
    caller.require(Scope::WebhooksRead)?;
    let until = Utc::now();
    let since = query.since.unwrap_or(until - DEFAULT_WINDOW);
    if since > until {
        return Err(Problem::invalid_field("since", "is in the future"));
    }
    let client = state.db.get().await?;
    let sub = own_subscription(&client, &caller, &id).await?;
    let stmt = client.prepare_cached(sql::SUBSCRIPTION_STATS).await?;
    let row = client.query_one(&stmt, &[&sub.id, &since, &until]).await?;
    let percentile = |name: &str| row.get::<_, Option<f64>>(name).map(|v| v.round() as i64);
    Ok(Json(Stats {
        since,
        until,
        counts: StatusCounts {
            delivered: row.get("delivered"),
            failed: row.get("failed"),
            pending: row.get("pending"),
        },
        latency_ms: Latency {
            p50: percentile("p50"),
            p95: percentile("p95"),
        },
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverRequest {
    /// Events captured at or after this time (RFC 3339).
    pub since: DateTime<Utc>,
    /// Events captured before this time (RFC 3339); default: now.
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Recovered {
    /// Events queued again.
    pub queued: i64,
}

/// Re-queues, in capture order and under their original `webhook-id`, every
/// event of the subscription captured in the window whose last logged state
/// is `failed` with no retry left. Events captured while the subscription
/// was inactive were never scheduled for it and are not recovered. Repeating
/// the call while they are queued queues nothing twice.
#[utoipa::path(
    post,
    path = "/api/v2/webhooks/{id}/recover",
    operation_id = "recoverFailedEvents",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    request_body = RecoverRequest,
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 202, description = "Queued again; `queued` says how many", body = Recovered),
        (status = 400, description = "The body is not valid JSON"),
        (status = 404, description = "No such subscription of the caller's"),
        (status = 409, description = "The subscription is inactive"),
        (status = 415, description = "The body is not JSON"),
        (status = 422, description = "A field is invalid, or `until` is not after `since`"),
    )
)]
async fn recover(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RecoverRequest>,
) -> Result<(StatusCode, Json<Recovered>), Problem> {
    caller.require(Scope::WebhooksWrite)?;
    let id = parse_id(&id, "subscription")?;
    if body.until.is_some_and(|until| until <= body.since) {
        return Err(Problem::invalid_field("until", "must be after since"));
    }
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let lock = tx.prepare_cached(sql::SUBSCRIPTIONS_LOCK).await?;
    let active: bool = tx
        .query_opt(&lock, &[&id, &caller.consumer_id])
        .await?
        .ok_or_else(|| Problem::not_found("subscription"))?
        .get(0);
    if !active {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "Conflict",
            "the subscription is inactive; reactivate it (PATCH is_active) before recovering",
        ));
    }
    let stmt = tx.prepare_cached(sql::JOBS_RECOVER).await?;
    let queued: i64 = tx
        .query_one(&stmt, &[&id, &body.since, &body.until])
        .await?
        .get(0);
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(Recovered { queued })))
}
