//! A fast receiver that verifies every signature (with the SDK's verifier,
//! as a consumer would) and records when each event's row (by `data.id`)
//! arrived.

use std::collections::HashMap;
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
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Arc<Received>,
}

impl Receiver {
    pub async fn start(secret: Secret) -> anyhow::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let received = Arc::new(Received::default());
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
