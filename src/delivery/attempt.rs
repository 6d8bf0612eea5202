//! One delivery attempt: sign the envelope, POST it, judge the answer.

use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tracing::Instrument;
use uuid::Uuid;

use super::client::{Response, SendError, SignedRequest, WebhookClient};
use super::outcome::{Attempted, LogStatus, Outcome, RetryPolicy};
use crate::access::sealing::Sealer;
use crate::delivery::headers::{load_header_values, CustomHeaders};
use crate::delivery::signing::{signature_header, Secret};

/// A job as leased by `outbox_fan_out.sql` or claimed by `jobs_claim_due.sql`.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    /// This attempt's number (1 = first); also the fence for recording it.
    pub attempt: i32,
    pub event_id: Uuid,
    pub subscription_id: Uuid,
    /// The subscription's consumer (for the per-consumer cap).
    pub consumer_id: Uuid,
    pub body: String,
    /// Whether the log already holds this delivery's envelope (a 'pending'
    /// row, or an earlier attempt's row): then this attempt's row carries only
    /// the compact reference (migrations/V15).
    pub envelope_logged: bool,
    pub event_type: String,
    /// When the source row was inserted (for the end-to-end lag).
    pub occurred_at: DateTime<Utc>,
    pub target_url: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub active: bool,
    /// Custom headers as stored (values sealed when keys are set); unsealed
    /// at send time.
    pub stored_headers: serde_json::Value,
}

impl ClaimedJob {
    pub fn from_row(row: &tokio_postgres::Row) -> ClaimedJob {
        ClaimedJob {
            id: row.get("id"),
            attempt: row.get("attempts"),
            event_id: row.get("event_id"),
            subscription_id: row.get("subscription_id"),
            consumer_id: row.get("consumer_id"),
            body: row.get("body"),
            envelope_logged: row.get("envelope_logged"),
            event_type: row.get("event_type"),
            occurred_at: row.get("occurred_at"),
            target_url: row.get("target_url"),
            secret: row.get("secret"),
            previous_secret: row.get("previous_secret"),
            active: row.get("active"),
            stored_headers: row.get("headers"),
        }
    }
}

/// The result of one attempt, ready to be recorded.
#[derive(Debug)]
pub struct Finished {
    pub job_id: i64,
    /// The event (its `webhook-id`), for the operator's `delivery.exhausted`.
    pub event_id: Uuid,
    pub attempt: i32,
    pub subscription_id: Uuid,
    /// As claimed: whether this attempt's row carries only the compact reference.
    pub envelope_logged: bool,
    pub attempted_at: DateTime<Utc>,
    pub latency_ms: Option<i32>,
    pub outcome: Outcome,
    /// False when the subscription was inactive: says nothing about the receiver.
    pub counts_for_health: bool,
    pub kind: AttemptKind,
    pub duration: std::time::Duration,
}

/// What an attempt came to, as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptKind {
    Delivered,
    /// Failed; a retry is scheduled.
    FailedAttempt,
    /// Failed for the last time (or permanently).
    FinallyFailed,
    /// Refused by the SSRF guard before sending.
    Refused,
    /// Not attempted: inactive subscription or unusable secret.
    Cancelled,
}

impl AttemptKind {
    /// The `outcome` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptKind::Delivered => "delivered",
            AttemptKind::FailedAttempt => "failed_attempt",
            AttemptKind::FinallyFailed => "finally_failed",
            AttemptKind::Refused => "refused",
            AttemptKind::Cancelled => "cancelled",
        }
    }
}

