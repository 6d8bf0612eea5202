//! `ihf-webhooks healthcheck`: asks our own `/readyz` whether this replica is
//! ready, for container health checks (Docker `HEALTHCHECK`), where no curl is
//! installed. Reads only `IHF_LISTEN` ([`config::listen_from_env`]), so it
//! works without `DATABASE_URL`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use http::Method;

use crate::cli::loopback;
use crate::config;

const TIMEOUT: Duration = Duration::from_secs(3);

/// Where to reach the HTTP side bound to `listen`: a wildcard address
/// (`0.0.0.0`, `::`) is not something to connect to, so ask loopback.
pub fn target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Ok with `/readyz`'s JSON body if it answered 200; otherwise an error saying
/// what it answered (or why it could not be asked).
pub async fn run() -> anyhow::Result<serde_json::Value> {
    let url = format!("http://{}/readyz", target(config::listen_from_env()?));
    let (status, body) = loopback::request(Method::GET, &url, None, None, TIMEOUT)
        .await
        .map_err(|e| anyhow::anyhow!("{url}: {e:#}"))?;
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() {
        anyhow::bail!("{url} answered {status}: {}", text.trim());
    }
    Ok(serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({ "status": text })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_addresses_are_reached_on_loopback() {
        let t = |s: &str| target(s.parse().unwrap()).to_string();
        assert_eq!(t("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(t("[::]:9000"), "[::1]:9000");
        assert_eq!(t("10.1.2.3:8080"), "10.1.2.3:8080");
    }
}
