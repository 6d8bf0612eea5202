//! The event types: one per framework source table.

/// A source table and the event its inserts produce.
#[derive(Debug, Clone, Copy)]
pub struct EventType {
    pub name: &'static str,
    pub table: &'static str,
    pub description: &'static str,
    /// An example of `data` (the inserted row), as JSON text.
    pub example_data: &'static str,
}

pub const EVENT_TYPES: [EventType; 6] = [
    EventType {
        name: "interaction_event.created",
        table: "interaction_events",
        description: "A user interaction with a widget was recorded.",
        example_data: r#"{"id": "0b6f2c1e-7d4a-4c55-9a0e-3f1d2b8c9e01", "session_id": "5c7e9a10-2b3d-4e6f-8a9b-0c1d2e3f4a5b", "widget_id": "checkout-button", "event_type": "clicked", "properties": {"page": "/cart"}, "created_at": "2030-01-01T12:00:00.123456+00:00"}"#,
    },
    EventType {
        name: "annotation.created",
        table: "annotations",
        description: "An annotation was added to an interaction.",
        example_data: r#"{"id": "1c7a3d2f-8e5b-4d66-ab1f-4a2e3c9d0f12", "interaction_event_id": "0b6f2c1e-7d4a-4c55-9a0e-3f1d2b8c9e01", "author": "ada", "body": "users hesitate here", "tags": ["ux"], "created_at": "2030-01-01T12:01:00.123456+00:00"}"#,
    },
    EventType {
        name: "requirement_candidate.created",
        table: "requirement_candidates",
        description: "A requirement candidate was proposed.",
        example_data: r#"{"id": "2d8b4e3a-9f6c-4e77-bc2a-5b3f4dae1a23", "title": "Export to CSV", "description": "Asked for in 14 annotations", "priority": 2, "status": "proposed", "created_at": "2030-01-01T12:02:00.123456+00:00"}"#,
    },
    EventType {
        name: "decision_record.created",
        table: "decision_records",
        description: "A decision about a requirement was recorded.",
        example_data: r#"{"id": "3e9c5f4b-a07d-4f88-8d3b-6c4a5ebf2b34", "requirement_candidate_id": "2d8b4e3a-9f6c-4e77-bc2a-5b3f4dae1a23", "decision": "accept", "rationale": "asked often, cheap", "decided_by": "product", "created_at": "2030-01-01T12:03:00.123456+00:00"}"#,
    },
    EventType {
        name: "deployment_record.created",
        table: "deployment_records",
        description: "A deployment was recorded.",
        example_data: r#"{"id": "4fad6a5c-b18e-4099-9e4c-7d5b6fc03c45", "decision_record_id": "3e9c5f4b-a07d-4f88-8d3b-6c4a5ebf2b34", "environment": "prod", "version": "1.2.3", "deployed_by": "ci", "created_at": "2030-01-01T12:04:00.123456+00:00"}"#,
    },
    EventType {
        name: "outcome_signal.created",
        table: "outcome_signals",
        description: "An outcome signal was measured after a deployment.",
        example_data: r#"{"id": "5abe7b6d-c29f-41aa-af5d-8e6c7a0d4d56", "deployment_record_id": "4fad6a5c-b18e-4099-9e4c-7d5b6fc03c45", "metric": "adoption", "value": 0.42, "created_at": "2030-01-01T12:05:00.123456+00:00"}"#,
    },
];

pub fn is_event_type(name: &str) -> bool {
    EVENT_TYPES.iter().any(|t| t.name == name)
}

/// A webhook body of type `t` with its example row, as a receiver gets it.
pub fn example_envelope(t: &EventType) -> serde_json::Value {
    let data: serde_json::Value =
        serde_json::from_str(t.example_data).expect("example data is JSON");
    serde_json::json!({
        "id": "7f0e3a52-3c4b-4d1e-9f8a-1b2c3d4e5f60",
        "type": t.name,
        "timestamp": data["created_at"].as_str().map(|at| at.replace("+00:00", "Z")),
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_an_example_envelope() {
        for t in &EVENT_TYPES {
            let e = example_envelope(t);
            assert_eq!(e["type"], t.name);
            assert!(e["timestamp"].as_str().unwrap().ends_with('Z'));
            assert!(e["data"]["id"].is_string());
        }
    }
}
