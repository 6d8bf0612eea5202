//! `GET /api/v2/keys`: the calling consumer's own keys and tokens, by prefix
//! only, so a consumer (and the console) can tell its keys apart, see which
//! are used, expiring or revoked. Any valid key may ask; it only ever sees
//! its own consumer's keys.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin_keys::{KeysQuery, TokenType};
use super::auth::Caller;
use super::page::{self, Page};
use super::problem::Problem;
use super::query::ApiQuery;
use super::AppState;
use crate::access::keys::{self, KeyInfo};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_own))
}

/// The caller's own keys and tokens, oldest first, by prefix only.
#[utoipa::path(
    get,
    path = "/api/v2/keys",
    operation_id = "listOwnKeys",
    tag = "account",
    params(KeysQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the caller's keys", body = Page<KeyInfo>),
        (status = 400, description = "A query parameter is not valid"),
    )
)]
async fn list_own(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<KeysQuery>,
) -> Result<Json<Page<KeyInfo>>, Problem> {
    let page = page::Request::parse(query.limit, query.cursor.as_deref())?;
    let token_type = query.token_type.map(TokenType::as_str);
    let client = state.db.get().await?;
    let rows = keys::list(
        &**client,
        caller.consumer_id,
        page.after,
        token_type,
        page.fetch(),
    )
    .await?;
    Ok(Json(Page::new(rows, &page, |k| (k.created_at, k.id))))
}
