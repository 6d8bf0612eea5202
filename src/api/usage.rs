//! `GET /api/v2/usage`: the caller's requests per UTC day and endpoint, from
//! `api_request_log` (written within a second or so of each request).

use axum::extract::State;
use axum::Json;
use chrono::{Days, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::problem::Problem;
use super::query::ApiQuery;
use super::AppState;
use crate::access::keys::Scope;
use crate::db::sql;

/// The longest span one request may cover.
const MAX_DAYS: i64 = 92;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(usage))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// First UTC day (default: six days before `until`).
    pub since: Option<NaiveDate>,
    /// Last UTC day, included; at most 91 days after `since` (default: today,
    /// or the last day allowed after `since` if that is earlier).
    pub until: Option<NaiveDate>,
}

/// Requests to one endpoint and method on one UTC day.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRow {
    pub day: NaiveDate,
    /// The route template, e.g. `/api/v2/webhooks/{id}`.
    pub endpoint: String,
    pub method: String,
    pub requests: i64,
    pub status_2xx: i64,
    pub status_3xx: i64,
    pub status_4xx: i64,
    pub status_5xx: i64,
    /// Median latency in milliseconds.
    pub p50_ms: Option<f64>,
    /// 95th percentile latency in milliseconds.
    pub p95_ms: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    pub since: NaiveDate,
    pub until: NaiveDate,
    /// Newest day first, then by endpoint and method; days without requests are left out.
    pub data: Vec<UsageRow>,
}

/// The caller's request counts, status classes and latency percentiles per
/// UTC day and endpoint.
#[utoipa::path(
    get,
    path = "/api/v2/usage",
    operation_id = "getUsage",
    tag = "account",
    params(UsageQuery),
    security(("bearer" = ["usage:read"])),
    responses(
        (status = 200, description = "Usage per day and endpoint", body = Usage),
        (status = 400, description = "The days are not valid or span more than 92 days"),
    )
)]
async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> Result<Json<Usage>, Problem> {
    caller.require(Scope::UsageRead)?;
    let today = Utc::now().date_naive();
    let span = Days::new(MAX_DAYS as u64 - 1);
    // Defaults: the week up to today; with only `since`, as far as allowed up to today.
    let (since, until) = match (query.since, query.until) {
        (Some(since), Some(until)) => (since, until),
        (Some(since), None) => (
            since,
            since
                .checked_add_days(span)
                .map_or(since, |end| end.min(today).max(since)),
        ),
        (None, until) => {
            let until = until.unwrap_or(today);
            (until.checked_sub_days(Days::new(6)).unwrap_or(until), until)
        }
    };
    if since > until {
        return Err(Problem::bad_request("since must not be after until"));
    }
    if (until - since).num_days() >= MAX_DAYS {
        return Err(Problem::bad_request(format!(
            "at most {MAX_DAYS} days per request"
        )));
    }
    // Days outside what PostgreSQL can store hold no requests either.
    let first = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");
    let from = since.clamp(first, last).and_time(NaiveTime::MIN).and_utc();
    let to = until.clamp(first, last).and_time(NaiveTime::MIN).and_utc() + Duration::days(1);
    let client = state.db.get().await?;
    let stmt = client.prepare_cached(sql::USAGE_BY_DAY).await?;
    let rows = client
        .query(&stmt, &[&caller.consumer_id, &from, &to])
        .await?;
    let data = rows
        .iter()
        .map(|r| UsageRow {
            day: r.get("day"),
            endpoint: r.get("endpoint"),
            method: r.get("method"),
            requests: r.get("requests"),
            status_2xx: r.get("status_2xx"),
            status_3xx: r.get("status_3xx"),
            status_4xx: r.get("status_4xx"),
            status_5xx: r.get("status_5xx"),
            p50_ms: r.get("p50_ms"),
            p95_ms: r.get("p95_ms"),
        })
        .collect();
    Ok(Json(Usage { since, until, data }))
}
