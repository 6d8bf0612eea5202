//! The demo's webhook receiver: a real HTTP server on loopback that checks
//! every delivery's Standard Webhooks signature with its subscription's secret,
//! as a consumer would, and hands what it saw to the tour.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use subtle::ConstantTimeEq;
use tokio::sync::mpsc;

use crate::delivery::signing::WebhookSecret;

/// Standard Webhooks' replay window.
const TOLERANCE_SECS: i64 = 5 * 60;

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
    secrets: Arc<Mutex<HashMap<String, WebhookSecret>>>,
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
    pub fn expect(&self, hook: &str, secret: WebhookSecret) {
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
        Some(secret) => verify(&secret, &headers, &body, chrono::Utc::now().timestamp()),
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
        webhook_id: header(&headers, "webhook-id").unwrap_or("?").to_string(),
        verified,
        data: envelope["data"].clone(),
    });
    status
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Standard Webhooks verification: the timestamp is within the tolerance and
/// one of the `v1,` signatures is the HMAC of `{id}.{timestamp}.{body}`.
pub fn verify(
    secret: &WebhookSecret,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), String> {
    let get = |name: &str| header(headers, name).ok_or_else(|| format!("no {name} header"));
    let id = get("webhook-id")?;
    let timestamp: i64 = get("webhook-timestamp")?
        .parse()
        .map_err(|_| "webhook-timestamp is not a number".to_string())?;
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err("webhook-timestamp is outside the ±5 min tolerance".into());
    }
    let expected = secret.sign(id, timestamp, body);
    let matches = get("webhook-signature")?
        .split(' ')
        .any(|item| bool::from(item.as_bytes().ct_eq(expected.as_bytes())));
    if matches {
        Ok(())
    } else {
        Err("no signature matches the subscription's secret".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(secret: &WebhookSecret, ts: i64, body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", "evt_1".parse().unwrap());
        h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
        let other = WebhookSecret::generate().sign("evt_1", ts, body);
        let sig = format!("{other} {}", secret.sign("evt_1", ts, body));
        h.insert("webhook-signature", sig.parse().unwrap());
        h
    }

    #[test]
    fn accepts_a_good_signature_among_several_and_refuses_tampering() {
        let secret = WebhookSecret::generate();
        let now = 1_700_000_000;
        let headers = signed(&secret, now, b"{}");
        assert_eq!(verify(&secret, &headers, b"{}", now + 10), Ok(()));
        assert!(verify(&secret, &headers, b"{ }", now).is_err());
        assert!(verify(&WebhookSecret::generate(), &headers, b"{}", now).is_err());
        assert!(verify(&secret, &headers, b"{}", now + 301)
            .unwrap_err()
            .contains("tolerance"));
    }
}
