//! A fast receiver that verifies every signature (with the SDK's verifier,
//! as a consumer would) and records when each event's row (by `data.id`)
//! arrived, and, for the fan-out scenario, how many times each path (one per
//! subscription) received each event. Paths under `/hang` never answer (a
//! receiver that hangs).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use ihf_sdk::webhooks::{Secret, Verifier};
use tokio::sync::Notify;

#[derive(Default)]
pub struct Received {
    pub verified: AtomicU64,
    pub rejected: AtomicU64,
    /// row id → first receipt.
    pub arrivals: Mutex<HashMap<String, Instant>>,
    pub last: Mutex<Option<Instant>>,
    pub changed: Notify,
    /// Whether to count per path and event (costs memory per delivery).
    pub count_paths: bool,
    /// path → verified deliveries.
    pub per_path: Mutex<HashMap<String, u64>>,
    /// (path, webhook-id) pairs seen, to count duplicates.
    pub seen: Mutex<HashSet<(String, String)>>,
    pub duplicates: AtomicU64,
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Arc<Received>,
}

impl Receiver {
    pub async fn start(secret: Secret) -> anyhow::Result<Receiver> {
        Self::start_with(secret, false).await
    }

    /// A receiver that also counts deliveries per path and event.
    pub async fn start_counting(secret: Secret) -> anyhow::Result<Receiver> {
        Self::start_with(secret, true).await
    }

    async fn start_with(secret: Secret, count_paths: bool) -> anyhow::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let received = Arc::new(Received {
            count_paths,
            ..Received::default()
        });
        let state = received.clone();
        let verifier = Arc::new(Verifier::new(secret));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (state, verifier) = (state.clone(), verifier.clone());
                tokio::spawn(async move {
                    let service =
                        service_fn(move |req| handle(req, state.clone(), verifier.clone()));
                    let _ = Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Receiver { addr, received })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The base URL; append a path (`/hook/17`, `/hang/3`).
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until `n` verified deliveries arrived; returns when the last did.
    pub async fn wait_for(&self, n: u64, timeout: std::time::Duration) -> anyhow::Result<Instant> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.received.changed.notified();
            if self.received.verified.load(Ordering::Relaxed) >= n {
                return Ok(self
                    .received
                    .last
                    .lock()
                    .unwrap()
                    .expect("a delivery arrived"));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                anyhow::bail!(
                    "only {} of {n} deliveries arrived within {timeout:?}",
                    self.received.verified.load(Ordering::Relaxed)
                );
            }
        }
    }
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    state: Arc<Received>,
    verifier: Arc<Verifier>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    if path.starts_with("/hang") {
        // Hold the request until the client gives up.
        std::future::pending::<()>().await;
    }
    let id = parts
        .headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = body.collect().await?.to_bytes();
    let now = Instant::now();
    if verifier.verify(&parts.headers, &body).is_ok() {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
            if let Some(row) = v["data"]["id"].as_str() {
                state
                    .arrivals
                    .lock()
                    .unwrap()
                    .entry(row.to_string())
                    .or_insert(now);
            }
        }
        if state.count_paths {
            if !state
                .seen
                .lock()
                .unwrap()
                .insert((path.clone(), id.clone()))
            {
                state.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            *state.per_path.lock().unwrap().entry(path).or_default() += 1;
        }
        *state.last.lock().unwrap() = Some(now);
        state.verified.fetch_add(1, Ordering::Relaxed);
    } else {
        state.rejected.fetch_add(1, Ordering::Relaxed);
    }
    state.changed.notify_waiters();
    Ok(Response::builder()
        .status(204)
        .body(Full::new(Bytes::new()))
        .unwrap())
}
