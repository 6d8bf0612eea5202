//! `POST /api/v2/token`: OAuth 2.0 client credentials (RFC 6749 §4.4). The
//! client is a consumer: `client_id` is its id and `client_secret` one of
//! its active static keys, sent with HTTP Basic or in the body (not both).
//! The token is an `oauth` row in `api_keys` (same format as a key) whose
//! scopes are the requested subset of the static key's.
//! Errors use RFC 6749's JSON shape, not problem+json, because stock OAuth
//! clients parse it.
//!
//! Once the client has authenticated, the request counts against its
//! consumer's limits and is logged like any other.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::auth::{AuthError, KeyRecord};
use super::gate::set_rate_limit_headers;
use super::AppState;
use crate::access::keys::{self, Scope, Scopes};

const ENDPOINT: &str = "/api/v2/token";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(token))
}

/// The form a client posts (`application/x-www-form-urlencoded`), for the
/// OpenAPI document: the handler reads the form itself, since RFC 6749 wants
/// a repeated parameter refused, which a derived `Deserialize` would not do.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    /// Always `client_credentials`.
    #[schema(example = "client_credentials")]
    pub grant_type: String,
    /// Space-delimited scopes, a subset of the static key's; default: all of them.
    #[schema(
        pattern = r"^ *(?:(?:webhooks:read|webhooks:write|deliveries:read|usage:read|admin)(?: +|$))*$"
    )]
    pub scope: Option<String>,
    /// The consumer id, when not sent with HTTP Basic.
    pub client_id: Option<String>,
    /// A static key of the consumer, when not sent with HTTP Basic.
    pub client_secret: Option<String>,
}

/// RFC 6749 §5.1.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Use as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// The scopes granted, space-delimited.
    pub scope: String,
}

/// RFC 6749 §5.2.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`
    /// (or `temporarily_unavailable` on 429, `server_error` on 500).
    #[schema(example = "invalid_client")]
    pub error: String,
    pub error_description: String,
    /// On 429: `minute` and/or `day`.
    #[serde(rename = "violated-policies", skip_serializing_if = "Option::is_none")]
    pub violated_policies: Option<Vec<String>>,
}

/// A token-endpoint error.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// A failed HTTP Basic authentication: 401 with a Basic challenge.
    challenge: bool,
    violated: Option<Vec<String>>,
}

impl Failure {
    fn new(error: &'static str, description: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            challenge: false,
            violated: None,
        }
    }

    fn invalid_client(basic: bool, description: &str) -> Failure {
        Failure {
            status: if basic {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            },
            challenge: basic,
            ..Failure::new("invalid_client", description)
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = OAuthError {
            error: self.error.to_string(),
            error_description: self.description,
            violated_policies: self.violated,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.challenge {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ihf\""),
            );
        }
        response
    }
}

/// Issue an access token (OAuth 2.0 client credentials).
#[utoipa::path(
    post,
    path = "/api/v2/token",
    operation_id = "issueToken",
    tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    security(("clientBasic" = []), ()),
    responses(
        (status = 200, description = "The token", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`"))),
        (status = 400, description = "RFC 6749 error", body = OAuthError),
        (status = 401, description = "Client authentication failed (HTTP Basic) or missing", body = OAuthError,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"ihf\"`"))),
        (status = 413, description = "The body is larger than 64 KiB", body = OAuthError),
        (status = 429, description = "The consumer's rate limit or daily quota is used up", body = OAuthError,
            headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = 500, description = "Server error", body = OAuthError),
    )
)]
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let now = Utc::now();
    let mut consumer = None;
    let mut decision = None;
    let outcome = match body {
        Ok(body) => exchange(&state, &headers, &body, &mut consumer, &mut decision).await,
        Err(_) => Err(Failure {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..Failure::new(
                "invalid_request",
                "the body could not be read; bodies are limited to 64 KiB",
            )
        }),
    };
    let mut response = match outcome {
        Ok(token) => Json(token).into_response(),
        Err(failure) => failure.into_response(),
    };
    let h = response.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    if let Some(d) = &decision {
        set_rate_limit_headers(h, d, now);
    }
    if let Some(consumer) = consumer {
        state.gate.record(
            consumer,
            ENDPOINT.to_string(),
            &Method::POST,
            &response,
            started,
            now,
        );
    }
    response
}

