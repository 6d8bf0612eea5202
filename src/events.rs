//! The event types: one per framework source table (SPEC §1).

/// A source table and the event its inserts produce.
#[derive(Debug, Clone, Copy)]
pub struct EventType {
    pub name: &'static str,
    pub table: &'static str,
    pub description: &'static str,
}

pub const EVENT_TYPES: [EventType; 6] = [
    EventType {
        name: "interaction_event.created",
        table: "interaction_events",
        description: "A user interaction with a widget was recorded.",
    },
    EventType {
        name: "annotation.created",
        table: "annotations",
        description: "An annotation was added to an interaction.",
    },
    EventType {
        name: "requirement_candidate.created",
        table: "requirement_candidates",
        description: "A requirement candidate was proposed.",
    },
    EventType {
        name: "decision_record.created",
        table: "decision_records",
        description: "A decision about a requirement was recorded.",
    },
    EventType {
        name: "deployment_record.created",
        table: "deployment_records",
        description: "A deployment was recorded.",
    },
    EventType {
        name: "outcome_signal.created",
        table: "outcome_signals",
        description: "An outcome signal was measured after a deployment.",
    },
];

pub fn is_event_type(name: &str) -> bool {
    EVENT_TYPES.iter().any(|t| t.name == name)
}
