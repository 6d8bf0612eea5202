//! `GET /api/v2/event-types`: what can be subscribed to, with an example of
//! each webhook body.

use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::capture::event_types::{self, EVENT_TYPES};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeView {
    #[schema(example = "annotation.created")]
    pub name: String,
    pub description: String,
    /// The framework table whose inserts produce this event.
    pub source_table: String,
    /// A webhook body of this type as a receiver gets it.
    #[schema(value_type = Object)]
    pub example: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeList {
    pub data: Vec<EventTypeView>,
}

/// The event types, each with a description and an example payload.
#[utoipa::path(
    get,
    path = "/api/v2/event-types",
    operation_id = "listEventTypes",
    tag = "webhooks",
    security(("bearer" = [])),
    responses((status = 200, description = "All event types", body = EventTypeList))
)]
async fn list() -> Json<EventTypeList> {
    Json(EventTypeList {
        data: EVENT_TYPES
            .iter()
            .map(|t| EventTypeView {
                name: t.name.to_string(),
                description: t.description.to_string(),
                source_table: t.table.to_string(),
                example: event_types::example_envelope(t),
            })
            .collect(),
    })
}
