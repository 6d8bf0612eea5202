//! A query-string extractor whose rejections are problem+json naming the
//! parameter (axum's own answers in plain text).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// Like `axum::extract::Query`, but a bad query string is a 400 problem whose
/// `detail` names the parameter and says what is wrong
/// ("query parameter `since`: input contains invalid characters").
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        parse(query).map(ApiQuery).map_err(Problem::bad_request)
    }
}

/// The query string as `T`, or a message naming the parameter at fault.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, String> {
    let pairs = url::form_urlencoded::parse(query.as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            format!("query string: {inner}")
        } else {
            format!("query parameter `{path}`: {inner}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        since: Option<chrono::DateTime<chrono::Utc>>,
        limit: Option<u32>,
    }

    #[test]
    fn a_bad_value_names_its_parameter() {
        let e = parse::<Q>("limit=5&since=yesterday").unwrap_err();
        assert!(e.starts_with("query parameter `since`: "), "{e}");
        let e = parse::<Q>("limit=many").unwrap_err();
        assert!(e.starts_with("query parameter `limit`: "), "{e}");
        let e = parse::<Q>("color=red").unwrap_err();
        assert!(e.contains("unknown field `color`"), "{e}");
        assert!(parse::<Q>("limit=5").is_ok());
    }
}
