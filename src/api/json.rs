//! A JSON body extractor whose rejections are problem+json naming the field.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// Like `axum::Json`, but a bad body is a 400/415/422 problem whose `detail`
/// says what to fix (e.g. "unknown field `foo`", "invalid type at line 1").
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(problem_for(rejection)),
        }
    }
}

fn problem_for(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::JsonDataError(e) => {
            // serde's message names the field: "unknown field `x`", "missing field `y`".
            let detail = e.body_text();
            let detail = detail
                .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                .unwrap_or(&detail)
                .to_string();
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unprocessable Content",
                detail,
            )
        }
        JsonRejection::JsonSyntaxError(_) => Problem::bad_request("the body is not valid JSON"),
        JsonRejection::BytesRejection(_) => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Content Too Large",
            "the body could not be read; bodies are limited to 64 KiB",
        ),
        other => Problem::bad_request(other.body_text()),
    }
}
