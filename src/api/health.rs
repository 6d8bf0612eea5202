//! `/healthz` (the process answers) and `/readyz` (it can do its job).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(ready))
}

/// Ready when the database answers and, if this replica runs the worker, its
/// listener is connected and the dispatcher watches the doorbell: an event
/// committed from then on is noticed at once, not at the next backstop poll.
/// The body says which check fails.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match tokio::time::timeout(std::time::Duration::from_secs(2), async {
        let client = state.db.get().await.map_err(|e| e.to_string())?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| e.to_string())
    })
    .await
    {
        Ok(Ok(_)) => "ok",
        _ => "unreachable",
    };
    let listener = match &state.doorbell {
        None => "disabled",
        Some(bell) if bell.is_watching() => "ok",
        Some(bell) if bell.is_connected() => "arming",
        Some(_) => "disconnected",
    };
    let ready = database == "ok" && (listener == "ok" || listener == "disabled");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not ready" },
            "checks": { "database": database, "listener": listener },
        })),
    )
}
