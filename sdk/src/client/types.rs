//! Request and response bodies and query strings of `/api/v2` (the README's
//! endpoint table). Response types ignore fields they do not know, so a newer
//! server does not break an older SDK. Queries serialize to the query string
//! (`reqwest`'s `.query()`), leaving out what is not set.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::webhooks::{Event, EventType, Secret};

/// One page of a list endpoint.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Subscription {
    /// Its id.
    pub id: Uuid,
    /// The event type it receives.
    pub event_type: EventType,
    /// Where deliveries are POSTed.
    pub target_url: String,
    /// Inactive subscriptions receive nothing.
    pub is_active: bool,
    /// Why the service deactivated it (the receiver answered `410 Gone`, or
    /// failed for too long), if it did.
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// When the service deactivated it.
    #[serde(default)]
    pub disabled_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A subscription just created, with its secret (shown this once).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct CreatedSubscription {
    /// The subscription.
    #[serde(flatten)]
    pub subscription: Subscription,
    /// The signing secret: store it, and verify deliveries with it.
    pub secret: Secret,
}

/// The body of [`Client::create_subscription`](super::Client::create_subscription).
#[derive(Debug, Clone, Serialize)]
pub struct NewSubscription {
    /// The event type to receive.
    pub event_type: EventType,
    /// Where to POST deliveries (`https`; see the service's SSRF rules).
    pub target_url: String,
    /// A `whsec_` secret of your own; the service generates one when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl NewSubscription {
    /// A subscription to `event_type` delivered to `target_url`.
    pub fn new(event_type: EventType, target_url: impl Into<String>) -> NewSubscription {
        NewSubscription {
            event_type,
            target_url: target_url.into(),
            secret: None,
        }
    }

    /// Use this secret instead of a generated one.
    pub fn with_secret(mut self, secret: &Secret) -> NewSubscription {
        self.secret = Some(secret.expose().to_string());
        self
    }
}

/// The body of [`Client::update_subscription`](super::Client::update_subscription):
/// only the fields set are changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubscriptionUpdate {
    /// A new target URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
    /// Activate or deactivate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

impl SubscriptionUpdate {
    /// Change nothing (yet).
    pub fn new() -> SubscriptionUpdate {
        SubscriptionUpdate::default()
    }

    /// Deliver to `url` from now on.
    pub fn target_url(mut self, url: impl Into<String>) -> SubscriptionUpdate {
        self.target_url = Some(url.into());
        self
    }

    /// Activate (`true`) or deactivate (`false`).
    pub fn active(mut self, active: bool) -> SubscriptionUpdate {
        self.is_active = Some(active);
        self
    }
}

/// The result of [`Client::rotate_secret`](super::Client::rotate_secret).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct RotatedSecret {
    /// The new secret (shown this once).
    pub secret: Secret,
    /// Until then deliveries carry a second signature made with the old
    /// secret, so receivers can switch at leisure.
    pub previous_secret_expires_at: DateTime<Utc>,
}

/// The outcome of [`Client::send_test`](super::Client::send_test).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TestResult {
    /// The test event's id (its `webhook-id`).
    pub event_id: String,
    /// Whether the receiver answered 2xx.
    pub delivered: bool,
    /// The receiver's HTTP status, if it answered.
    pub response_code: Option<u16>,
    /// How long the attempt took.
    pub latency_ms: u64,
    /// What went wrong, if anything.
    pub error_message: Option<String>,
}

/// The answer of [`Client::redeliver`](super::Client::redeliver).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Redelivery {
    /// The event scheduled again.
    pub event_id: String,
    /// `pending`.
    pub status: String,
}

/// The state a row of the attempt log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// A delivery was scheduled.
    Pending,
    /// An attempt got a 2xx.
    Delivered,
    /// An attempt failed (and may be retried; see `error_message`).
    Failed,
    /// A status this SDK version does not know.
    #[serde(other)]
    Unknown,
}

