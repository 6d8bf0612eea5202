//! The webhook body: `{"id", "type", "timestamp", "data"}`, and the event
//! types it can carry.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A webhook body. `data` is the inserted row; keep it as
/// [`serde_json::Value`] (the default) or name your own type for it.
///
/// ```
/// use ihf_sdk::webhooks::{Event, EventType};
///
/// let body = br#"{"id":"5b1f7b4e","type":"annotation.created",
///     "timestamp":"2026-11-27T22:09:07.819527Z","data":{"author":"ada"}}"#;
/// let event: Event = Event::from_slice(body)?;
/// assert_eq!(event.event_type, EventType::AnnotationCreated);
/// assert_eq!(event.data["author"], "ada");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event<T = serde_json::Value> {
    /// The event id, equal to the `webhook-id` header and the same on every
    /// retry and redelivery: dedupe on it.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When the row was inserted (not when this attempt was sent).
    pub timestamp: DateTime<Utc>,
    /// The inserted row, as JSON.
    pub data: T,
}

impl<T: serde::de::DeserializeOwned> Event<T> {
    /// Parses a body. Only call this on a body that [`verify`](super::verify)
    /// accepted (or use [`Verifier::verify_event`](super::Verifier::verify_event)).
    pub fn from_slice(body: &[u8]) -> Result<Event<T>, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// The type of an event (`type` in the body): one per framework source table.
///
/// Types this version does not know yet arrive as [`EventType::Unknown`]
/// instead of failing to parse, so a receiver keeps working when new types
/// are added; match with a wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// `interaction_event.created`: a row in `interaction_events`.
    InteractionEventCreated,
    /// `annotation.created`: a row in `annotations`.
    AnnotationCreated,
    /// `requirement_candidate.created`: a row in `requirement_candidates`.
    RequirementCandidateCreated,
    /// `decision_record.created`: a row in `decision_records`.
    DecisionRecordCreated,
    /// `deployment_record.created`: a row in `deployment_records`.
    DeploymentRecordCreated,
    /// `outcome_signal.created`: a row in `outcome_signals`.
    OutcomeSignalCreated,
    /// A type this version of the SDK does not know, as sent.
    Unknown(String),
}

impl EventType {
    /// The six known types.
    pub const ALL: [EventType; 6] = [
        EventType::InteractionEventCreated,
        EventType::AnnotationCreated,
        EventType::RequirementCandidateCreated,
        EventType::DecisionRecordCreated,
        EventType::DeploymentRecordCreated,
        EventType::OutcomeSignalCreated,
    ];

    /// The wire name, e.g. `annotation.created`.
    pub fn as_str(&self) -> &str {
        match self {
            EventType::InteractionEventCreated => "interaction_event.created",
            EventType::AnnotationCreated => "annotation.created",
            EventType::RequirementCandidateCreated => "requirement_candidate.created",
            EventType::DecisionRecordCreated => "decision_record.created",
            EventType::DeploymentRecordCreated => "deployment_record.created",
            EventType::OutcomeSignalCreated => "outcome_signal.created",
            EventType::Unknown(name) => name,
        }
    }

    /// The framework table whose inserts produce this type (`None` if unknown).
    pub fn source_table(&self) -> Option<&'static str> {
        Some(match self {
            EventType::InteractionEventCreated => "interaction_events",
            EventType::AnnotationCreated => "annotations",
            EventType::RequirementCandidateCreated => "requirement_candidates",
            EventType::DecisionRecordCreated => "decision_records",
            EventType::DeploymentRecordCreated => "deployment_records",
            EventType::OutcomeSignalCreated => "outcome_signals",
            EventType::Unknown(_) => return None,
        })
    }

    /// Whether this is one of the six types this version knows.
    pub fn is_known(&self) -> bool {
        !matches!(self, EventType::Unknown(_))
    }
}

impl FromStr for EventType {
    type Err = std::convert::Infallible;

    /// Never fails: an unrecognised name becomes [`EventType::Unknown`].
    fn from_str(name: &str) -> Result<EventType, Self::Err> {
        Ok(EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .unwrap_or_else(|| EventType::Unknown(name.to_string())))
    }
}

impl From<&str> for EventType {
    fn from(name: &str) -> EventType {
        name.parse().unwrap_or_else(|never| match never {})
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<EventType, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Ok(EventType::from(name.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_type_round_trips_through_its_wire_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::from(t.as_str()), t);
            assert!(t.is_known() && t.source_table().is_some());
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(serde_json::from_str::<EventType>(&json).unwrap(), t);
        }
    }

    #[test]
    fn an_unknown_type_parses_instead_of_failing() {
        let event: Event = Event::from_slice(
            br#"{"id":"e1","type":"widget.exploded","timestamp":"2026-01-02T03:04:05.000006Z","data":{}}"#,
        )
        .unwrap();
        assert_eq!(
            event.event_type,
            EventType::Unknown("widget.exploded".into())
        );
        assert_eq!(event.event_type.to_string(), "widget.exploded");
        assert!(!event.event_type.is_known());
    }

    #[test]
    fn data_can_be_a_type_of_your_own() {
        #[derive(Deserialize)]
        struct Annotation {
            author: String,
        }
        let event: Event<Annotation> = Event::from_slice(
            br#"{"id":"e1","type":"annotation.created","timestamp":"2026-01-02T03:04:05Z","data":{"author":"ada","body":"x"}}"#,
        )
        .unwrap();
        assert_eq!(event.data.author, "ada");
    }
}
