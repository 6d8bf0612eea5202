//! Consumer controls on one subscription: rotate its secret, send a test
//! event now, redeliver an event.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::auth::Caller;
use super::problem::Problem;
use super::webhooks::parse_id;
use super::AppState;
use crate::access::keys::Scope;
use crate::db::sql;
use crate::delivery::attempt::{parse_secrets, sign_and_send};
use crate::delivery::event_id::{event_time, past_retention};
use crate::delivery::headers::load_header_values;
use crate::delivery::outcome::describe;
use crate::delivery::signing::{self, Secret};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(redeliver))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// A `whsec_` secret to use; generated when absent.
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The new secret (shown once).
    secret: String,
    /// Until then webhooks carry a second signature made with the old secret.
    previous_secret_expires_at: DateTime<Utc>,
}

#[utoipa::path(
    post,
    path = "/api/v2/webhooks/{id}/secret/rotate",
    operation_id = "rotateSubscriptionSecret",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    request_body(content = Option<RotateSecret>, description = "Optional; empty generates a secret"),
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 200, description = "The new secret (shown once); the old one signs alongside until previous_secret_expires_at", body = RotatedSecret),
        (status = 400, description = "The body is not valid JSON"),
        (status = 404, description = "No such subscription of the caller's"),
        (status = 413, description = "The body is larger than 64 KiB"),
        (status = 415, description = "A body that is not `application/json`"),
        (status = 422, description = "The body is not a JSON object, or the supplied secret is not valid"),
    )
)]
async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RotatedSecret>, Problem> {
    caller.require(Scope::WebhooksWrite)?;
    let id = parse_id(&id, "subscription")?;
    // The body is optional: empty means "generate one for me"; otherwise it
    // is a JSON object like every other body of the API.
    let body: RotateSecret = if body.iter().all(u8::is_ascii_whitespace) {
        RotateSecret::default()
    } else {
        if !is_json(&headers) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type",
                "send the body as JSON with `Content-Type: application/json`, or no body",
            ));
        }
        let unprocessable = |detail: String| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unprocessable Content",
                detail,
            )
        };
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| Problem::bad_request("the body is not valid JSON"))?;
        if !value.is_object() {
            return Err(unprocessable("the body must be a JSON object".into()));
        }
        serde_json::from_value(value).map_err(|e| unprocessable(e.to_string()))?
    };
    let secret = match body.secret {
        Some(text) => {
            Secret::parse(&text).map_err(|e| Problem::invalid_field("secret", e.to_string()))?
        }
        None => signing::generate_secret(),
    };
    let grace_ms = state.secret_rotation_grace.as_millis() as i64;
    let client = state.db.get().await?;
    let stmt = client
        .prepare_cached(sql::SUBSCRIPTIONS_ROTATE_SECRET)
        .await?;
    let row = client
        .query_opt(
            &stmt,
            &[
                &id,
                &caller.consumer_id,
                &state.webhook_client.sealer().seal(secret.expose()),
                &grace_ms,
            ],
        )
        .await?
        .ok_or_else(|| Problem::not_found("subscription"))?;
    Ok(Json(RotatedSecret {
        secret: secret.expose().to_string(),
        previous_secret_expires_at: row.get(0),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    event_id: Uuid,
    delivered: bool,
    response_code: Option<i32>,
    latency_ms: i32,
    error_message: Option<String>,
}

/// Sends a signed test event (type: the subscription's, `data.test: true`)
/// now, once, without retries; the attempt is logged like any other.
#[utoipa::path(
    post,
    path = "/api/v2/webhooks/{id}/test",
    operation_id = "sendTestEvent",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 200, description = "The attempt's outcome (delivered or not)", body = TestResult),
        (status = 404, description = "No such subscription of the caller's"),
    )
)]
async fn send_test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TestResult>, Problem> {
    caller.require(Scope::WebhooksWrite)?;
    let id = parse_id(&id, "subscription")?;
    let client = state.db.get().await?;
    let sub = load_for_send(&client, id, caller.consumer_id).await?;
    drop(client);
    let secrets = parse_secrets(
        state.webhook_client.sealer(),
        sub.get("secret"),
        sub.get("previous_secret"),
    )
    .ok_or_else(|| Problem::internal("stored webhook secret does not parse"))?;
    // Time-ordered like the worker's event ids (src/delivery/event_id.rs).
    let event_id = Uuid::now_v7();
    let attempted_at = Utc::now();
    let envelope = json!({
        "id": event_id,
        "type": sub.get::<_, String>("event_type"),
        "timestamp": attempted_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": { "test": true, "message": "a test event from ihf-webhooks" },
    });
    let body = envelope.to_string();
    let started = Instant::now();
    let result = sign_and_send(
        &state.webhook_client,
        sub.get("target_url"),
        &secrets,
        &event_id.to_string(),
        &body,
        &load_header_values(
            &sub.get::<_, serde_json::Value>("headers"),
            state.webhook_client.sealer(),
        ),
    )
    .await;
    let latency_ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    let response_code = result.as_ref().ok().map(|r| r.status.as_u16() as i32);
    let problem = describe(&result);
    let error_message = problem
        .as_ref()
        .map(|p| format!("test event: {p}; not retried"));
    let status = if problem.is_none() {
        "delivered"
    } else {
        "failed"
    };
    let client = state.db.get().await?;
    let stmt = client
        .prepare_cached(sql::DELIVERIES_INSERT_ATTEMPT)
        .await?;
    client
        .execute(
            &stmt,
            &[
                &id,
                &envelope,
                &attempted_at,
                &status,
                &response_code,
                &latency_ms,
                &error_message,
            ],
        )
        .await?;
    Ok(Json(TestResult {
        event_id,
        delivered: problem.is_none(),
        response_code,
        latency_ms,
        error_message,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Redelivery {
    event_id: Uuid,
    status: &'static str,
}

#[utoipa::path(
    post,
    path = "/api/v2/webhooks/{id}/events/{event_id}/redeliver",
    operation_id = "redeliverEvent",
    tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "Subscription id"),
        ("event_id" = Uuid, Path, description = "Event id (the webhook-id)"),
    ),
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 202, description = "Scheduled again, with the same webhook-id and body", body = Redelivery),
        (status = 404, description = "No such subscription of the caller's, or it never had that event"),
        (status = 409, description = "The subscription is inactive"),
        (status = 410, description = "The event's body is past the delivery log's retention (IHF_DELIVERY_RETENTION): its first row is gone, or every row of it"),
    )
)]
async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, event_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Redelivery>), Problem> {
    caller.require(Scope::WebhooksWrite)?;
    let id = parse_id(&id, "subscription")?;
    let event_id = parse_id(&event_id, "event")?;
    let client = state.db.get().await?;
    let sub = load_for_send(&client, id, caller.consumer_id).await?;
    if !sub.get::<_, bool>("is_active") {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "Conflict",
            "the subscription is inactive; reactivate it (PATCH is_active) before redelivering",
        ));
    }
    let stmt = client.prepare_cached(sql::JOBS_REDELIVER).await?;
    // An event's rows are no older than the time its id carries (UUIDv7);
    // an id without one is looked for in the whole log.
    let search_from = event_time(&event_id).unwrap_or(DateTime::UNIX_EPOCH);
    let row = client
        .query_one(&stmt, &[&id, &caller.consumer_id, &event_id, &search_from])
        .await?;
    let (scheduled, logged): (bool, bool) = (row.get("scheduled"), row.get("logged"));
    if scheduled {
        return Ok((
            StatusCode::ACCEPTED,
            Json(Redelivery {
                event_id,
                status: "pending",
            }),
        ));
    }
    // Rows without the body row, or none at all for an id older than what
    // the log keeps: the event was there, but the log no longer holds its body.
    if logged || past_retention(&event_id, state.delivery_retention, Utc::now()) {
        return Err(Problem::new(
            StatusCode::GONE,
            "Gone",
            "the event is past the delivery log's retention (IHF_DELIVERY_RETENTION): \
             its body is no longer stored, so it cannot be redelivered",
        ));
    }
    Err(Problem::not_found("event for this subscription"))
}

/// The caller's subscription `id` with what sending to it needs; 404 when it
/// is not theirs or is deleted.
async fn load_for_send(
    client: &deadpool_postgres::Client,
    id: Uuid,
    consumer: Uuid,
) -> Result<tokio_postgres::Row, Problem> {
    let stmt = client
        .prepare_cached(sql::SUBSCRIPTIONS_GET_FOR_SEND)
        .await?;
    client
        .query_opt(&stmt, &[&id, &consumer])
        .await?
        .ok_or_else(|| Problem::not_found("subscription"))
}

/// Whether the request says its body is JSON (`application/json`, parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}
