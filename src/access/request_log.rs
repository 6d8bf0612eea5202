//! `api_request_log`, written off the request path: requests hand their entry
//! to a bounded channel, and one task writes what has gathered in batches (one
//! statement per batch). On shutdown the task writes everything still queued
//! before it returns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::sql;

/// Entries waiting to be written; past this (the database has been away for a
/// while) new entries are dropped and counted rather than blocking requests.
const QUEUE: usize = 50_000;
/// Rows per statement.
const BATCH: usize = 1_000;
/// How often queued entries are written.
const INTERVAL: Duration = Duration::from_millis(200);

/// One request, as logged.
#[derive(Debug, Clone)]
pub struct Entry {
    pub consumer_id: Uuid,
    /// The route template (`/api/v2/webhooks/{id}`), never the raw path.
    pub endpoint: String,
    pub method: String,
    pub status: u16,
    pub latency_ms: i32,
    pub at: DateTime<Utc>,
}

/// The sending half, cloned into every request's state.
#[derive(Debug, Clone)]
pub struct RequestLog {
    tx: mpsc::Sender<Entry>,
    dropped: Arc<AtomicU64>,
}

impl RequestLog {
    /// The log and the receiving half for [`run`].
    pub fn new() -> (RequestLog, mpsc::Receiver<Entry>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let log = RequestLog {
            tx,
            dropped: Arc::default(),
        };
        (log, rx)
    }

    /// Queues an entry without waiting.
    pub fn record(&self, entry: Entry) {
        if self.tx.try_send(entry).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // 1, 2, 4, 8, …: visible without flooding the log.
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "request log queue full; entries dropped");
            }
        }
    }
}

/// Writes queued entries every [`INTERVAL`] until `stop`, then writes what is
/// left (including entries queued by requests that finished meanwhile).
pub async fn run(pool: Pool, mut rx: mpsc::Receiver<Entry>, stop: CancellationToken) {
    let mut buffer: Vec<Entry> = Vec::new();
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = stop.cancelled() => true,
            _ = tick.tick() => false,
        };
        while buffer.len() < QUEUE {
            match rx.try_recv() {
                Ok(entry) => buffer.push(entry),
                Err(_) => break,
            }
        }
        if stopping {
            break;
        }
        if let Err(e) = write(&pool, &mut buffer).await {
            tracing::warn!(error = %format_args!("{e:#}"), queued = buffer.len(), "could not write the request log; will retry");
        }
    }
    // Final flush: a few tries, so a brief database hiccup at shutdown costs nothing.
    for attempt in 1..=3 {
        let Err(e) = write(&pool, &mut buffer).await else {
            return;
        };
        if attempt == 3 {
            tracing::error!(error = %format_args!("{e:#}"), lost = buffer.len(), "request log entries lost at shutdown");
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Writes `buffer` in batches, removing what was written.
async fn write(pool: &Pool, buffer: &mut Vec<Entry>) -> anyhow::Result<()> {
    if buffer.is_empty() {
        return Ok(());
    }
    let client = pool.get().await?;
    let stmt = client.prepare_cached(sql::REQUEST_LOG_INSERT).await?;
    while !buffer.is_empty() {
        let n = buffer.len().min(BATCH);
        let batch = &buffer[..n];
        let consumers: Vec<Uuid> = batch.iter().map(|e| e.consumer_id).collect();
        let endpoints: Vec<&str> = batch.iter().map(|e| e.endpoint.as_str()).collect();
        let methods: Vec<&str> = batch.iter().map(|e| e.method.as_str()).collect();
        let statuses: Vec<i32> = batch.iter().map(|e| i32::from(e.status)).collect();
        let latencies: Vec<i32> = batch.iter().map(|e| e.latency_ms).collect();
        let times: Vec<DateTime<Utc>> = batch.iter().map(|e| e.at).collect();
        client
            .execute(
                &stmt,
                &[
                    &consumers, &endpoints, &methods, &statuses, &latencies, &times,
                ],
            )
            .await?;
        buffer.drain(..n);
    }
    Ok(())
}
