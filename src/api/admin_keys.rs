//! Operators issue, list and revoke a consumer's keys: `POST/GET
//! /api/v2/admin/consumers/{id}/keys`, `DELETE /api/v2/admin/keys/{id}`.
//! A key is shown once, when issued; lists show only its prefix.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::admin_consumers::find;
use super::auth::Caller;
use super::json::ApiJson;
use super::page::{self, Page};
use super::problem::Problem;
use super::query::ApiQuery;
use super::webhooks::parse_id;
use super::AppState;
use crate::access::keys::{self, IssuedKey, KeyInfo, Scope, Scopes};

/// The longest lifetime a key can be given: ten years.
const MAX_EXPIRES_IN: i64 = 10 * 366 * 86_400;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, issue))
        .routes(routes!(revoke))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueKey {
    /// Space-delimited scopes; default: every scope but `admin`.
    #[schema(
        example = "webhooks:read webhooks:write deliveries:read usage:read",
        pattern = r"^ *(?:(?:webhooks:read|webhooks:write|deliveries:read|usage:read|admin)(?: +|$))*$"
    )]
    pub scopes: Option<String>,
    /// Lifetime in seconds; default: no expiry.
    #[schema(minimum = 1, maximum = 316224000)]
    pub expires_in: Option<i64>,
}

/// Issue a static key for a consumer (shown once).
#[utoipa::path(
    post,
    path = "/api/v2/admin/consumers/{id}/keys",
    operation_id = "issueKey",
    tag = "admin",
    params(("id" = Uuid, Path, description = "Consumer id")),
    request_body = IssueKey,
    security(("bearer" = ["admin"])),
    responses(
        (status = 201, description = "The key; `key` is shown only now", body = IssuedKey),
        (status = 404, description = "No such consumer"),
        (status = 422, description = "A field is invalid (named in `errors`)"),
    )
)]
async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<IssueKey>,
) -> Result<(StatusCode, Json<IssuedKey>), Problem> {
    caller.require(Scope::Admin)?;
    let scopes = match &body.scopes {
        Some(text) => Scopes::parse(text).map_err(|m| Problem::invalid_field("scopes", m))?,
        None => Scopes::default_scopes(),
    };
    let expires_at = match body.expires_in {
        Some(secs) if (1..=MAX_EXPIRES_IN).contains(&secs) => {
            Some(chrono::Utc::now() + chrono::Duration::seconds(secs))
        }
        Some(_) => {
            return Err(Problem::invalid_field(
                "expires_in",
                format!("must be between 1 and {MAX_EXPIRES_IN} seconds"),
            ))
        }
        None => None,
    };
    let consumer = find(&state, &id).await?;
    let client = state.db.get().await?;
    let key = keys::issue(&**client, consumer.id, &scopes, "static", expires_at).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KeysQuery {
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only `static` keys or only `oauth` tokens.
    #[param(inline)]
    pub token_type: Option<TokenType>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Static,
    Oauth,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Static => "static",
            TokenType::Oauth => "oauth",
        }
    }
}

/// A consumer's keys and tokens, oldest first, by prefix only.
#[utoipa::path(
    get,
    path = "/api/v2/admin/consumers/{id}/keys",
    operation_id = "listKeys",
    tag = "admin",
    params(("id" = Uuid, Path, description = "Consumer id"), KeysQuery),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "A page of keys", body = Page<KeyInfo>),
        (status = 400, description = "A query parameter is not valid"),
        (status = 404, description = "No such consumer"),
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<KeysQuery>,
) -> Result<Json<Page<KeyInfo>>, Problem> {
    caller.require(Scope::Admin)?;
    let page = page::Request::parse(query.limit, query.cursor.as_deref())?;
    let consumer = find(&state, &id).await?;
    let token_type = query.token_type.map(TokenType::as_str);
    let client = state.db.get().await?;
    let rows = keys::list(&**client, consumer.id, page.after, token_type, page.fetch()).await?;
    Ok(Json(Page::new(rows, &page, |k| (k.created_at, k.id))))
}

/// Revoke a key and every OAuth token issued with it. Takes effect at once on
/// this replica and within `IHF_AUTH_CACHE_TTL` on the others.
#[utoipa::path(
    delete,
    path = "/api/v2/admin/keys/{id}",
    operation_id = "revokeKey",
    tag = "admin",
    params(("id" = Uuid, Path, description = "Key id")),
    security(("bearer" = ["admin"])),
    responses(
        (status = 204, description = "Revoked (also when it already was)"),
        (status = 404, description = "No such key"),
    )
)]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    caller.require(Scope::Admin)?;
    let id: Uuid = parse_id(&id, "key")?;
    let client = state.db.get().await?;
    let revoked = keys::revoke(&**client, id)
        .await?
        .ok_or_else(|| Problem::not_found("key"))?;
    let mut ids = revoked.tokens_revoked;
    ids.push(revoked.id);
    state.gate.auth.forget_keys(&ids);
    Ok(StatusCode::NO_CONTENT)
}