/// Runs one attempt of `job`. Never fails: every problem becomes an outcome.
pub async fn run(job: &ClaimedJob, client: &WebhookClient, retry: &RetryPolicy) -> Finished {
    let span = tracing::info_span!(
        "delivery_attempt",
        event_id = %job.event_id,
        subscription_id = %job.subscription_id,
        attempt = job.attempt,
    );
    async {
        let attempted_at = Utc::now();
        let started = Instant::now();
        let (outcome, sent) = send(job, client, retry).await;
        let duration = started.elapsed();
        let latency_ms =
            (sent == Sent::Yes).then(|| duration.as_millis().min(i32::MAX as u128) as i32);
        let kind = match (sent, outcome.status, outcome.retry_at) {
            (Sent::Refused, ..) => AttemptKind::Refused,
            (Sent::Not, ..) => AttemptKind::Cancelled,
            (_, LogStatus::Delivered, _) => AttemptKind::Delivered,
            (_, _, Some(_)) => AttemptKind::FailedAttempt,
            (_, _, None) => AttemptKind::FinallyFailed,
        };
        tracing::debug!(
            outcome = outcome.status.as_str(),
            response_code = outcome.response_code,
            latency_ms,
            "attempt finished"
        );
        Finished {
            job_id: job.id,
            event_id: job.event_id,
            attempt: job.attempt,
            subscription_id: job.subscription_id,
            envelope_logged: job.envelope_logged,
            attempted_at,
            latency_ms,
            outcome,
            counts_for_health: job.active,
            kind,
            duration,
        }
    }
    .instrument(span)
    .await
}

/// Whether a request went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Yes,
    /// Refused by the SSRF guard.
    Refused,
    /// Not attempted (inactive subscription, unusable secret).
    Not,
}

/// Returns the outcome and whether a request went out.
async fn send(job: &ClaimedJob, client: &WebhookClient, retry: &RetryPolicy) -> (Outcome, Sent) {
    if !job.active {
        return (
            retry.judge(job.attempt, Attempted::Cancelled, Utc::now()),
            Sent::Not,
        );
    }
    let secrets = match parse_secrets(client.sealer(), &job.secret, job.previous_secret.as_deref())
    {
        Some(s) => s,
        None => {
            return (
                retry.judge(job.attempt, Attempted::BadSecret, Utc::now()),
                Sent::Not,
            )
        }
    };
    let result = sign_and_send(
        client,
        &job.target_url,
        &secrets,
        &job.event_id.to_string(),
        &job.body,
        &load_header_values(&job.stored_headers, client.sealer()),
    )
    .await;
    let sent = match result {
        Err(SendError::Refused(_)) => Sent::Refused,
        _ => Sent::Yes,
    };
    let what = match &result {
        Ok(response) => Attempted::Answered(response),
        Err(e) => Attempted::NoAnswer(e),
    };
    (retry.judge(job.attempt, what, Utc::now()), sent)
}

/// Signs `body` with every secret and POSTs it to `target_url`, applying the
/// SSRF guard again: the URL's form here, resolved addresses in the client.
pub async fn sign_and_send(
    client: &WebhookClient,
    target_url: &str,
    secrets: &[Secret],
    webhook_id: &str,
    body: &str,
    headers: &CustomHeaders,
) -> Result<Response, SendError> {
    let url = client
        .policy()
        .check_url(target_url)
        .map_err(SendError::Refused)?;
    let timestamp = Utc::now().timestamp();
    let signature = signature_header(secrets, webhook_id, timestamp, body.as_bytes());
    client
        .send(SignedRequest {
            url: &url,
            webhook_id,
            timestamp,
            signature: &signature,
            body: Bytes::copy_from_slice(body.as_bytes()),
            headers,
        })
        .await
}

/// The current secret, plus the previous one while its rotation grace lasts,
/// unsealed (see [`Sealer`]); `None` when the current one is unusable.
pub fn parse_secrets(
    sealer: &Sealer,
    current: &str,
    previous: Option<&str>,
) -> Option<Vec<Secret>> {
    let unsealed = |text: &str| match sealer.unseal(text) {
        Ok(plain) => Secret::parse(&plain).ok(),
        Err(e) => {
            tracing::error!(error = %e, "a stored webhook secret cannot be unsealed");
            None
        }
    };
    let mut secrets = vec![unsealed(current)?];
    secrets.extend(previous.and_then(unsealed));
    Some(secrets)
}
