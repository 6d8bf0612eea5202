//! A JSON body extractor whose rejections are problem+json naming the field.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::Problem;

/// Like `axum::Json`, but a bad body is a 400/413/415/422 problem whose
/// `detail` says what to fix (e.g. "unknown field `foo`", "invalid type").
/// The body must be a JSON object (serde would also take an array for a
/// struct), and no string may hold NUL, which PostgreSQL text cannot store.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let mut value = match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => value,
            Err(rejection) => return Err(problem_for(rejection)),
        };
        if !value.is_object() {
            return Err(unprocessable("the body must be a JSON object"));
        }
        if let Some(path) = nul_at(&value, String::new()) {
            return Err(Problem::invalid_field(
                &path,
                "must not contain the NUL character (\\u0000)",
            ));
        }
        integral_floats_as_integers(&mut value);
        // serde's message names the field: "unknown field `x`", "missing field `y`".
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(|e| unprocessable(e.to_string()))
    }
}

fn unprocessable(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Unprocessable Content",
        detail,
    )
}

/// `5.0` is an integer in JSON Schema (and so in our OpenAPI document), but
/// serde will not read it as one; make it `5`.
fn integral_floats_as_integers(value: &mut Value) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every integer below is exact
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                if f.fract() == 0.0 && f.abs() < EXACT {
                    *value = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// The path (`a.b[2]`) of the first string or key holding NUL, if any.
fn nul_at(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if path.is_empty() {
                k.replace('\0', "\\u0000")
            } else {
                format!("{path}.{}", k.replace('\0', "\\u0000"))
            };
            if k.contains('\0') {
                Some(here)
            } else {
                nul_at(v, here)
            }
        }),
        _ => None,
    }
}

fn problem_for(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::JsonDataError(e) => unprocessable(e.body_text()),
        JsonRejection::JsonSyntaxError(_) => Problem::bad_request("the body is not valid JSON"),
        JsonRejection::BytesRejection(_) => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Content Too Large",
            "the body could not be read; bodies are limited to 64 KiB",
        ),
        other => Problem::bad_request(other.body_text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_floats_become_integers_and_others_stay() {
        let mut v = json!({ "a": 5.0, "b": [2.5, -3.0], "c": 1e300 });
        integral_floats_as_integers(&mut v);
        assert_eq!(v, json!({ "a": 5, "b": [2.5, -3], "c": 1e300 }));
        assert!(v["a"].is_i64());
    }

    #[test]
    fn nul_is_found_wherever_it_hides() {
        assert_eq!(
            nul_at(&json!({ "a": "ok", "b": ["x", "y\u{0}"] }), String::new()),
            Some("b[1]".into())
        );
        assert_eq!(
            nul_at(&json!({ "a": { "c": "\u{0}" } }), String::new()),
            Some("a.c".into())
        );
        assert_eq!(nul_at(&json!({ "a": "fine" }), String::new()), None);
    }
}