impl DeliveryStatus {
    /// The wire name (`pending`, `delivered`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Unknown => "unknown",
        }
    }
}

/// One row of a subscription's attempt log (`webhook_deliveries`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Delivery {
    /// The row's id.
    pub id: Uuid,
    /// The event's id (`webhook-id`); ties the rows of one event together.
    #[serde(default)]
    pub event_id: Option<String>,
    /// The event's type.
    #[serde(default)]
    pub event_type: Option<EventType>,
    /// What this row records.
    pub status: DeliveryStatus,
    /// The receiver's HTTP status, if it answered.
    #[serde(default)]
    pub response_code: Option<u16>,
    /// How long the attempt took.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// What happened, and whether and when it will be retried.
    #[serde(default)]
    pub error_message: Option<String>,
    /// When this row was written.
    pub attempted_at: DateTime<Utc>,
    /// The webhook body as sent. A delivery's later rows are stored without
    /// the body and shown with its first row's; once that first row is past
    /// the delivery log's retention the body is gone, and `data` is `null`.
    #[serde(deserialize_with = "body_or_reference")]
    pub payload: Event,
}

/// A row's `payload`: the envelope, or `{"id", "type", "timestamp"}` alone
/// when its body is past the log's retention (read with `data` `null`).
fn body_or_reference<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
    let mut value = serde_json::Value::deserialize(d)?;
    if let Some(fields) = value.as_object_mut() {
        fields.entry("data").or_insert(serde_json::Value::Null);
    }
    serde_json::from_value(value).map_err(serde::de::Error::custom)
}

/// Filters and paging for [`Client::list_deliveries`](super::Client::list_deliveries)
/// and [`Client::deliveries`](super::Client::deliveries).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryQuery {
    /// Page size (the server caps it at 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Only rows with this status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<DeliveryStatus>,
    /// Only rows attempted at or after this time.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "rfc3339_micros"
    )]
    pub since: Option<DateTime<Utc>>,
}

/// RFC 3339 in UTC with microseconds, the precision the attempt log keeps,
/// so a `since` taken from a row's `attempted_at` includes that row.
fn rfc3339_micros<S: serde::Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => {
            serializer.serialize_str(&time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }
        None => serializer.serialize_none(),
    }
}

impl DeliveryQuery {
    /// All rows, default page size.
    pub fn new() -> DeliveryQuery {
        DeliveryQuery::default()
    }

    /// Rows per page.
    pub fn limit(mut self, limit: u32) -> DeliveryQuery {
        self.limit = Some(limit);
        self
    }

    /// Only rows with `status`.
    pub fn status(mut self, status: DeliveryStatus) -> DeliveryQuery {
        self.status = Some(status);
        self
    }

    /// Only rows attempted at or after `since`.
    pub fn since(mut self, since: DateTime<Utc>) -> DeliveryQuery {
        self.since = Some(since);
        self
    }
}

/// Paging for [`Client::list_subscriptions`](super::Client::list_subscriptions)
/// and [`Client::subscriptions`](super::Client::subscriptions).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListQuery {
    /// Page size (the server caps it at 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl ListQuery {
    /// The first page, default size.
    pub fn new() -> ListQuery {
        ListQuery::default()
    }

    /// Items per page.
    pub fn limit(mut self, limit: u32) -> ListQuery {
        self.limit = Some(limit);
        self
    }
}

/// The calling consumer, its key, limits and what is left of them
/// (`GET /api/v2/me`).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Me {
    /// The consumer.
    pub consumer: Consumer,
    /// The key or token of this request.
    pub key: KeyInfo,
    /// The per-minute limit.
    pub rate_limit: MinuteLimit,
    /// The daily quota.
    pub quota: Quota,
}

