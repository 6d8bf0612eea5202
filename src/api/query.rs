//! A query-string extractor whose rejections are problem+json naming the
//! parameter (axum's own answers in plain text).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// Like `axum::extract::Query`, but a bad query string is a 400 problem whose
/// `detail` says what is wrong ("unknown field `x`", "invalid digit").
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(ApiQuery)
            .map_err(|e| Problem::bad_request(format!("query string: {e}")))
    }
}
