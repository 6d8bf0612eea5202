//! Bearer authentication (RFC 6750) against `api_keys`, and scope checks.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use uuid::Uuid;

use super::problem::Problem;
use super::AppState;
use crate::db::sql;
use crate::keys::{self, Scope, Scopes};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub consumer_id: Uuid,
    pub key_id: Uuid,
    pub scopes: Scopes,
}

impl Caller {
    /// 403 with an `insufficient_scope` challenge unless the key has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), Problem> {
        if self.scopes.contains(scope) {
            return Ok(());
        }
        let challenge = format!(
            "Bearer realm=\"ihf\", error=\"insufficient_scope\", scope=\"{}\"",
            scope.as_str()
        );
        Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("this key lacks the {} scope", scope.as_str()),
        )
        .with_header(
            WWW_AUTHENTICATE,
            HeaderValue::from_str(&challenge).expect("ascii"),
        ))
    }
}

fn unauthorized(error: Option<&str>) -> Problem {
    let (challenge, detail) = match error {
        None => (
            "Bearer realm=\"ihf\"".to_string(),
            "send an API key or token as `Authorization: Bearer <token>`".to_string(),
        ),
        Some(description) => (
            format!("Bearer realm=\"ihf\", error=\"invalid_token\", error_description=\"{description}\""),
            description.to_string(),
        ),
    };
    Problem::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail).with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).expect("ascii"),
    )
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, Problem> {
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return Err(unauthorized(None));
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| unauthorized(None))?;
        let invalid = || unauthorized(Some("the token is not valid"));
        let prefix = keys::prefix_of(token).ok_or_else(invalid)?;
        let client = state.db.get().await?;
        let stmt = client.prepare_cached(sql::KEYS_AUTHENTICATE).await?;
        let row = client
            .query_opt(&stmt, &[&prefix])
            .await?
            .ok_or_else(invalid)?;
        if !keys::hash_matches(token, row.get("key_hash")) {
            return Err(invalid());
        }
        if row.get::<_, bool>("revoked") {
            return Err(unauthorized(Some("the token has been revoked")));
        }
        if row.get::<_, bool>("expired") {
            return Err(unauthorized(Some("the token has expired")));
        }
        if !row.get::<_, bool>("consumer_active") {
            return Err(unauthorized(Some("the consumer is inactive")));
        }
        Ok(Caller {
            consumer_id: row.get("api_consumer_id"),
            key_id: row.get("id"),
            scopes: Scopes::parse(row.get("scopes")).unwrap_or_default(),
        })
    }
}
