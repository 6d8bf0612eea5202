//! A minimal HTTP/1 client for talking to our own HTTP side over plain HTTP
//! (`healthcheck`, `demo`). Deliveries use `delivery::client`, which carries
//! the SSRF guard and TLS; this one is only ever pointed at ourselves.

use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Sends one request and reads the whole answer, all within `timeout`.
/// With `json`, the body is sent as `application/json`.
pub async fn request(
    method: Method,
    url: &str,
    bearer: Option<&str>,
    json: Option<&serde_json::Value>,
    timeout: Duration,
) -> anyhow::Result<(StatusCode, Bytes)> {
    // No idle connections kept: one left open would hold up the server's
    // graceful shutdown.
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http();
    let mut builder = Request::builder().method(method).uri(url);
    if let Some(key) = bearer {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    let body = match json {
        Some(value) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(value)?)
        }
        None => Bytes::new(),
    };
    let request = builder.body(Full::new(body))?;
    let exchange = async {
        let response = client.request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, body))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("no answer from {url} within {timeout:?}"))?
}
