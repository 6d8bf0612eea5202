//! The demo's webhook receiver: a real HTTP server on loopback that checks
//! every delivery's Standard Webhooks signature with its subscription's secret,
//! with the SDK's verifier, as a consumer would, and hands what it saw to the
//! tour.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ihf_sdk::webhooks::{self, Headers, Secret};
use tokio::sync::mpsc;

/// One request as the receiver judged it.
#[derive(Debug)]
pub struct Delivery {
    pub event_type: String,
    pub webhook_id: String,
    /// Why the signature was refused, if it was.
    pub verified: Result<(), String>,
    pub data: serde_json::Value,
}

#[derive(Clone)]
struct Shared {
    /// Secret per hook path, filled in as subscriptions are created.
    secrets: Arc<Mutex<HashMap<String, Secret>>>,
    arrived: mpsc::UnboundedSender<Delivery>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Shared,
}

impl Receiver {
    /// Binds 127.0.0.1 on a free port and serves until the process ends.
    pub async fn start() -> std::io::Result<(Receiver, mpsc::UnboundedReceiver<Delivery>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (arrived, deliveries) = mpsc::unbounded_channel();
        let shared = Shared {
            secrets: Arc::default(),
            arrived,
        };
        let app = axum::Router::new()
            .route("/hooks/{hook}", post(receive))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((Receiver { addr, shared }, deliveries))
    }

    /// The target URL for one subscription.
    pub fn url(&self, hook: &str) -> String {
        format!("http://{}/hooks/{hook}", self.addr)
    }

    /// Verify requests to `hook` with `secret` from now on.
    pub fn expect(&self, hook: &str, secret: Secret) {
        self.shared
            .secrets
            .lock()
            .expect("not poisoned")
            .insert(hook.to_string(), secret);
    }
}

async fn receive(
    State(shared): State<Shared>,
    Path(hook): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let secret = shared
        .secrets
        .lock()
        .expect("not poisoned")
        .get(&hook)
        .cloned();
    let verified = match secret {
        Some(secret) => webhooks::verify(&secret, &headers, &body).map_err(|e| e.to_string()),
        None => Err(format!("no subscription uses /hooks/{hook}")),
    };
    let envelope: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let status = if verified.is_ok() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    };
    let _ = shared.arrived.send(Delivery {
        event_type: envelope["type"].as_str().unwrap_or("?").to_string(),
        webhook_id: headers
            .header(webhooks::HEADER_ID)
            .unwrap_or("?")
            .to_string(),
        verified,
        data: envelope["data"].clone(),
    });
    status
}
