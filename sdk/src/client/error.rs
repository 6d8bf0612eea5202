//! What can go wrong calling the API: a problem+json answer (RFC 9457), a
//! refused token request (RFC 6749 §5.2), or the transport.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use http::HeaderMap;
use serde::Deserialize;

use super::rate_limit::{retry_after, RateLimit};

/// An error from the [`Client`](super::Client).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status (a problem+json body).
    #[error(transparent)]
    Api(Box<ApiError>),
    /// `POST /api/v2/token` refused the client credentials or the scope.
    #[error(transparent)]
    OAuth(Box<OAuthError>),
    /// The request did not complete: connection, TLS, timeout.
    #[error("request to the ihf-webhooks API failed: {0}")]
    Transport(#[source] reqwest::Error),
    /// A success response whose body is not what the API documents.
    #[error("unexpected response body (HTTP {status}): {source}")]
    Decode {
        /// The response status.
        status: u16,
        /// What did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The client was configured wrongly (e.g. a base URL that cannot be one).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The HTTP status, for errors that came with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::OAuth(e) => Some(e.status),
            Error::Decode { status, .. } => Some(*status),
            Error::Transport(e) => e.status().map(|s| s.as_u16()),
            Error::Config(_) => None,
        }
    }

    /// The problem details of an API error.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Api(e) => Some(&e.problem),
            _ => None,
        }
    }

    /// How long the server asked to wait (`Retry-After`), on 429 and 503.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(e) => e.retry_after,
            Error::OAuth(e) => e.retry_after,
            _ => None,
        }
    }

    /// The rate-limit headers of the failed response.
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        match self {
            Error::Api(e) => Some(&e.rate_limit),
            Error::OAuth(e) => Some(&e.rate_limit),
            _ => None,
        }
    }

    /// Whether this is a `429 Too Many Requests`.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// Whether this is a `404 Not Found` (also what another consumer's
    /// subscription looks like).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// An error answer of the API.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The body: RFC 9457 problem details.
    pub problem: Problem,
    /// `Retry-After`, if sent (on 429).
    pub retry_after: Option<Duration>,
    /// The rate-limit headers of the response.
    pub rate_limit: RateLimit,
    /// `WWW-Authenticate`, if sent (on 401 and 403: RFC 6750's challenge,
    /// e.g. `error="insufficient_scope", scope="webhooks:write"`).
    pub www_authenticate: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: u16, headers: &HeaderMap, body: &[u8]) -> ApiError {
        let problem = serde_json::from_slice::<Problem>(body)
            .unwrap_or_else(|_| Problem::from_other_body(status, body));
        ApiError {
            status,
            problem,
            retry_after: retry_after(headers),
            rate_limit: RateLimit::from_headers(headers),
            www_authenticate: headers
                .get(http::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }
    }

    /// Whether the server refused the bearer token itself (RFC 6750
    /// `invalid_token`: expired, revoked or unknown), as opposed to a missing
    /// scope.
    pub fn is_invalid_token(&self) -> bool {
        self.status == 401
            && self
                .www_authenticate
                .as_deref()
                .is_none_or(|c| c.contains("invalid_token") || !c.contains("error="))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} {}", self.status, self.problem.title)?;
        if let Some(detail) = &self.problem.detail {
            write!(f, ": {detail}")?;
        }
        for e in &self.problem.errors {
            write!(f, " ({}: {})", e.field, e.message)?;
        }
        if let Some(wait) = self.retry_after {
            write!(f, "; retry after {} s", wait.as_secs())?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// RFC 9457 problem details, as every `/api/v2` error (but the token
/// endpoint's) carries them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` when the status says it all.
    #[serde(rename = "type", default = "about_blank")]
    pub problem_type: String,
    /// A short summary of the problem type (`"Unprocessable Content"`).
    #[serde(default)]
    pub title: String,
    /// The HTTP status, as the server put it in the body.
    #[serde(default)]
    pub status: Option<u16>,
    /// What went wrong with this request, and how to fix it.
    #[serde(default)]
    pub detail: Option<String>,
    /// A URI for this occurrence, if the server gave one.
    #[serde(default)]
    pub instance: Option<String>,
    /// Field-level validation errors (on 422).
    #[serde(default)]
    pub errors: Vec<FieldError>,
    /// On 429: which limits were exceeded (`minute`, `day`).
    #[serde(rename = "violated-policies", default)]
    pub violated_policies: Vec<String>,
    /// Any other extension members.
    #[serde(flatten)]
    pub extensions: BTreeMap<String, serde_json::Value>,
}

fn about_blank() -> String {
    "about:blank".to_string()
}

impl Problem {
    /// A stand-in for a body that is not problem+json (a proxy's error page).
    fn from_other_body(status: u16, body: &[u8]) -> Problem {
        let title = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error")
            .to_string();
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        Problem {
            problem_type: about_blank(),
            title,
            status: Some(status),
            detail: (!text.is_empty()).then(|| text.chars().take(500).collect()),
            instance: None,
            errors: Vec::new(),
            violated_policies: Vec::new(),
            extensions: BTreeMap::new(),
        }
    }
}

/// One entry of a problem's `errors`: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct FieldError {
    /// The request field, e.g. `target_url`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// A refused token request (RFC 6749 §5.2).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OAuthError {
    /// The HTTP status (400, or 401 for failed client authentication).
    pub status: u16,
    /// The RFC 6749 error code: `invalid_client`, `invalid_scope`, …
    pub error: String,
    /// The server's explanation.
    pub error_description: Option<String>,
    /// `Retry-After`, if sent (on 429).
    pub retry_after: Option<Duration>,
    /// The rate-limit headers of the response.
    pub rate_limit: RateLimit,
}

