//! The doorbell: a dedicated LISTEN connection (not from the pool: a pooled
//! client's connection task swallows notifications) that wakes the dispatcher.
//! NOTIFY is only ever a wake-up; the tables are the record. After every
//! (re)connect the dispatcher is told to sweep, so a NOTIFY lost while the
//! connection was down costs latency, nothing else.
//!
//! The same connection holds the bell-push: while the dispatcher is idle it
//! holds the advisory lock [`DOORBELL_LOCK`] exclusively, and the capture
//! trigger only notifies when it cannot get that lock shared (see
//! `migrations/V7__advisory_doorbell.sql`). The lock lives and dies with this
//! connection, so a replica that crashes or loses it stops the ringing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, NoTls};
use tokio_util::sync::CancellationToken;

use crate::db::{self, PoolKind};
use crate::metrics::Metrics;

/// `application_name` of the LISTEN connection.
pub const LISTENER_APPLICATION_NAME: &str = "ihf-webhooks-listener";

/// The channel the capture trigger notifies.
pub const CHANNEL: &str = "ihf_events";

/// How often an idle listener checks that its connection still answers, so a
/// half-open connection is noticed.
const PING_INTERVAL: Duration = Duration::from_secs(10);
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory lock (two int4 keys) whose holder waits for the doorbell:
/// `hashtext('ihf_webhooks.doorbell')`, 1. The capture trigger names it too.
pub const DOORBELL_LOCK: (i32, i32) = (-1_732_109_582, 1);
/// How long taking the lock may wait: for writers' transactions that already
/// hold it shared to commit (sub-millisecond), or, when it runs out, because
/// another replica holds it (it rings for everyone; we hear the same NOTIFY).
const ARM_TIMEOUT: &str = "50ms";

/// What asking for the doorbell came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arming {
    /// This replica holds the lock: the next commit rings.
    Armed,
    /// Another replica holds it: its doorbell rings for us too (every
    /// replica listens), the poll is the backstop.
    Elsewhere,
    /// Nobody holds it, but writers' transactions held it shared for longer
    /// than the arming timeout (a long transaction that inserted, or a slow
    /// start): ask again soon, looking for work meanwhile.
    Contended,
    /// No listener connection: only the poll wakes us.
    Unavailable,
}

/// Shared between the listener and the dispatcher (and `/readyz`).
#[derive(Debug, Default)]
pub struct Doorbell {
    wake: Notify,
    /// Local only: results were recorded, so capped subscriptions may have
    /// room and retries may have become due. Does not touch the doorbell lock.
    progress: Notify,
    /// The listener's connection while it is up (for taking and releasing
    /// the lock, and for `/readyz`).
    session: Mutex<Option<Arc<Client>>>,
    /// Whether this replica holds the lock on the current session.
    armed: AtomicBool,
    /// Whether the dispatcher has, since the listener connected, either
    /// armed the doorbell and looked once more, or learnt that it need not
    /// (busy, another replica armed, or retrying a contended lock): from then
    /// on a new event is noticed without waiting for the backstop poll.
    /// `/readyz` waits for it.
    watching: AtomicBool,
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
        self.session.lock().unwrap().is_some()
    }

    /// Whether this replica holds the doorbell lock (the next commit rings).
    pub fn is_armed(&self) -> bool {
        self.armed.load(Ordering::Acquire)
    }

    /// Called by the dispatcher once a new event cannot go unnoticed.
    pub fn watching(&self) {
        if self.is_connected() {
            self.watching.store(true, Ordering::Release);
        }
    }

    /// Connected, and the dispatcher watches (see [`Doorbell::watching`]).
    pub fn is_watching(&self) -> bool {
        self.is_connected() && self.watching.load(Ordering::Acquire)
    }

    /// Ask to be rung on the next commit: take the doorbell lock. The caller
    /// must look for work once more after `Armed`: a writer that committed
    /// before the lock was granted did not ring.
    pub async fn arm(&self) -> Arming {
        if self.armed.load(Ordering::Acquire) {
            return Arming::Armed;
        }
        let Some(session) = self.session() else {
            return Arming::Unavailable;
        };
        let (class, object) = DOORBELL_LOCK;
        match session
            .simple_query(&format!("SELECT pg_advisory_lock({class}, {object})"))
            .await
        {
            Ok(_) => {
                self.armed.store(true, Ordering::Release);
                Arming::Armed
            }
            Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                if held_by_another_session(&session).await {
                    Arming::Elsewhere
                } else {
                    Arming::Contended
                }
            }
            Err(e) => {
                tracing::debug!(error = %db::describe(&e), "cannot take the doorbell lock");
                Arming::Unavailable
            }
        }
    }

    /// Busy again: stop the framework's writers from ringing.
    pub async fn disarm(&self) {
        if !self.armed.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Some(session) = self.session() {
            let (class, object) = DOORBELL_LOCK;
            let unlock = format!("SELECT pg_advisory_unlock({class}, {object})");
            if let Err(e) = session.simple_query(&unlock).await {
                // The connection is failing; the lock goes with it.
                tracing::debug!(error = %db::describe(&e), "cannot release the doorbell lock");
            }
        }
    }

    fn session(&self) -> Option<Arc<Client>> {
        self.session.lock().unwrap().clone()
    }

    fn connected_with(&self, session: Option<Arc<Client>>) {
        // A new session holds no lock; an old one's lock died with it.
        self.armed.store(false, Ordering::Release);
        self.watching.store(false, Ordering::Release);
        *self.session.lock().unwrap() = session;
    }
}

/// Whether another session (another replica's listener) holds the doorbell
/// lock exclusively, as opposed to writers holding it shared for too long.
async fn held_by_another_session(session: &Client) -> bool {
    let (class, object) = DOORBELL_LOCK;
    // Advisory locks on two int4 keys show as classid/objid (unsigned) with objsubid 2.
    let query = format!(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' AND granted \
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND classid = ({class}::bigint & 4294967295)::oid \
           AND objid = ({object}::bigint & 4294967295)::oid AND objsubid = 2"
    );
    match session.simple_query(&query).await {
        Ok(messages) => messages
            .iter()
            .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_))),
        Err(_) => true,
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
        Ok(mut c) => {
            // Tells operators (pg_stat_activity) which connection holds the doorbell lock.
            c.application_name(LISTENER_APPLICATION_NAME);
            c
        }
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
            |e, delay| tracing::warn!(error = %db::describe(e), retry_in = ?delay, "listener cannot connect"),
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
        let setup = format!("SET lock_timeout = '{ARM_TIMEOUT}'; LISTEN {CHANNEL}");
        if let Err(e) = client.batch_execute(&setup).await {
            tracing::warn!(error = %db::describe(&e), "LISTEN failed; reconnecting");
            driver.abort();
            continue;
        }
        let client = Arc::new(client);
        bell.connected_with(Some(client.clone()));
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
                    bell.connected_with(None);
                    metrics.listener_connected.set(0);
                    driver.abort();
                    return;
                }
                ended = &mut driver => break match ended {
                    Ok(Ok(())) => "connection closed".to_string(),
                    Ok(Err(e)) => db::describe(&e),
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
        bell.connected_with(None);
        metrics.listener_connected.set(0);
        tracing::warn!(reason, "listener disconnected; reconnecting");
    }
}
