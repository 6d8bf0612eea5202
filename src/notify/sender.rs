//! Sends the operator's notification queue: claims due rows (leased, fenced
//! by attempt number like delivery jobs), signs each with the operator's
//! secret, POSTs it through a client whose SSRF guard allows private and
//! `http://` targets (the URL is trusted configuration; link-local stays
//! refused), and judges the answer with the deliveries' retry policy. Each
//! round also sweeps the transitions that time causes: subscriptions failing
//! for `IHF_FAILING_AFTER`, and exhaustion windows that have ended.

use std::time::Duration;

use chrono::Utc;
use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::exhaustion;
use crate::config::{Config, OperatorWebhook};
use crate::db::sql;
use crate::delivery::attempt::sign_and_send;
use crate::delivery::client::WebhookClient;
use crate::delivery::headers::CustomHeaders;
use crate::delivery::outcome::{Attempted, LogStatus, RetryPolicy};
use crate::delivery::ssrf::TargetPolicy;
use crate::metrics::Metrics;

/// Notifications sent per round at most (concurrently).
const BATCH: i64 = 16;

pub struct Sender {
    pool: Pool,
    client: WebhookClient,
    target: OperatorWebhook,
    retry: RetryPolicy,
    failing_after: Duration,
    exhausted_window: Duration,
    lease: Duration,
    interval: Duration,
    metrics: std::sync::Arc<Metrics>,
}

/// A claimed notification.
struct Claimed {
    id: i64,
    attempt: i32,
    webhook_id: Uuid,
    event_type: String,
    body: String,
}

impl Sender {
    /// None when no operator endpoint is configured.
    pub fn new(config: &Config, pool: Pool, metrics: std::sync::Arc<Metrics>) -> Option<Sender> {
        let target = config.operator.clone()?;
        Some(Sender {
            pool,
            client: WebhookClient::new(
                TargetPolicy {
                    dns_timeout: config.dns_timeout,
                    ..TargetPolicy::OPERATOR
                },
                config.delivery_timeout,
            ),
            target,
            retry: RetryPolicy {
                schedule: config.retry_schedule.clone(),
                retry_after_max: config.retry_after_max,
            },
            failing_after: config.failing_after,
            exhausted_window: config.exhausted_window,
            lease: config.lease(),
            interval: config.poll_interval,
            metrics,
        })
    }

    /// Runs a round every poll interval until `cancel` fires. A round that is
    /// sending finishes first (each send is bounded by the delivery timeout),
    /// so no claimed notification is left to its lease.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
            if let Err(e) = self.round().await {
                tracing::warn!(error = %format_args!("{e:#}"), "operator notifications: round failed; trying again");
            }
        }
    }

    /// Sweeps time-caused transitions, then sends what is due.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let mut client = self.pool.get().await?;
        let failing_ms = self.failing_after.as_millis() as i64;
        let stmt = client.prepare_cached(sql::OPERATOR_NOTIFY_FAILING).await?;
        client.query_one(&stmt, &[&failing_ms]).await?;
        let tx = client.transaction().await?;
        let window =
            chrono::Duration::from_std(self.exhausted_window).unwrap_or(chrono::Duration::MAX);
        exhaustion::summarize(&tx, Utc::now(), window).await?;
        tx.commit().await?;

        let lease_ms = self.lease.as_millis() as i64;
        let stmt = client
            .prepare_cached(sql::OPERATOR_NOTIFICATIONS_CLAIM)
            .await?;
        let claimed: Vec<Claimed> = client
            .query(&stmt, &[&BATCH, &lease_ms])
            .await?
            .iter()
            .map(|row| {
                let data: String = row.get("data");
                let webhook_id: Uuid = row.get("webhook_id");
                let event_type: String = row.get("event_type");
                let occurred_at: String = row.get("occurred_at");
                Claimed {
                    id: row.get("id"),
                    attempt: row.get("attempts"),
                    webhook_id,
                    body: envelope(webhook_id, &event_type, &occurred_at, &data),
                    event_type,
                }
            })
            .collect();
        // No connection is held across the HTTP calls.
        drop(client);
        let sent = claimed.len();
        let finished =
            futures_util::future::join_all(claimed.into_iter().map(|n| self.send(n))).await;
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached(sql::OPERATOR_NOTIFICATIONS_FINISH)
            .await?;
        for (id, attempt, retry_at) in finished {
            client.execute(&stmt, &[&id, &attempt, &retry_at]).await?;
        }
        Ok(sent)
    }

    /// One attempt; returns (id, attempt, when to retry or None when done).
    async fn send(&self, n: Claimed) -> (i64, i32, Option<chrono::DateTime<Utc>>) {
        let result = sign_and_send(
            &self.client,
            &self.target.url,
            std::slice::from_ref(&self.target.secret),
            &n.webhook_id.to_string(),
            &n.body,
            &CustomHeaders::default(),
        )
        .await;
        let what = match &result {
            Ok(response) => Attempted::Answered(response),
            Err(e) => Attempted::NoAnswer(e),
        };
        let outcome = self.retry.judge(n.attempt, what, Utc::now());
        let label = match (outcome.status, outcome.retry_at) {
            (LogStatus::Delivered, _) => "delivered",
            (_, Some(_)) => "failed_attempt",
            (_, None) => "finally_failed",
        };
        self.metrics
            .operator_notifications
            .with_label_values(&[&n.event_type, label])
            .inc();
        if let Some(problem) = &outcome.error_message {
            tracing::warn!(webhook_id = %n.webhook_id, event_type = %n.event_type, problem = %problem,
                "operator notification not delivered");
        }
        (n.id, n.attempt, outcome.retry_at)
    }
}

/// The Standard Webhooks body: `{"id", "type", "timestamp", "data"}`.
fn envelope(webhook_id: Uuid, event_type: &str, occurred_at: &str, data: &str) -> String {
    let data: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
    serde_json::json!({
        "id": webhook_id,
        "type": event_type,
        "timestamp": occurred_at,
        "data": data,
    })
    .to_string()
}
