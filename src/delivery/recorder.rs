//! Writes attempt results in batches. Whatever has arrived while the previous
//! batch was being written goes into the next one, so under load one commit
//! covers hundreds of attempts, and when idle a result is written at once.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::attempt::Finished;
use super::health;
use super::outcome::LogStatus;
use crate::capture::doorbell::Doorbell;
use crate::db::sql;
use crate::metrics::Metrics;
use crate::notify;

const MAX_BATCH: usize = 1000;

pub struct Recorder {
    pub pool: Pool,
    pub disable_after: Duration,
    /// Give up on a batch after this long: by then the jobs' leases have
    /// expired and they will be attempted again, so nothing is lost.
    pub give_up_after: Duration,
    /// Nudged after every batch: recorded results free per-subscription
    /// capacity and schedule retries, which an idle dispatcher (that planned
    /// its sleep while those jobs were still leased) should look at.
    pub bell: Arc<Doorbell>,
    pub metrics: Arc<Metrics>,
    /// Set when operator notifications are configured.
    pub notify: Option<notify::Rules>,
}

impl Recorder {
    /// Runs until every sender is dropped and the last batch is written.
    pub async fn run(self, mut results: mpsc::Receiver<Finished>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // A job is in a batch once (jobs_finish.sql finds each job's result
        // by binary search on its id): a second result for the same job, a
        // newer attempt after its lease ran out, starts the next batch.
        let mut jobs = HashSet::with_capacity(MAX_BATCH);
        let mut carried: Option<Finished> = None;
        loop {
            let first = match carried.take() {
                Some(f) => f,
                None => match results.recv().await {
                    Some(f) => f,
                    None => break,
                },
            };
            jobs.insert(first.job_id);
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match results.try_recv() {
                    Ok(f) if jobs.insert(f.job_id) => batch.push(f),
                    Ok(f) => {
                        carried = Some(f);
                        break;
                    }
                    Err(_) => break,
                }
            }
            let started = std::time::Instant::now();
            let write = || self.write(&batch);
            let retried = write
                .retry(
                    ExponentialBuilder::default()
                        .with_min_delay(Duration::from_millis(50))
                        .with_max_delay(Duration::from_secs(2))
                        .with_total_delay(Some(self.give_up_after))
                        .without_max_times(),
                )
                .notify(|e, delay| {
                    tracing::warn!(error = %format_args!("{e:#}"), retry_in = ?delay, "cannot record attempt results yet")
                })
                .await;
            let retries = batch
                .iter()
                .filter(|f| f.outcome.retry_at.is_some())
                .count();
            tracing::debug!(
                results = batch.len(),
                ms = started.elapsed().as_millis() as u64,
                "recorded"
            );
            match retried {
                Ok(()) => {
                    self.metrics.retries_scheduled.inc_by(retries as u64);
                    self.bell.nudge();
                }
                Err(e) => tracing::error!(error = %format_args!("{e:#}"), results = batch.len(),
                    "dropping attempt results; their jobs will be attempted again"),
            }
            batch.clear();
            jobs.clear();
        }
    }

    async fn write(&self, batch: &[Finished]) -> Result<(), anyhow::Error> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let cols = Columns::of(batch);
        let finish = tx.prepare_cached(sql::JOBS_FINISH).await?;
        tx.execute(
            &finish,
            &[
                &cols.job_ids,
                &cols.attempts,
                &cols.statuses,
                &cols.codes,
                &cols.latencies,
                &cols.messages,
                &cols.attempted_at,
                &cols.retry_at,
                &cols.envelope_logged,
                &cols.row_ids,
            ],
        )
        .await?;
        // Subscription health: successes clear the failure clock, failures
        // start it. One entry per subscription, in id order (the statement
        // finds each by binary search): did any of its attempts succeed?
        let mut succeeded: BTreeMap<Uuid, bool> = BTreeMap::new();
        for f in batch.iter().filter(|f| f.counts_for_health) {
            *succeeded.entry(f.subscription_id).or_default() |=
                f.outcome.status == LogStatus::Delivered;
        }
        let (ids, ok): (Vec<Uuid>, Vec<bool>) = succeeded.into_iter().unzip();
        if !ids.is_empty() {
            let health = tx.prepare_cached(sql::SUBSCRIPTIONS_RECORD_HEALTH).await?;
            tx.execute(&health, &[&ids, &ok]).await?;
        }
        health::record(&tx, batch).await?;
        let mut disabled_ids: Vec<Uuid> = Vec::new();
        let failing: Vec<Uuid> = batch
            .iter()
            .filter(|f| f.counts_for_health && f.outcome.status == LogStatus::Failed)
            .map(|f| f.subscription_id)
            .collect();
        if !failing.is_empty() {
            let disable = tx
                .prepare_cached(sql::SUBSCRIPTIONS_DISABLE_FAILING)
                .await?;
            let after_ms = self.disable_after.as_millis() as i64;
            let disabled = tx.query(&disable, &[&failing, &after_ms]).await?;
            for row in &disabled {
                let id: Uuid = row.get(0);
                tracing::warn!(subscription_id = %id, "subscription deactivated after failing too long");
                disabled_ids.push(id);
            }
            self.metrics
                .subscriptions_disabled
                .with_label_values(&["failing"])
                .inc_by(disabled.len() as u64);
        }
        let (gone, reasons): (Vec<Uuid>, Vec<String>) = batch
            .iter()
            .filter_map(|f| Some((f.subscription_id, f.outcome.deactivate.clone()?)))
            .unzip();
        if !gone.is_empty() {
            let deactivate = tx.prepare_cached(sql::SUBSCRIPTIONS_DEACTIVATE).await?;
            let rows = tx.query(&deactivate, &[&gone, &reasons]).await?;
            self.metrics
                .subscriptions_disabled
                .with_label_values(&["gone"])
                .inc_by(rows.len() as u64);
            disabled_ids.extend(rows.iter().map(|r| r.get::<_, Uuid>(0)));
        }
        if let Some(rules) = &self.notify {
            let facts = notify::BatchFacts::of(batch, disabled_ids);
            notify::after_batch(&tx, &facts, rules, Utc::now()).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The batch as the parallel column arrays of `jobs_finish.sql`, sorted by
/// job id (the statement finds each job's result by binary search).
struct Columns {
    job_ids: Vec<i64>,
    attempts: Vec<i32>,
    statuses: Vec<&'static str>,
    codes: Vec<Option<i32>>,
    latencies: Vec<Option<i32>>,
    messages: Vec<Option<String>>,
    attempted_at: Vec<DateTime<Utc>>,
    retry_at: Vec<Option<DateTime<Utc>>>,
    envelope_logged: Vec<bool>,
    /// Time-ordered (UUIDv7), so the log's primary key grows at its end.
    row_ids: Vec<Uuid>,
}

impl Columns {
    fn of(batch: &[Finished]) -> Columns {
        let mut batch: Vec<&Finished> = batch.iter().collect();
        batch.sort_unstable_by_key(|f| f.job_id);
        Columns {
            job_ids: batch.iter().map(|f| f.job_id).collect(),
            attempts: batch.iter().map(|f| f.attempt).collect(),
            statuses: batch.iter().map(|f| f.outcome.status.as_str()).collect(),
            codes: batch.iter().map(|f| f.outcome.response_code).collect(),
            latencies: batch.iter().map(|f| f.latency_ms).collect(),
            messages: batch
                .iter()
                .map(|f| f.outcome.error_message.clone())
                .collect(),
            attempted_at: batch.iter().map(|f| f.attempted_at).collect(),
            retry_at: batch.iter().map(|f| f.outcome.retry_at).collect(),
            envelope_logged: batch.iter().map(|f| f.envelope_logged).collect(),
            row_ids: batch.iter().map(|_| Uuid::now_v7()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::attempt::AttemptKind;
    use crate::delivery::outcome::Outcome;

    fn finished(job_id: i64, attempt: i32, code: i32) -> Finished {
        Finished {
            job_id,
            event_id: Uuid::now_v7(),
            attempt,
            subscription_id: Uuid::nil(),
            envelope_logged: false,
            attempted_at: Utc::now(),
            latency_ms: Some(1),
            outcome: Outcome {
                status: LogStatus::Delivered,
                response_code: Some(code),
                error_message: None,
                retry_at: None,
                deactivate: None,
            },
            counts_for_health: true,
            kind: AttemptKind::Delivered,
            duration: Duration::from_millis(1),
        }
    }

    #[test]
    fn columns_are_sorted_by_job_id_and_stay_parallel() {
        // jobs_finish.sql finds each job's values by binary search on $1.
        let batch = [
            finished(30, 1, 201),
            finished(10, 2, 202),
            finished(20, 3, 203),
        ];
        let cols = Columns::of(&batch);
        assert_eq!(cols.job_ids, [10, 20, 30]);
        assert_eq!(cols.attempts, [2, 3, 1]);
        assert_eq!(cols.codes, [Some(202), Some(203), Some(201)]);
    }
}
