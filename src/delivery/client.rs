//! The webhook HTTP client: hyper-util's pooled client over rustls, whose
//! resolver applies the SSRF guard and hands the connector exactly the
//! addresses it checked. Never follows redirects (hyper does not).

use crate::access::sealing::Sealer;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use url::Url;

use crate::delivery::headers::CustomHeaders;
use crate::delivery::ssrf::{Refusal, TargetPolicy};

pub const USER_AGENT_VALUE: &str = concat!("ihf-webhooks/", env!("CARGO_PKG_VERSION"));

/// We read (and discard) at most this much of a response body, so a receiver
/// cannot make us buffer without bound; reading it lets the connection be reused.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// Idle keep-alive connections kept per host (closed after 60 s unused).
const MAX_IDLE_PER_HOST: usize = 1024;

/// A resolver that refuses names resolving to addresses the policy forbids.
#[derive(Clone)]
struct GuardedResolver {
    policy: TargetPolicy,
}

impl tower::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Refusal;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Refusal>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Refusal>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy;
        Box::pin(async move {
            // The connector replaces port 0 with the URL's port.
            Ok(policy.resolve(name.as_str(), 0).await?.into_iter())
        })
    }
}

/// What a receiver answered.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    /// `Retry-After` in seconds (delta or HTTP-date), when given.
    pub retry_after: Option<Duration>,
}

/// Why an attempt got no HTTP answer, in words for the consumer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Refused(Refusal),
    #[error("timed out after {}", crate::config::human_duration(*.0))]
    Timeout(Duration),
    #[error("connection refused")]
    ConnectionRefused,
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    #[error("connection failed: {0}")]
    Connection(String),
}

/// Shared by every attempt of a replica; clones share the connection pool.
#[derive(Clone)]
pub struct WebhookClient {
    client: Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>,
    policy: TargetPolicy,
    timeout: Duration,
    /// Unseals the stored secrets the attempts are signed with.
    sealer: Sealer,
}

/// The headers of one signed attempt.
pub struct SignedRequest<'a> {
    pub url: &'a Url,
    pub webhook_id: &'a str,
    pub timestamp: i64,
    pub signature: &'a str,
    pub body: Bytes,
    /// The subscription's custom headers (none of them reserved).
    pub headers: &'a CustomHeaders,
}

impl WebhookClient {
    pub fn new(policy: TargetPolicy, timeout: Duration) -> WebhookClient {
        let mut http = HttpConnector::new_with_resolver(GuardedResolver { policy });
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout.min(Duration::from_secs(5))));
        http.set_nodelay(true);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            // Every attempt may go to one host (all subscriptions to one
            // receiver); fewer idle connections than attempts in flight would
            // close and reopen connections on every round.
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .build(https);
        WebhookClient {
            client,
            policy,
            timeout,
            sealer: Sealer::default(),
        }
    }

    /// The same client, unsealing stored secrets with `sealer`.
    pub fn with_sealer(mut self, sealer: Sealer) -> WebhookClient {
        self.sealer = sealer;
        self
    }

    pub fn policy(&self) -> TargetPolicy {
        self.policy
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// POSTs one signed webhook. The URL was checked by the caller; DNS
    /// answers are checked by the resolver. The whole exchange is bounded by
    /// the delivery timeout.
    pub async fn send(&self, req: SignedRequest<'_>) -> Result<Response, SendError> {
        let mut request = Request::post(req.url.as_str());
        for (name, value) in req.headers.iter() {
            request = request.header(name, value);
        }
        let request = request
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE))
            .header("webhook-id", req.webhook_id)
            .header("webhook-timestamp", req.timestamp.to_string())
            .header("webhook-signature", req.signature)
            .body(Full::new(req.body))
            .map_err(|e| SendError::Connection(e.to_string()))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(classify)?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            // Drain a bounded amount so the connection can go back to the pool.
            let _ = Limited::new(response.into_body(), MAX_RESPONSE_BODY)
                .collect()
                .await;
            Ok(Response {
                status,
                retry_after,
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(SendError::Timeout(self.timeout)),
        }
    }
}

/// Turns a client error into words: walk the cause chain for what we know.
fn classify(err: hyper_util::client::legacy::Error) -> SendError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut innermost = err.to_string();
    while let Some(e) = source {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return SendError::Refused(refusal.clone());
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return SendError::ConnectionRefused;
            }
            if io.kind() == std::io::ErrorKind::TimedOut {
                return SendError::Connection("connect timed out".into());
            }
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return SendError::Tls(tls.to_string());
        }
        innermost = e.to_string();
        source = e.source();
    }
    SendError::Connection(innermost)
}

/// `Retry-After: <seconds>` or `Retry-After: <HTTP-date>`.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let d = parse_retry_after(&later).unwrap();
        assert!(
            d > Duration::from_secs(80) && d <= Duration::from_secs(90),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
