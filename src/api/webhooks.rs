//! `/api/v2/webhooks`: the caller's subscriptions. Every lookup is scoped to
//! the calling consumer; another consumer's id is 404 (OWASP API1).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::Caller;
use super::json::ApiJson;
use super::problem::Problem;
use super::AppState;
use crate::db::sql;
use crate::events;
use crate::keys::Scope;
use crate::signing::WebhookSecret;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/webhooks", get(list).post(create))
        .route(
            "/api/v2/webhooks/{id}",
            get(show).patch(update).delete(remove),
        )
}

/// A subscription as the API shows it (the secret only at creation).
#[derive(Debug, Serialize)]
pub struct Subscription {
    pub id: Uuid,
    pub event_type: String,
    pub target_url: String,
    pub is_active: bool,
    /// Why it was deactivated automatically (410 Gone, failing too long).
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    pub event_type: String,
    pub target_url: String,
    pub secret: Option<String>,
}

#[derive(Debug, Serialize)]
struct CreatedSubscription {
    #[serde(flatten)]
    subscription: Subscription,
    /// Shown once: sign-verification key for this subscription's webhooks.
    secret: String,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateSubscription>,
) -> Result<impl IntoResponse, Problem> {
    caller.require(Scope::WebhooksWrite)?;
    if !events::is_event_type(&body.event_type) {
        let known: Vec<&str> = events::EVENT_TYPES.iter().map(|t| t.name).collect();
        return Err(Problem::invalid_field(
            "event_type",
            format!("unknown event type; one of: {}", known.join(", ")),
        ));
    }
    let url = check_target(&state, &body.target_url).await?;
    let secret = match &body.secret {
        Some(text) => WebhookSecret::parse(text)
            .map_err(|e| Problem::invalid_field("secret", e.to_string()))?,
        None => WebhookSecret::generate(),
    };
    let client = state.db.get().await?;
    let stmt = client.prepare_cached(sql::SUBSCRIPTIONS_INSERT).await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &caller.consumer_id,
                &body.event_type,
                &url,
                &secret.expose(),
            ],
        )
        .await?;
    let created = CreatedSubscription {
        subscription: Subscription::from_row(&row),
        secret: secret.expose().to_string(),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// The SSRF guard at subscribe time: a clear 422 naming the field.
async fn check_target(state: &AppState, target_url: &str) -> Result<String, Problem> {
    state
        .target_policy
        .check_target(target_url)
        .await
        .map(|url| url.to_string())
        .map_err(|refusal| Problem::invalid_field("target_url", refusal.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub const MAX_PAGE: i64 = 100;
const DEFAULT_PAGE: i64 = 50;

#[derive(Debug, Serialize)]
struct Page<T> {
    data: Vec<T>,
    next_cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<Subscription>>, Problem> {
    caller.require(Scope::WebhooksRead)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let (after_time, after_id) = match &query.cursor {
        Some(c) => {
            let (t, id) =
                decode_cursor(c).ok_or_else(|| Problem::bad_request("cursor is not valid"))?;
            (Some(t), Some(id))
        }
        None => (None, None),
    };
    let client = state.db.get().await?;
    let stmt = client.prepare_cached(sql::SUBSCRIPTIONS_LIST).await?;
    let rows = client
        .query(
            &stmt,
            &[&caller.consumer_id, &after_time, &after_id, &(limit + 1)],
        )
        .await?;
    let mut data: Vec<Subscription> = rows.iter().map(Subscription::from_row).collect();
    let next_cursor = if data.len() as i64 > limit {
        data.truncate(limit as usize);
        data.last().map(|s| encode_cursor(s.created_at, s.id))
    } else {
        None
    };
    Ok(Json(Page { data, next_cursor }))
}

fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{},{id}", at.timestamp_micros()))
}

fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (micros, id) = text.split_once(',')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

/// Path ids that are not UUIDs cannot name anything: 404, not 400 or 500.
pub fn parse_id(text: &str, what: &str) -> Result<Uuid, Problem> {
    text.parse().map_err(|_| Problem::not_found(what))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Subscription>, Problem> {
    caller.require(Scope::WebhooksRead)?;
    let id = parse_id(&id, "subscription")?;
    let client = state.db.get().await?;
    let stmt = client.prepare_cached(sql::SUBSCRIPTIONS_GET).await?;
    let row = client
        .query_opt(&stmt, &[&id, &caller.consumer_id])
        .await?
        .ok_or_else(|| Problem::not_found("subscription"))?;
    Ok(Json(Subscription::from_row(&row)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscription {
    pub target_url: Option<String>,
    pub is_active: Option<bool>,
}

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
    let client = state.db.get().await?;
    let stmt = client.prepare_cached(sql::SUBSCRIPTIONS_UPDATE).await?;
    let row = client
        .query_opt(
            &stmt,
            &[&id, &caller.consumer_id, &target_url, &body.is_active],
        )
        .await?
        .ok_or_else(|| Problem::not_found("subscription"))?;
    Ok(Json(Subscription::from_row(&row)))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(at, id)), Some((at, id)));
        assert_eq!(decode_cursor("not-a-cursor"), None);
    }
}
