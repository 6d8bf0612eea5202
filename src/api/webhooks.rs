//! `/api/v2/webhooks`: the caller's subscriptions. Every lookup is scoped to
//! the calling consumer; another consumer's id is 404 (OWASP API1).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::auth::Caller;
use super::json::ApiJson;
use super::page::{self, Page};
use super::problem::Problem;
use super::query::ApiQuery;
use super::AppState;
use crate::access::keys::Scope;
use crate::capture::event_types;
use crate::db::sql;
use crate::delivery::headers::{self, CustomHeaders};
use crate::delivery::signing::{self, Secret};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
}

/// A subscription as the API shows it (the secret only at creation).
#[derive(Debug, Serialize, ToSchema)]
pub struct Subscription {
    pub id: Uuid,
    #[schema(example = "annotation.created")]
    pub event_type: String,
    pub target_url: String,
    pub is_active: bool,
    /// Why it was deactivated automatically (410 Gone, failing too long).
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Custom header names sent with every delivery; values are write-only
    /// and always shown as `"***"`.
    #[schema(example = json!({"authorization": "***"}))]
    pub headers: BTreeMap<String, String>,
}

impl Subscription {
    fn from_row(row: &tokio_postgres::Row) -> Subscription {
        Subscription {
            id: row.get("id"),
            event_type: row.get("event_type"),
            target_url: row.get("target_url"),
            is_active: row.get("is_active"),
            disabled_reason: row.get("disabled_reason"),
            disabled_at: row.get("disabled_at"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
            headers: headers::masked(&row.get::<_, serde_json::Value>("headers")),
        }
    }
}

/// One subscription with its health, as `GET /api/v2/webhooks/{id}` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionDetail {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// Since when every attempt has failed (null while healthy).
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
    /// What the last failed attempt ran into.
    pub last_error: Option<String>,
    /// When the next waiting delivery is due (null when none waits).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl SubscriptionDetail {
    fn from_row(row: &tokio_postgres::Row) -> SubscriptionDetail {
        SubscriptionDetail {
            subscription: Subscription::from_row(row),
            failing_since: row.get("failing_since"),
            last_success_at: row.get("last_success_at"),
            last_failure_at: row.get("last_failure_at"),
            last_error: row.get("last_error"),
            next_attempt_at: row.get("next_attempt_at"),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// One of the event types at `GET /api/v2/event-types`.
    #[schema(example = "annotation.created")]
    pub event_type: String,
    /// Where to POST the webhooks: `https` (and `http` when the deployment
    /// allows it), resolving only to addresses the SSRF guard allows.
    #[schema(example = "https://example.com/hooks/ihf", max_length = 2048)]
    pub target_url: String,
    /// A `whsec_` secret (base64 of 24–64 bytes); generated when absent.
    pub secret: Option<String>,
    /// Up to 20 custom headers sent with every delivery (reserved names such
    /// as `webhook-id`, `content-type`, `host` or hop-by-hop headers are
    /// refused). Values are write-only.
    #[schema(example = json!({"Authorization": "Bearer gateway-token"}))]
    pub headers: Option<HashMap<String, String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSubscription {
    #[serde(flatten)]
    subscription: Subscription,
    /// Shown once: the key that verifies this subscription's signatures.
    secret: String,
}

/// Subscribe to an event type.
#[utoipa::path(
    post,
    path = "/api/v2/webhooks",
    operation_id = "createSubscription",
    tag = "webhooks",
    request_body = CreateSubscription,
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 201, description = "Created; the secret is shown only now", body = CreatedSubscription),
        (status = 409, description = "The caller already has a subscription to this event type at this target_url"),
        (status = 422, description = "A field is invalid (named in `errors`), the target is refused by the SSRF guard, or the caller has as many subscriptions as allowed (`limit`)"),
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateSubscription>,
) -> Result<impl IntoResponse, Problem> {
    caller.require(Scope::WebhooksWrite)?;
    if !event_types::is_event_type(&body.event_type) {
        let known: Vec<&str> = event_types::EVENT_TYPES.iter().map(|t| t.name).collect();
        return Err(Problem::invalid_field(
            "event_type",
            format!("unknown event type; one of: {}", known.join(", ")),
        ));
    }
    let url = check_target(&state, &body.target_url).await?;
    let secret = match &body.secret {
        Some(text) => {
            Secret::parse(text).map_err(|e| Problem::invalid_field("secret", e.to_string()))?
        }
        None => signing::generate_secret(),
    };
    let custom = parse_headers(body.headers.as_ref())?.unwrap_or_default();
    let mut client = state.db.get().await?;
    // The count and the insert in one transaction that holds the consumer's
    // row, so concurrent creations cannot overshoot the limit together.
    let tx = client.transaction().await?;
    let check = tx
        .prepare_cached(sql::SUBSCRIPTIONS_COUNT_FOR_CREATE)
        .await?;
    let existing = tx
        .query_one(&check, &[&caller.consumer_id, &body.event_type, &url])
        .await?;
    if existing.get::<_, bool>("duplicate") {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "Conflict",
            "a subscription to this event type at this target_url already exists; \
             each would deliver every event again",
        ));
    }
    let limit = state.max_subscriptions_per_consumer;
    if existing.get::<_, i64>("subscriptions") >= limit as i64 {
        return Err(Problem {
            extensions: Some(serde_json::json!({ "limit": limit })),
            ..Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unprocessable Content",
                format!(
                    "a consumer may have at most {limit} subscriptions \
                     (IHF_MAX_SUBSCRIPTIONS_PER_CONSUMER); delete one first"
                ),
            )
        });
    }
    let stmt = tx.prepare_cached(sql::SUBSCRIPTIONS_INSERT).await?;
    let row = tx
        .query_one(
            &stmt,
            &[
                &caller.consumer_id,
                &body.event_type,
                &url,
                &state.webhook_client.sealer().seal(secret.expose()),
                &headers::store_header_values(&custom, state.webhook_client.sealer()),
            ],
        )
        .await?;
    tx.commit().await?;
    let created = CreatedSubscription {
        subscription: Subscription::from_row(&row),
        secret: secret.expose().to_string(),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// A `headers` object checked, or a 422 naming the problem (and every
/// reserved name given).
fn parse_headers(
    input: Option<&HashMap<String, String>>,
) -> Result<Option<CustomHeaders>, Problem> {
    input
        .map(CustomHeaders::parse)
        .transpose()
        .map_err(|e| Problem::invalid_field("headers", e.to_string()))
}

/// The SSRF guard at subscribe time: a clear 422 naming the field.
async fn check_target(state: &AppState, target_url: &str) -> Result<String, Problem> {
    let too_long = || {
        Problem::invalid_field(
            "target_url",
            format!("must be at most {MAX_TARGET_URL} characters"),
        )
    };
    if target_url.chars().count() > MAX_TARGET_URL {
        return Err(too_long());
    }
    let url = state
        .target_policy
        .check_target(target_url)
        .await
        .map(|url| url.to_string())
        .map_err(|refusal| Problem::invalid_field("target_url", refusal.to_string()))?;
    // Normalising (punycode, percent-encoding) can lengthen it.
    if url.chars().count() > MAX_TARGET_URL {
        return Err(too_long());
    }
    Ok(url)
}

/// Longest `target_url` stored (as the schema's CHECK says too).
pub const MAX_TARGET_URL: usize = 2048;

/// `?limit=&cursor=` of the list endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The caller's subscriptions, oldest first.
#[utoipa::path(
    get,
    path = "/api/v2/webhooks",
    operation_id = "listSubscriptions",
    tag = "webhooks",
    params(ListQuery),
    security(("bearer" = ["webhooks:read"])),
    responses(
        (status = 200, description = "A page of subscriptions", body = Page<Subscription>),
        (status = 400, description = "`limit` or `cursor` is not valid"),
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<Subscription>>, Problem> {
    caller.require(Scope::WebhooksRead)?;
    let page = page::Request::parse(query.limit, query.cursor.as_deref())?;
    let (after_time, after_id) = page.after.unzip();
    let client = state.db.get().await?;
    let stmt = client.prepare_cached(sql::SUBSCRIPTIONS_LIST).await?;
    let rows = client
        .query(
            &stmt,
            &[&caller.consumer_id, &after_time, &after_id, &page.fetch()],
        )
        .await?;
    let rows = rows.iter().map(Subscription::from_row).collect();
    Ok(Json(Page::new(rows, &page, |s| (s.created_at, s.id))))
}

/// Path ids that are not UUIDs cannot name anything: 404, not 400 or 500.
pub fn parse_id(text: &str, what: &str) -> Result<Uuid, Problem> {
    text.parse().map_err(|_| Problem::not_found(what))
}

/// The caller's subscription `id`, or 404 (also for another consumer's).
pub async fn own_subscription(
    client: &deadpool_postgres::Client,
    caller: &Caller,
    id: &str,
) -> Result<Subscription, Problem> {
    let id = parse_id(id, "subscription")?;
    let stmt = client.prepare_cached(sql::SUBSCRIPTIONS_GET).await?;
    let row = client
        .query_opt(&stmt, &[&id, &caller.consumer_id])
        .await?
        .ok_or_else(|| Problem::not_found("subscription"))?;
    Ok(Subscription::from_row(&row))
}

/// One subscription.
#[utoipa::path(
    get,
    path = "/api/v2/webhooks/{id}",
    operation_id = "getSubscription",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    security(("bearer" = ["webhooks:read"])),
    responses(
        (status = 200, description = "The subscription with its health", body = SubscriptionDetail),
        (status = 404, description = "No such subscription of the caller's"),
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionDetail>, Problem> {
    caller.require(Scope::WebhooksRead)?;
    let id = parse_id(&id, "subscription")?;
    let client = state.db.get().await?;
    let stmt = client.prepare_cached(sql::SUBSCRIPTIONS_GET).await?;
    let row = client
        .query_opt(&stmt, &[&id, &caller.consumer_id])
        .await?
        .ok_or_else(|| Problem::not_found("subscription"))?;
    Ok(Json(SubscriptionDetail::from_row(&row)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscription {
    /// A new target, checked like at creation.
    #[schema(max_length = 2048)]
    pub target_url: Option<String>,
    /// Pause (`false`) or resume (`true`) deliveries.
    pub is_active: Option<bool>,
    /// Replaces every custom header (`{}` removes them); checked like at
    /// creation. Values are write-only.
    pub headers: Option<HashMap<String, String>>,
}

/// Change a subscription's target or custom headers, or pause and resume it.
#[utoipa::path(
    patch,
    path = "/api/v2/webhooks/{id}",
    operation_id = "updateSubscription",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    request_body = UpdateSubscription,
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 200, description = "The changed subscription", body = Subscription),
        (status = 404, description = "No such subscription of the caller's"),
        (status = 422, description = "A field is invalid (named in `errors`)"),
    )
)]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateSubscription>,
) -> Result<Json<Subscription>, Problem> {
    caller.require(Scope::WebhooksWrite)?;
    let id = parse_id(&id, "subscription")?;
    let target_url = match &body.target_url {
        Some(url) => Some(check_target(&state, url).await?),
        None => None,
    };
    let stored = parse_headers(body.headers.as_ref())?
        .map(|h| headers::store_header_values(&h, state.webhook_client.sealer()));
    let client = state.db.get().await?;
    let stmt = client.prepare_cached(sql::SUBSCRIPTIONS_UPDATE).await?;
    let row = client
        .query_opt(
            &stmt,
            &[
                &id,
                &caller.consumer_id,
                &target_url,
                &body.is_active,
                &stored,
            ],
        )
        .await?
        .ok_or_else(|| Problem::not_found("subscription"))?;
    Ok(Json(Subscription::from_row(&row)))
}

/// Delete a subscription: delivery to it stops; its history is kept.
#[utoipa::path(
    delete,
    path = "/api/v2/webhooks/{id}",
    operation_id = "deleteSubscription",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such subscription of the caller's"),
    )
)]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    caller.require(Scope::WebhooksWrite)?;
    let id = parse_id(&id, "subscription")?;
    let client = state.db.get().await?;
    let stmt = client.prepare_cached(sql::SUBSCRIPTIONS_DELETE).await?;
    match client.query_opt(&stmt, &[&id, &caller.consumer_id]).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(Problem::not_found("subscription")),
    }
}
