//! `/healthz` (the process answers) and `/readyz` (it can do its job).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use deadpool_postgres::PoolError;
use serde_json::{json, Value};

use super::AppState;
use crate::db::{self, schema};

/// How long `/readyz` waits for the database before calling it unreachable.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(ready))
}

/// Ready when the database answers, every migration this binary knows is
/// applied (newer ones are fine) and, if this replica runs the worker, its
/// listener is connected and the dispatcher watches the doorbell: an event
/// committed from then on is noticed at once, not at the next backstop poll.
/// Each check is `"ok"` or says what is wrong.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (database, schema) = database_and_schema(&state).await;
    let listener = match &state.doorbell {
        None => "disabled",
        Some(bell) if bell.is_watching() => "ok",
        Some(bell) if bell.is_connected() => "arming",
        Some(_) => "disconnected",
    };
    let ready = database == "ok" && schema == "ok" && (listener == "ok" || listener == "disabled");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not ready" },
            "checks": { "database": database, "schema": schema, "listener": listener },
        })),
    )
}

/// `("ok" | "unreachable: <why>", "ok" | "missing migration V…" | "unknown")`.
/// The reasons are the server's or the socket's words; they never contain the
/// connection string, so no password.
async fn database_and_schema(state: &AppState) -> (String, String) {
    let check = async {
        let client = state.db.get().await.map_err(|e| pool_reason(&e))?;
        schema::first_missing_migration(&client)
            .await
            .map_err(|e| db::describe(&e))
    };
    match tokio::time::timeout(DATABASE_TIMEOUT, check).await {
        Ok(Ok(None)) => ("ok".into(), "ok".into()),
        Ok(Ok(Some(missing))) => (
            "ok".into(),
            format!("missing migration {missing} (run `ihf-webhooks migrate`)"),
        ),
        Ok(Err(reason)) => (format!("unreachable: {reason}"), "unknown".into()),
        Err(_) => (
            format!(
                "unreachable: no answer within {}s",
                DATABASE_TIMEOUT.as_secs()
            ),
            "unknown".into(),
        ),
    }
}

fn pool_reason(e: &PoolError) -> String {
    match e {
        PoolError::Backend(e) => db::describe(e),
        PoolError::Timeout(_) => "timed out waiting for a connection".into(),
        other => db::describe(other),
    }
}
