//! A subscription's last success and last failure (with its error), recorded
//! with every batch of results for the API's health fields
//! (`GET /api/v2/webhooks/{id}`) and the operator's notifications.

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use uuid::Uuid;

use super::attempt::Finished;
use super::outcome::LogStatus;
use crate::db::sql;

/// Upserts the batch's latest success and failure per subscription. Results
/// of inactive subscriptions (cancelled, never sent) say nothing about the
/// receiver and are left out.
pub async fn record(tx: &Transaction<'_>, batch: &[Finished]) -> Result<(), tokio_postgres::Error> {
    let mut ids: Vec<Uuid> = Vec::new();
    let mut ok: Vec<bool> = Vec::new();
    let mut at: Vec<DateTime<Utc>> = Vec::new();
    let mut errors: Vec<Option<&str>> = Vec::new();
    for f in batch.iter().filter(|f| f.counts_for_health) {
        ids.push(f.subscription_id);
        ok.push(f.outcome.status == LogStatus::Delivered);
        at.push(f.attempted_at);
        errors.push(f.outcome.error_message.as_deref());
    }
    if ids.is_empty() {
        return Ok(());
    }
    let stmt = tx.prepare_cached(sql::SUBSCRIPTION_HEALTH_RECORD).await?;
    tx.execute(&stmt, &[&ids, &ok, &at, &errors]).await?;
    Ok(())
}
