//! `GET /metrics` (Prometheus text format) and the middleware that counts
//! every HTTP request by route template.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;
use crate::db::sql;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    m.observe_pool("api", &state.db);
    if let Some(pool) = &state.worker_pool {
        m.observe_pool("worker", pool);
    }
    // Queue depth comes from the database; a scrape during an outage still
    // answers, with the last known values.
    let depth = tokio::time::timeout(Duration::from_secs(2), async {
        let client = state.db.get().await.ok()?;
        let depth = client.query_one(sql::JOBS_QUEUE_DEPTH, &[]).await.ok()?;
        let operator = client
            .query_one(sql::OPERATOR_NOTIFICATIONS_DEPTH, &[])
            .await
            .ok()?;
        Some((depth, operator))
    })
    .await;
    if let Ok(Some((row, operator))) = depth {
        m.jobs_due.set(row.get("due"));
        m.oldest_due_job_age.set(row.get("oldest_due_seconds"));
        m.outbox_events.set(row.get("outbox"));
        m.operator_queue.set(operator.get(0));
        m.database_up.set(1);
    } else {
        m.database_up.set(0);
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        m.render(),
    )
}

/// Counts each request under its route template (never the raw path).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let class = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    let m = &state.metrics;
    m.http_requests
        .with_label_values(&[&route, &method, class])
        .inc();
    m.http_duration
        .with_label_values(&[&route, &method])
        .observe(started.elapsed().as_secs_f64());
    response
}
