//! The doorbell: a dedicated LISTEN connection (not from the pool: a pooled
//! client's connection task swallows notifications) that wakes the dispatcher.
//! NOTIFY is only ever a wake-up; the tables are the record. After every
//! (re)connect the dispatcher is told to sweep, so a NOTIFY lost while the
//! connection was down costs latency, nothing else.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use crate::db::{self, PoolKind};
use crate::metrics::Metrics;

/// The channel the capture trigger notifies.
pub const CHANNEL: &str = "ihf_events";

/// How often an idle listener checks that its connection still answers, so a
/// half-open connection is noticed.
const PING_INTERVAL: Duration = Duration::from_secs(10);
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Shared between the listener and the dispatcher (and `/readyz`).
#[derive(Debug, Default)]
pub struct Doorbell {
    wake: Notify,
    /// Local only: results were recorded, so capped subscriptions may have
    /// room and retries may have become due. Does not touch the waiting mark.
    progress: Notify,
    connected: AtomicBool,
}

impl Doorbell {
    /// Wake the dispatcher; if it is busy, its next wait returns at once.
    pub fn ring(&self) {
        self.wake.notify_one();
    }

    pub async fn rung(&self) {
        self.wake.notified().await
    }

    /// Tell an idle dispatcher to look again (work may have become claimable).
    pub fn nudge(&self) {
        self.progress.notify_one();
    }

    pub async fn nudged(&self) {
        self.progress.notified().await
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}

/// Keeps a LISTEN connection up until `cancel` fires, reconnecting with
/// exponential backoff (backon) whenever it drops.
pub async fn run(
    database_url: String,
    bell: Arc<Doorbell>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) {
    let config = match db::pg_config(&database_url, PoolKind::Worker) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "listener cannot start");
            return;
        }
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times();
    let mut first = true;
    loop {
        let connect = (|| config.connect(NoTls)).retry(backoff.build()).notify(
            |e, delay| tracing::warn!(error = %e, retry_in = ?delay, "listener cannot connect"),
        );
        let (client, mut connection) = tokio::select! {
            _ = cancel.cancelled() => return,
            r = connect => match r {
                Ok(c) => c,
                Err(_) => unreachable!("retries forever"),
            },
        };
        let driver_bell = bell.clone();
        let driver_metrics = metrics.clone();
        let mut driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(_)) => {
                        driver_metrics.notifications.inc();
                        driver_bell.ring();
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
            tracing::warn!(error = %e, "LISTEN failed; reconnecting");
            driver.abort();
            continue;
        }
        bell.connected.store(true, Ordering::Relaxed);
        metrics.listener_connected.set(1);
        if !first {
            metrics.listener_reconnects.inc();
        }
        first = false;
        tracing::info!("listener connected");
        // Anything committed while we were not listening is in the tables.
        bell.ring();
        let reason = loop {
            tokio::select! {
                _ = cancel.cancelled() => {
                    bell.connected.store(false, Ordering::Relaxed);
                    metrics.listener_connected.set(0);
                    driver.abort();
                    return;
                }
                ended = &mut driver => break match ended {
                    Ok(Ok(())) => "connection closed".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                },
                _ = tokio::time::sleep(PING_INTERVAL) => {
                    let ping = tokio::time::timeout(PING_TIMEOUT, client.simple_query("SELECT 1")).await;
                    if !matches!(ping, Ok(Ok(_))) {
                        driver.abort();
                        break "connection stopped answering".to_string();
                    }
                }
            }
        };
        bell.connected.store(false, Ordering::Relaxed);
        metrics.listener_connected.set(0);
        tracing::warn!(reason, "listener disconnected; reconnecting");
    }
}
