//! Operator notifications: Standard Webhooks to `IHF_OPERATOR_WEBHOOK_URL`
//! when a subscription starts failing (`subscription.failing`), is disabled
//! (`subscription.disabled`), succeeds again (`subscription.recovered`), or
//! events give up after their last retry (`delivery.exhausted`, rate limited
//! by [`exhaustion`]).
//!
//! Every transition is decided in SQL under a row lock (an UPDATE whose
//! WHERE clause PostgreSQL re-checks after waiting for another replica's
//! lock, or rows locked before deciding), in the same transaction that
//! queues its notification in `ihf_operator_notifications` with one
//! `webhook-id`: however many replicas run, a transition is queued once.
//! [`sender`] then delivers the queue at least once, with the deliveries'
//! signer, timeout and retry schedule.
//!
//! - [`after_batch`] is the recorder's hook: transitions that a batch of
//!   attempt results causes (recovered, disabled, exhausted);
//! - [`sender`] sweeps the transitions that time causes (failing, the end of
//!   an exhaustion window) and sends the queue.

pub(crate) mod exhaustion;
pub(crate) mod sender;

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use uuid::Uuid;

use crate::db::sql;
use crate::delivery::attempt::{AttemptKind, Finished};
use crate::delivery::outcome::LogStatus;

pub use sender::Sender;

/// The event types of operator notifications (never framework events: they
/// cannot be subscribed to through the API).
pub const EVENT_TYPES: &[&str] = &[
    "subscription.failing",
    "subscription.disabled",
    "subscription.recovered",
    "delivery.exhausted",
];

/// How the recorder's hook decides (from configuration).
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The `delivery.exhausted` window: at most one report per subscription
    /// per this long.
    pub exhausted_window: std::time::Duration,
}

/// What one recorded batch tells the operator's side.
#[derive(Debug, Default)]
pub struct BatchFacts {
    /// Subscriptions with a success in the batch.
    pub delivered: Vec<Uuid>,
    /// (subscription, event) of events that gave up after their last retry.
    pub exhausted: Vec<(Uuid, Uuid)>,
    /// Subscriptions this batch's transaction deactivated.
    pub disabled: Vec<Uuid>,
}

impl BatchFacts {
    /// The facts of `batch`, given the subscriptions it deactivated.
    pub fn of(batch: &[Finished], disabled: Vec<Uuid>) -> BatchFacts {
        let mut facts = BatchFacts {
            disabled,
            ..BatchFacts::default()
        };
        for f in batch.iter().filter(|f| f.counts_for_health) {
            match f.outcome.status {
                LogStatus::Delivered => facts.delivered.push(f.subscription_id),
                LogStatus::Failed if is_exhaustion(f) => {
                    facts.exhausted.push((f.subscription_id, f.event_id))
                }
                LogStatus::Failed => {}
            }
        }
        facts
    }
}

/// A final failure after the last retry: not a 410 (that disables the
/// subscription, which is its own notification) and not a delivery cancelled
/// unsent.
fn is_exhaustion(f: &Finished) -> bool {
    f.outcome.retry_at.is_none()
        && f.outcome.deactivate.is_none()
        && f.kind != AttemptKind::Cancelled
}

/// Queues the notifications a recorded batch causes, in the recorder's
/// transaction (after the subscriptions' health is updated).
pub async fn after_batch(
    tx: &Transaction<'_>,
    facts: &BatchFacts,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    if !facts.delivered.is_empty() {
        let mut ids = facts.delivered.clone();
        ids.sort();
        ids.dedup();
        let stmt = tx.prepare_cached(sql::OPERATOR_NOTIFY_RECOVERED).await?;
        tx.execute(&stmt, &[&ids]).await?;
    }
    if !facts.disabled.is_empty() {
        let stmt = tx.prepare_cached(sql::OPERATOR_NOTIFY_DISABLED).await?;
        tx.execute(&stmt, &[&facts.disabled]).await?;
    }
    let window =
        chrono::Duration::from_std(rules.exhausted_window).unwrap_or(chrono::Duration::MAX);
    exhaustion::record(tx, &facts.exhausted, now, window).await
}