/// The exchange itself. Sets `consumer` once a presented secret names one
/// (for the request log) and `decision` once the limiter was asked.
async fn exchange(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    consumer: &mut Option<Uuid>,
    decision: &mut Option<crate::access::limits::Decision>,
) -> Result<TokenResponse, Failure> {
    let form = Form::parse(headers, body)?;
    let basic = basic_credentials(headers)?;
    let (client_id, secret, used_basic) = match (basic, form.client_secret.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(Failure::new(
                "invalid_request",
                "use one client authentication method: HTTP Basic or client_secret in the body, not both",
            ))
        }
        (Some((id, secret)), None) => {
            if form.client_id.as_deref().is_some_and(|body_id| body_id != id) {
                return Err(Failure::new(
                    "invalid_request",
                    "client_id in the body differs from the one in HTTP Basic",
                ));
            }
            (id, secret, true)
        }
        (None, Some(secret)) => {
            let id = form.client_id.clone().ok_or_else(|| {
                Failure::new("invalid_request", "client_id is required with client_secret")
            })?;
            (id, secret.to_string(), false)
        }
        (None, None) => {
            return Err(Failure {
                status: StatusCode::UNAUTHORIZED,
                challenge: true,
                ..Failure::new(
                    "invalid_client",
                    "authenticate with HTTP Basic (client_id = consumer id, client_secret = a static key)",
                )
            })
        }
    };
    let key = authenticate_client(state, &client_id, &secret, used_basic, consumer).await?;

    let d = state
        .gate
        .limiter
        .admit(key.consumer_id, key.limits, key.daily, Utc::now());
    let allowed = d.allowed;
    let refusal = (!allowed).then(|| Failure {
        status: StatusCode::TOO_MANY_REQUESTS,
        violated: Some(d.violated.iter().map(|v| v.to_string()).collect()),
        ..Failure::new(
            "temporarily_unavailable",
            super::gate::too_many_requests(&d).detail,
        )
    });
    *decision = Some(d);
    if let Some(refusal) = refusal {
        return Err(refusal);
    }

    match form.grant_type.as_deref() {
        None => return Err(Failure::new("invalid_request", "grant_type is required")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(Failure::new(
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            ))
        }
    }
    let scopes = granted_scopes(form.scope.as_deref(), &key.scopes)?;
    let ttl = chrono::Duration::from_std(state.gate.token_ttl).expect("token TTL fits");
    // A token never outlives the key it was minted with.
    let now = Utc::now();
    let expires_at = match key.expires_at {
        Some(key_expiry) => key_expiry.min(now + ttl),
        None => now + ttl,
    };
    let client = state
        .db
        .get()
        .await
        .map_err(|e| server_error(&e.to_string()))?;
    let issued = keys::issue_token(&**client, key.consumer_id, &scopes, expires_at, key.key_id)
        .await
        .map_err(|e| server_error(&crate::db::describe(&e)))?;
    Ok(TokenResponse {
        access_token: issued.key,
        token_type: "Bearer".into(),
        expires_in: (expires_at - now).num_seconds().max(0),
        scope: scopes.to_string(),
    })
}

fn server_error(cause: &str) -> Failure {
    tracing::error!(error = %cause, "token request failed");
    Failure {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        ..Failure::new("server_error", "try again later")
    }
}

/// The consumer's static key that `secret` is, or `invalid_client`.
async fn authenticate_client(
    state: &AppState,
    client_id: &str,
    secret: &str,
    used_basic: bool,
    consumer: &mut Option<Uuid>,
) -> Result<std::sync::Arc<KeyRecord>, Failure> {
    let refused = || Failure::invalid_client(used_basic, "client authentication failed");
    let client_id: Uuid = client_id.parse().map_err(|_| refused())?;
    // Never from the cache: a key revoked on another replica must not mint.
    match state.gate.auth.authenticate_fresh(&state.db, secret).await {
        Ok(key) if key.consumer_id == client_id && key.token_type == "static" => {
            *consumer = Some(client_id);
            Ok(key)
        }
        Ok(_) => Err(refused()),
        Err(AuthError::Refused(refusal)) => {
            // Logged against the consumer within the key's refusal budget.
            if let Some((owner, key)) = refusal.consumer_and_key() {
                if owner == client_id {
                    if state.gate.refusals.admit(key, Utc::now()) {
                        *consumer = Some(client_id);
                    } else {
                        state.metrics.refusals_unlogged.inc();
                    }
                }
            }
            Err(refused())
        }
        Err(AuthError::Unavailable(problem)) => Err(server_error(&problem.detail)),
    }
}

