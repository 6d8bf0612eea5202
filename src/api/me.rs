//! `GET /api/v2/me`: the calling consumer, the key it called with, its limits,
//! and how much of them is left (counting this request).

use axum::extract::{Extension, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::auth::Caller;
use super::problem::Problem;
use super::AppState;
use crate::access::consumers::{self, Consumer};
use crate::access::limits::Decision;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub consumer: Consumer,
    pub key: KeyView,
    pub rate_limit: RateLimitView,
    pub quota: QuotaView,
}

/// The key or token of this request.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: Uuid,
    /// `static` or `oauth`.
    pub token_type: String,
    pub scopes: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The per-minute limit (rolling minute).
#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitView {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until more requests are allowed.
    pub reset_in_seconds: u64,
}

/// The daily quota (UTC day).
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    /// The next UTC midnight.
    pub resets_at: DateTime<Utc>,
}

/// The calling consumer, its key, limits and usage.
#[utoipa::path(
    get,
    path = "/api/v2/me",
    operation_id = "getMe",
    tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = Me))
)]
async fn me(
    State(state): State<AppState>,
    caller: Caller,
    Extension(decision): Extension<Decision>,
) -> Result<Json<Me>, Problem> {
    let client = state.db.get().await?;
    let mut consumer = consumers::get(&**client, caller.consumer_id)
        .await?
        .ok_or_else(|| Problem::not_found("consumer"))?;
    // The table's count lags by up to a sync interval; this replica's count,
    // which includes this request, is the one `quota` shows: say one number.
    let used = decision.day.limit - decision.day.remaining;
    consumer.quota_used = i64::try_from(used).unwrap_or(i64::MAX);
    consumer.quota_resets_at = decision.day_resets_at;
    Ok(Json(Me {
        consumer,
        key: KeyView {
            id: caller.key_id,
            token_type: caller.token_type.to_string(),
            scopes: caller.scopes.to_string(),
            expires_at: caller.expires_at,
        },
        rate_limit: RateLimitView {
            limit: decision.minute.limit,
            remaining: decision.minute.remaining,
            reset_in_seconds: decision.minute.reset_secs,
        },
        quota: QuotaView {
            limit: decision.day.limit,
            used,
            remaining: decision.day.remaining,
            resets_at: decision.day_resets_at,
        },
    }))
}