/// An API consumer.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Consumer {
    /// Its id (the `client_id` for tokens).
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
    /// Requests allowed in any rolling minute.
    pub rate_limit_per_minute: u64,
    /// Requests allowed per UTC day.
    pub quota_per_day: u64,
    /// An inactive consumer's keys and tokens are refused.
    pub is_active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// The key or token a request was made with.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct KeyInfo {
    /// Its id.
    pub id: Uuid,
    /// `static` (an API key) or `oauth` (a token from `/api/v2/token`).
    pub token_type: String,
    /// Its scopes, space-delimited.
    pub scopes: String,
    /// When it expires, if it does.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// The per-minute limit, as of this request.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct MinuteLimit {
    /// Requests allowed per rolling minute.
    pub limit: u64,
    /// Requests left.
    pub remaining: u64,
    /// Seconds until more are allowed.
    pub reset_in_seconds: u64,
}

/// The daily quota, as of this request.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Quota {
    /// Requests allowed per UTC day.
    pub limit: u64,
    /// Requests used today.
    pub used: u64,
    /// Requests left today.
    pub remaining: u64,
    /// The next UTC midnight.
    pub resets_at: DateTime<Utc>,
}

/// An event type one can subscribe to (`GET /api/v2/event-types`).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct EventTypeInfo {
    /// The type.
    pub name: EventType,
    /// What it means.
    pub description: String,
    /// The framework table whose inserts produce it.
    #[serde(default)]
    pub source_table: Option<String>,
    /// A webhook body of this type.
    pub example: serde_json::Value,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EventTypeList {
    pub data: Vec<EventTypeInfo>,
}

/// The days [`Client::usage`](super::Client::usage) covers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UsageQuery {
    /// First UTC day (the server's default: six days before `until`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<NaiveDate>,
    /// Last UTC day, included (default: today).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
}

impl UsageQuery {}

/// Request counts per UTC day and endpoint (`GET /api/v2/usage`).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Usage {
    /// First day covered.
    pub since: NaiveDate,
    /// Last day covered.
    pub until: NaiveDate,
    /// Newest day first; days without requests are left out.
    pub data: Vec<UsageRow>,
}

/// Requests to one endpoint and method on one UTC day.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct UsageRow {
    /// The day.
    pub day: NaiveDate,
    /// The route template, e.g. `/api/v2/webhooks/{id}`.
    pub endpoint: String,
    /// The HTTP method.
    pub method: String,
    /// Requests in all.
    pub requests: u64,
    /// Of which answered 2xx.
    pub status_2xx: u64,
    /// Of which answered 3xx.
    pub status_3xx: u64,
    /// Of which answered 4xx.
    pub status_4xx: u64,
    /// Of which answered 5xx.
    pub status_5xx: u64,
    /// Median latency in milliseconds.
    #[serde(default)]
    pub p50_ms: Option<f64>,
    /// 95th percentile latency in milliseconds.
    #[serde(default)]
    pub p95_ms: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(payload: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "id": "0190f1a2-0000-7000-8000-000000000001",
            "event_id": payload["id"],
            "event_type": "annotation.created",
            "status": "failed",
            "attempted_at": "2026-12-03T10:00:00Z",
            "payload": payload,
        })
    }

    #[test]
    fn a_row_carries_its_body_or_only_the_reference_once_the_body_is_gone() {
        let envelope = serde_json::json!({
            "id": "e1", "type": "annotation.created",
            "timestamp": "2026-12-03T09:59:59Z", "data": {"author": "ada"},
        });
        let full: Delivery = serde_json::from_value(row(envelope)).unwrap();
        assert_eq!(full.payload.data["author"], "ada");

        let reference = serde_json::json!({
            "id": "e1", "type": "annotation.created", "timestamp": "2026-12-03T09:59:59Z",
        });
        let compact: Delivery = serde_json::from_value(row(reference)).unwrap();
        assert_eq!(compact.payload.id, "e1");
        assert_eq!(compact.payload.event_type, EventType::AnnotationCreated);
        assert_eq!(compact.payload.data, serde_json::Value::Null);

        let not_an_event = serde_json::json!({ "data": {} });
        assert!(serde_json::from_value::<Delivery>(row(not_an_event)).is_err());
    }
}
