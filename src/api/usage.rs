//! `GET /api/v2/usage`: the caller's requests per UTC day (or hour) and
//! endpoint, with a total per bucket, from `api_request_log` (written within
//! a second or so of each request). Without `bucket` it answers as it always
//! did: days, the same rows and fields (the bucket fields are additions).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Days, Duration, NaiveDate, NaiveTime, Utc};
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

/// The longest span one request may cover, in days, with day buckets.
const MAX_DAYS: i64 = 92;
/// The same with hour buckets (up to 744 of them).
const MAX_DAYS_HOURLY: i64 = 31;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(usage))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// First UTC day (default: six days before `until` with day buckets, the
    /// day before with hour buckets).
    pub since: Option<NaiveDate>,
    /// Last UTC day, included; at most 91 days after `since` with day
    /// buckets, 30 with hour buckets (default: today, or the last day allowed
    /// after `since` if that is earlier).
    pub until: Option<NaiveDate>,
    /// Bucket width (default `day`).
    #[param(inline)]
    pub bucket: Option<Bucket>,
}

/// How wide one bucket of the usage series is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    #[default]
    Day,
    Hour,
}

impl Bucket {
    /// The unit as PostgreSQL's `date_trunc` names it.
    fn unit(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Hour => "hour",
        }
    }

    fn max_days(self) -> i64 {
        match self {
            Bucket::Day => MAX_DAYS,
            Bucket::Hour => MAX_DAYS_HOURLY,
        }
    }

    /// Days before `until` that the default span starts.
    fn default_days_back(self) -> u64 {
        match self {
            Bucket::Day => 6,
            Bucket::Hour => 1,
        }
    }
}

/// Request counts and latency of one bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageCounts {
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

impl UsageCounts {
    fn from_row(r: &tokio_postgres::Row) -> UsageCounts {
        UsageCounts {
            requests: r.get("requests"),
            status_2xx: r.get("status_2xx"),
            status_3xx: r.get("status_3xx"),
            status_4xx: r.get("status_4xx"),
            status_5xx: r.get("status_5xx"),
            p50_ms: r.get("p50_ms"),
            p95_ms: r.get("p95_ms"),
        }
    }
}

/// Requests to one endpoint and method in one bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRow {
    /// The UTC day of the bucket.
    pub day: NaiveDate,
    /// When the bucket starts (a UTC midnight or the top of an hour).
    pub start: DateTime<Utc>,
    /// The route template, e.g. `/api/v2/webhooks/{id}`.
    pub endpoint: String,
    pub method: String,
    #[serde(flatten)]
    pub counts: UsageCounts,
}

/// Requests to all endpoints in one bucket (latency across all of them).
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageTotal {
    /// When the bucket starts (a UTC midnight or the top of an hour).
    pub start: DateTime<Utc>,
    #[serde(flatten)]
    pub counts: UsageCounts,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    pub bucket: Bucket,
    pub since: NaiveDate,
    pub until: NaiveDate,
    /// Newest bucket first, then by endpoint and method; buckets without
    /// requests are left out.
    pub data: Vec<UsageRow>,
    /// One row per bucket in `data`, across its endpoints, newest first.
    pub totals: Vec<UsageTotal>,
}

/// The caller's request counts, status classes and latency percentiles per
/// UTC day or hour and endpoint, and per bucket across endpoints.
#[utoipa::path(
    get,
    path = "/api/v2/usage",
    operation_id = "getUsage",
    tag = "account",
    params(UsageQuery),
    security(("bearer" = ["usage:read"])),
    responses(
        (status = 200, description = "Usage per bucket and endpoint", body = Usage),
        (status = 400, description = "The days are not valid or span more than 92 days (31 with hour buckets)"),
    )
)]
async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> Result<Json<Usage>, Problem> {
    caller.require(Scope::UsageRead)?;
    let today = Utc::now().date_naive();
    let bucket = query.bucket.unwrap_or_default();
    let max_days = bucket.max_days();
    let span = Days::new(max_days as u64 - 1);
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
            let back = Days::new(bucket.default_days_back());
            (until.checked_sub_days(back).unwrap_or(until), until)
        }
    };
    if since > until {
        return Err(Problem::bad_request("since must not be after until"));
    }
    if (until - since).num_days() >= max_days {
        return Err(Problem::bad_request(format!(
            "at most {max_days} days per request with {} buckets",
            bucket.unit()
        )));
    }
    // Days outside what PostgreSQL can store hold no requests either.
    let first = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");
    let from = since.clamp(first, last).and_time(NaiveTime::MIN).and_utc();
    let to = until.clamp(first, last).and_time(NaiveTime::MIN).and_utc() + Duration::days(1);
    let client = state.db.get().await?;
    let stmt = client.prepare_cached(sql::USAGE_BY_BUCKET).await?;
    let rows = client
        .query(&stmt, &[&caller.consumer_id, &from, &to, &bucket.unit()])
        .await?;
    let mut data = Vec::new();
    let mut totals = Vec::new();
    for r in &rows {
        let start: DateTime<Utc> = r.get("start");
        if r.get::<_, bool>("total") {
            totals.push(UsageTotal {
                start,
                counts: UsageCounts::from_row(r),
            });
        } else {
            data.push(UsageRow {
                day: start.date_naive(),
                start,
                endpoint: r.get("endpoint"),
                method: r.get("method"),
                counts: UsageCounts::from_row(r),
            });
        }
    }
    Ok(Json(Usage {
        bucket,
        since,
        until,
        data,
        totals,
    }))
}