/// The requested scopes if the key has them all; the key's when none are asked.
fn granted_scopes(requested: Option<&str>, allowed: &Scopes) -> Result<Scopes, Failure> {
    let Some(text) = requested.filter(|t| !t.trim().is_empty()) else {
        return Ok(allowed.clone());
    };
    let requested = Scopes::parse(text).map_err(|e| Failure::new("invalid_scope", e))?;
    let beyond: Vec<&str> = Scope::ALL
        .into_iter()
        .filter(|s| requested.contains(*s) && !allowed.contains(*s))
        .map(Scope::as_str)
        .collect();
    if !beyond.is_empty() {
        return Err(Failure::new(
            "invalid_scope",
            format!(
                "the client's key does not have: {}; it has: {allowed}",
                beyond.join(" ")
            ),
        ));
    }
    Ok(requested)
}

/// The form parameters we read; each at most once (RFC 6749 §3.2).
#[derive(Debug, Default)]
struct Form {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl Form {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Form, Failure> {
        let is_form = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(Failure::new(
                "invalid_request",
                "send the parameters as application/x-www-form-urlencoded",
            ));
        }
        let mut form = Form::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            let slot = match name.as_ref() {
                "grant_type" => &mut form.grant_type,
                "scope" => &mut form.scope,
                "client_id" => &mut form.client_id,
                "client_secret" => &mut form.client_secret,
                _ => continue, // RFC 6749 §3.2: unrecognized parameters are ignored
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(Failure::new(
                    "invalid_request",
                    format!("{name} is given more than once"),
                ));
            }
        }
        Ok(form)
    }
}

/// `(client_id, client_secret)` from `Authorization: Basic`, if that is how
/// the client authenticates. Other schemes are not client authentication and
/// are ignored; a Basic header that cannot be read is a failed one.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, Failure> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("");
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let bad = || Failure::invalid_client(true, "the HTTP Basic credentials cannot be read");
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    // Split on the first colon; ids and secrets are [A-Za-z0-9_-], so the
    // form-encoding RFC 6749 asks for before base64 changes nothing.
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    Ok(Some((id.to_string(), secret.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_granted_are_the_requested_subset() {
        let allowed = Scopes::parse("webhooks:read deliveries:read").unwrap();
        assert_eq!(granted_scopes(None, &allowed).unwrap(), allowed);
        assert_eq!(granted_scopes(Some(" "), &allowed).unwrap(), allowed);
        assert_eq!(
            granted_scopes(Some("webhooks:read"), &allowed)
                .unwrap()
                .to_string(),
            "webhooks:read"
        );
        assert_eq!(
            granted_scopes(Some("webhooks:read admin"), &allowed)
                .unwrap_err()
                .error,
            "invalid_scope"
        );
        assert_eq!(
            granted_scopes(Some("everything"), &allowed)
                .unwrap_err()
                .error,
            "invalid_scope"
        );
    }

    #[test]
    fn basic_credentials_split_on_the_first_colon() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("id:sec:ret");
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers).ok().flatten(),
            Some(("id".into(), "sec:ret".into()))
        );
        headers.insert("authorization", HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&headers).unwrap_err().status, 401);
        headers.insert("authorization", HeaderValue::from_static("Bearer abc"));
        assert!(basic_credentials(&headers).unwrap().is_none());
    }

    #[test]
    fn repeated_parameters_are_invalid_requests() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        let form = Form::parse(&headers, b"grant_type=client_credentials&scope=a+b&x=1").unwrap();
        assert_eq!(form.scope.as_deref(), Some("a b"));
        let twice = Form::parse(&headers, b"scope=a&scope=b").unwrap_err();
        assert_eq!(twice.error, "invalid_request");
        assert!(Form::parse(&HeaderMap::new(), b"").is_err());
    }
}