#[derive(Deserialize)]
struct OAuthBody {
    error: String,
    error_description: Option<String>,
}

impl OAuthError {
    pub(crate) fn new(status: u16, headers: &HeaderMap, body: &[u8]) -> OAuthError {
        let (error, error_description) = match serde_json::from_slice::<OAuthBody>(body) {
            Ok(b) => (b.error, b.error_description),
            Err(_) => (
                if status >= 500 {
                    "server_error".into()
                } else {
                    "invalid_request".into()
                },
                Some(String::from_utf8_lossy(body).chars().take(500).collect()),
            ),
        };
        OAuthError {
            status,
            error,
            error_description,
            retry_after: retry_after(headers),
            rate_limit: RateLimit::from_headers(headers),
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token request refused (HTTP {}): {}",
            self.status, self.error
        )?;
        if let Some(d) = &self.error_description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_body_is_read_with_its_extensions() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "30".parse().unwrap());
        headers.insert("ratelimit", r#""minute";r=0;t=30"#.parse().unwrap());
        let body = br#"{"type":"about:blank","title":"Too Many Requests","status":429,
            "detail":"more than 60 requests in a minute; retry in 30 s","violated-policies":["minute"],"extra":1}"#;
        let e = ApiError::new(429, &headers, body);
        assert_eq!(e.problem.violated_policies, ["minute"]);
        assert_eq!(e.problem.extensions["extra"], 1);
        assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
        assert_eq!(e.rate_limit.policy("minute").unwrap().remaining, Some(0));
        let err = Error::Api(Box::new(e));
        assert!(err.is_rate_limited());
        assert!(err.to_string().contains("retry after 30 s"), "{err}");
    }

    #[test]
    fn a_non_problem_body_still_gives_a_useful_error() {
        let e = ApiError::new(502, &HeaderMap::new(), b"<html>Bad Gateway</html>");
        assert_eq!(e.problem.title, "Bad Gateway");
        assert_eq!(
            e.problem.detail.as_deref(),
            Some("<html>Bad Gateway</html>")
        );
    }

    #[test]
    fn invalid_token_is_told_apart_from_insufficient_scope() {
        let challenge = |c: &str| {
            let mut h = HeaderMap::new();
            h.insert("www-authenticate", c.parse().unwrap());
            h
        };
        let expired = ApiError::new(
            401,
            &challenge(
                r#"Bearer realm="ihf", error="invalid_token", error_description="the token has expired""#,
            ),
            b"{}",
        );
        assert!(expired.is_invalid_token());
        let scope = ApiError::new(
            403,
            &challenge(r#"Bearer realm="ihf", error="insufficient_scope", scope="admin""#),
            b"{}",
        );
        assert!(!scope.is_invalid_token());
    }
}
