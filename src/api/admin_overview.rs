//! `GET /api/v2/admin/overview`: every consumer at a glance for operators
//! (and the console's admin view): its limits, today's usage against its
//! quota, and how many of its subscriptions are healthy, failing, paused or
//! disabled.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::page::{self, Page};
use super::problem::Problem;
use super::query::ApiQuery;
use super::webhooks::ListQuery;
use super::AppState;
use crate::access::consumers::Consumer;
use crate::access::keys::Scope;
use crate::db::sql;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(overview))
}

/// How a consumer's live (not deleted) subscriptions are doing.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionHealth {
    pub total: i64,
    /// Active and not failing.
    pub healthy: i64,
    /// Active, and its last attempt failed (`failing_since` set).
    pub failing: i64,
    /// Paused by the consumer.
    pub paused: i64,
    /// Deactivated by the service (`disabled_reason` says why).
    pub disabled: i64,
}

/// One consumer in the overview.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsumerOverview {
    /// The consumer, with today's usage (`quota_used`) and `quota_per_day`.
    pub consumer: Consumer,
    pub subscriptions: SubscriptionHealth,
}

/// Every consumer with today's usage, its quota and its subscriptions' health.
#[utoipa::path(
    get,
    path = "/api/v2/admin/overview",
    operation_id = "getAdminOverview",
    tag = "admin",
    params(ListQuery),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "A page of consumers, oldest first", body = Page<ConsumerOverview>),
        (status = 400, description = "`limit` or `cursor` is not valid"),
    )
)]
async fn overview(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<ConsumerOverview>>, Problem> {
    caller.require(Scope::Admin)?;
    let page = page::Request::parse(query.limit, query.cursor.as_deref())?;
    let (after_time, after_id) = page.after.unzip();
    let client = state.db.get().await?;
    let stmt = client.prepare_cached(sql::CONSUMERS_OVERVIEW).await?;
    let rows = client
        .query(&stmt, &[&after_time, &after_id, &page.fetch()])
        .await?;
    let rows = rows
        .iter()
        .map(|r| ConsumerOverview {
            consumer: Consumer::from_row(r),
            subscriptions: SubscriptionHealth {
                total: r.get("subscriptions"),
                healthy: r.get("healthy"),
                failing: r.get("failing"),
                paused: r.get("paused"),
                disabled: r.get("disabled"),
            },
        })
        .collect();
    Ok(Json(Page::new(rows, &page, |o| {
        (o.consumer.created_at, o.consumer.id)
    })))
}
