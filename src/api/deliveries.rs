//! `GET /api/v2/webhooks/{id}/deliveries`: a subscription's attempt log
//! (`webhook_deliveries`), newest first. Only the caller's own subscriptions;
//! another consumer's is 404.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::auth::Caller;
use super::page::{self, Page};
use super::problem::Problem;
use super::query::ApiQuery;
use super::webhooks::own_subscription;
use super::AppState;
use crate::access::keys::Scope;
use crate::db::sql;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// A row's `status`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only rows with this status.
    #[param(inline)]
    pub status: Option<DeliveryStatus>,
    /// Only rows attempted at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
}

/// One row of the attempt log: a delivery that waits to be attempted
/// (`pending`) or an attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    /// The event's id (`webhook-id`): ties the rows of one event together.
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// The receiver's HTTP status, if it answered.
    pub response_code: Option<i32>,
    pub latency_ms: Option<i32>,
    /// What happened, and whether and when it will be retried.
    pub error_message: Option<String>,
    pub attempted_at: DateTime<Utc>,
    /// The envelope as sent: `{"id", "type", "timestamp", "data"}`. A
    /// delivery's first row stores it; its later rows store only
    /// `{"id", "type", "timestamp"}` and are shown with the first row's body.
    /// Once that first row is past the log's retention
    /// (`IHF_DELIVERY_RETENTION`), such a row shows only what it stores.
    #[schema(value_type = Object)]
    pub payload: Value,
}

impl Delivery {
    fn from_row(row: &tokio_postgres::Row) -> Delivery {
        Delivery {
            id: row.get("id"),
            event_id: row.get("event_id"),
            event_type: row.get("event_type"),
            status: row.get("status"),
            response_code: row.get("response_code"),
            latency_ms: row.get("latency_ms"),
            error_message: row.get("error_message"),
            attempted_at: row.get("attempted_at"),
            payload: row.get("payload"),
        }
    }
}

/// A subscription's attempt log, newest first: every row. A delivery's later
/// rows store only the event's reference and are shown with its first row's
/// body; once that row is past the log's retention (`IHF_DELIVERY_RETENTION`)
/// they are shown with the reference alone.
#[utoipa::path(
    get,
    path = "/api/v2/webhooks/{id}/deliveries",
    operation_id = "listDeliveries",
    tag = "deliveries",
    params(("id" = Uuid, Path, description = "Subscription id"), DeliveriesQuery),
    security(("bearer" = ["deliveries:read"])),
    responses(
        (status = 200, description = "A page of attempt-log rows", body = Page<Delivery>),
        (status = 400, description = "A query parameter is not valid"),
        (status = 404, description = "No such subscription of the caller's"),
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Page<Delivery>>, Problem> {
    caller.require(Scope::DeliveriesRead)?;
    let page = page::Request::parse(query.limit, query.cursor.as_deref())?;
    page::check_time("since", query.since)?;
    let client = state.db.get().await?;
    let subscription = own_subscription(&client, &caller, &id).await?;
    let (before_time, before_id) = page.after.unzip();
    let status = query.status.map(DeliveryStatus::as_str);
    let stmt = client.prepare_cached(sql::DELIVERIES_LIST).await?;
    let rows = client
        .query(
            &stmt,
            &[
                &subscription.id,
                &before_time,
                &before_id,
                &status,
                &query.since,
                &page.fetch(),
            ],
        )
        .await?;
    let rows = rows.iter().map(Delivery::from_row).collect();
    Ok(Json(Page::new(rows, &page, |d| (d.attempted_at, d.id))))
}
