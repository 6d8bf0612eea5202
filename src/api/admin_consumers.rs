//! `/api/v2/admin/consumers`: operators manage consumers (limits, `is_active`).
//! Needs the `admin` scope, which no consumer scope implies.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::auth::Caller;
use super::json::ApiJson;
use super::page::{self, Page};
use super::problem::Problem;
use super::query::ApiQuery;
use super::webhooks::{parse_id, ListQuery};
use super::AppState;
use crate::access::consumers::{self, Consumer, ConsumerChanges, NewConsumer};
use crate::access::keys::Scope;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConsumer {
    /// Not blank; at most 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "acme-analytics"
    )]
    pub name: String,
    pub description: Option<String>,
    /// Requests per rolling minute (default 60).
    #[schema(minimum = 1, maximum = 2147483647)]
    pub rate_limit_per_minute: Option<i32>,
    /// Requests per UTC day (default 10000).
    #[schema(minimum = 1, maximum = 2147483647)]
    pub quota_per_day: Option<i32>,
}

/// Create a consumer.
#[utoipa::path(
    post,
    path = "/api/v2/admin/consumers",
    operation_id = "createConsumer",
    tag = "admin",
    request_body = CreateConsumer,
    security(("bearer" = ["admin"])),
    responses(
        (status = 201, description = "Created", body = Consumer),
        (status = 422, description = "A field is invalid (named in `errors`)"),
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateConsumer>,
) -> Result<(StatusCode, Json<Consumer>), Problem> {
    caller.require(Scope::Admin)?;
    let new = NewConsumer {
        name: body.name,
        description: body.description,
        rate_limit_per_minute: body.rate_limit_per_minute.unwrap_or(60),
        quota_per_day: body.quota_per_day.unwrap_or(10_000),
    };
    consumers::validate_name(&new.name).map_err(|m| Problem::invalid_field("name", m))?;
    check_limits(Some(new.rate_limit_per_minute), Some(new.quota_per_day))?;
    let client = state.db.get().await?;
    let consumer = consumers::create(&**client, &new).await?;
    Ok((StatusCode::CREATED, Json(consumer)))
}

fn check_limits(per_minute: Option<i32>, per_day: Option<i32>) -> Result<(), Problem> {
    consumers::validate_limits(per_minute, None)
        .map_err(|m| Problem::invalid_field("rate_limit_per_minute", m))?;
    consumers::validate_limits(None, per_day)
        .map_err(|m| Problem::invalid_field("quota_per_day", m))
}

/// All consumers, oldest first.
#[utoipa::path(
    get,
    path = "/api/v2/admin/consumers",
    operation_id = "listConsumers",
    tag = "admin",
    params(ListQuery),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "A page of consumers", body = Page<Consumer>),
        (status = 400, description = "`limit` or `cursor` is not valid"),
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<Consumer>>, Problem> {
    caller.require(Scope::Admin)?;
    let page = page::Request::parse(query.limit, query.cursor.as_deref())?;
    let client = state.db.get().await?;
    let rows = consumers::list(&**client, page.after, page.fetch()).await?;
    Ok(Json(Page::new(rows, &page, |c| (c.created_at, c.id))))
}

/// A consumer by id, or 404.
pub async fn find(state: &AppState, id: &str) -> Result<Consumer, Problem> {
    let id: Uuid = parse_id(id, "consumer")?;
    let client = state.db.get().await?;
    consumers::get(&**client, id)
        .await?
        .ok_or_else(|| Problem::not_found("consumer"))
}

/// One consumer.
#[utoipa::path(
    get,
    path = "/api/v2/admin/consumers/{id}",
    operation_id = "getConsumer",
    tag = "admin",
    params(("id" = Uuid, Path, description = "Consumer id")),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The consumer", body = Consumer),
        (status = 404, description = "No such consumer"),
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Consumer>, Problem> {
    caller.require(Scope::Admin)?;
    Ok(Json(find(&state, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConsumer {
    /// Not blank; at most 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(minimum = 1, maximum = 2147483647)]
    pub rate_limit_per_minute: Option<i32>,
    #[schema(minimum = 1, maximum = 2147483647)]
    pub quota_per_day: Option<i32>,
    /// `false`: every key and token of the consumer is refused with 401.
    pub is_active: Option<bool>,
}

/// Change a consumer's name, limits or state. Takes effect at once on this
/// replica and within `IHF_AUTH_CACHE_TTL` on the others.
#[utoipa::path(
    patch,
    path = "/api/v2/admin/consumers/{id}",
    operation_id = "updateConsumer",
    tag = "admin",
    params(("id" = Uuid, Path, description = "Consumer id")),
    request_body = UpdateConsumer,
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The changed consumer", body = Consumer),
        (status = 404, description = "No such consumer"),
        (status = 422, description = "A field is invalid (named in `errors`)"),
    )
)]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateConsumer>,
) -> Result<Json<Consumer>, Problem> {
    caller.require(Scope::Admin)?;
    let id = parse_id(&id, "consumer")?;
    if let Some(name) = &body.name {
        consumers::validate_name(name).map_err(|m| Problem::invalid_field("name", m))?;
    }
    check_limits(body.rate_limit_per_minute, body.quota_per_day)?;
    let changes = ConsumerChanges {
        name: body.name,
        description: body.description,
        rate_limit_per_minute: body.rate_limit_per_minute,
        quota_per_day: body.quota_per_day,
        is_active: body.is_active,
    };
    let client = state.db.get().await?;
    let consumer = consumers::update(&**client, id, &changes)
        .await?
        .ok_or_else(|| Problem::not_found("consumer"))?;
    state.gate.auth.forget_consumer(id);
    Ok(Json(consumer))
}
