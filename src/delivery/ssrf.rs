//! The SSRF guard for webhook targets (OWASP SSRF Prevention Cheat Sheet,
//! case 2; OWASP API Security Top 10 2023, API7): which URLs and which
//! resolved addresses we are willing to connect to. Checked when a
//! subscription is created or changed, and again by the delivery client's
//! resolver on every attempt, which then connects to exactly the addresses it
//! checked (so DNS rebinding cannot slip past).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::Url;

/// What targets this deployment allows (`IHF_ALLOW_*`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TargetPolicy {
    pub allow_private: bool,
    pub allow_http: bool,
}

/// Why a target was refused, in words for the consumer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("target_url is not a valid absolute URL")]
    Invalid,
    #[error("target_url must use https")]
    SchemeNotAllowed,
    #[error("target_url must not contain a username or password")]
    UserInfo,
    #[error("target_url has no host")]
    NoHost,
    #[error("target address {0} is not allowed ({1})")]
    AddressNotAllowed(IpAddr, &'static str),
    #[error("target host {0} could not be resolved")]
    Unresolvable(String),
}

impl TargetPolicy {
    /// Checks a URL's form: scheme, no userinfo, a host; an IP literal host is
    /// checked as an address too (DNS names are checked when resolved).
    pub fn check_url(&self, text: &str) -> Result<Url, Refusal> {
        let url = Url::parse(text).map_err(|_| Refusal::Invalid)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            _ => return Err(Refusal::SchemeNotAllowed),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::UserInfo);
        }
        match url.host() {
            None => return Err(Refusal::NoHost),
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip))?,
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip))?,
            Some(url::Host::Domain(_)) => {}
        }
        Ok(url)
    }

    /// Checks a URL and resolves its host, refusing if any address is not allowed.
    pub async fn check_target(&self, text: &str) -> Result<Url, Refusal> {
        let url = self.check_url(text)?;
        if let Some(url::Host::Domain(host)) = url.host() {
            let port = url.port_or_known_default().unwrap_or(443);
            self.resolve(host, port).await?;
        }
        Ok(url)
    }

    /// Resolves every A and AAAA record of `host`; all must be allowed.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refusal> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| Refusal::Unresolvable(host.to_string()))?
            .collect();
        if addrs.is_empty() {
            return Err(Refusal::Unresolvable(host.to_string()));
        }
        for addr in &addrs {
            self.check_ip(addr.ip())?;
        }
        Ok(addrs)
    }

    /// Link-local is refused always; other non-global ranges unless allowed.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        match classify(ip) {
            None => Ok(()),
            Some(Range::LinkLocal(why)) => Err(Refusal::AddressNotAllowed(ip, why)),
            Some(Range::Private(_)) if self.allow_private => Ok(()),
            Some(Range::Private(why)) => Err(Refusal::AddressNotAllowed(ip, why)),
        }
    }
}

enum Range {
    /// Never allowed: link-local, which includes cloud metadata endpoints.
    LinkLocal(&'static str),
    /// Allowed only with `IHF_ALLOW_PRIVATE_TARGETS=true`.
    Private(&'static str),
}

fn classify(ip: IpAddr) -> Option<Range> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Range> {
    let [a, b, ..] = ip.octets();
    let private = |why| Some(Range::Private(why));
    match (a, b) {
        (169, 254) => Some(Range::LinkLocal("link-local or cloud metadata")),
        (0, _) => private("\"this network\" 0.0.0.0/8"),
        (10, _) => private("private range 10.0.0.0/8"),
        (100, 64..=127) => private("shared address space 100.64.0.0/10"),
        (127, _) => private("loopback"),
        (172, 16..=31) => private("private range 172.16.0.0/12"),
        (192, 168) => private("private range 192.168.0.0/16"),
        (224..=239, _) => private("multicast"),
        (240..=255, _) => private("reserved 240.0.0.0/4"),
        _ => None,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Range> {
    let seg = ip.segments();
    let private = |why| Some(Range::Private(why));
    if ip.is_loopback() {
        return private("loopback");
    }
    if ip.is_unspecified() {
        return private("unspecified address");
    }
    // IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) carry an IPv4
    // address: name it when it is itself refused; refuse the range regardless,
    // since it is a way around a check made on IPv4 addresses alone.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4).or(Some(Range::Private("IPv4-mapped address")));
    }
    if seg[0..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        );
        return classify_v4(v4).or(Some(Range::Private("NAT64 address")));
    }
    match seg[0] {
        s if s & 0xffc0 == 0xfe80 => Some(Range::LinkLocal("link-local fe80::/10")),
        s if s & 0xfe00 == 0xfc00 => private("unique local fc00::/7"),
        s if s & 0xff00 == 0xff00 => private("multicast"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> TargetPolicy {
        TargetPolicy::default()
    }

    fn refused(policy: TargetPolicy, ip: &str) -> bool {
        policy.check_ip(ip.parse().unwrap()).is_err()
    }

    #[test]
    fn refuses_every_non_global_range_by_default() {
        for ip in [
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
        ] {
            assert!(refused(strict(), ip), "{ip} should be refused");
        }
    }

    #[test]
    fn allows_global_addresses() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.0.1",
            "172.32.0.1",
            "2606:4700::1111",
        ] {
            assert!(!refused(strict(), ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn link_local_stays_refused_when_private_targets_are_allowed() {
        let open = TargetPolicy {
            allow_private: true,
            allow_http: true,
        };
        assert!(!refused(open, "127.0.0.1"));
        assert!(!refused(open, "10.1.2.3"));
        assert!(refused(open, "169.254.169.254"));
        assert!(refused(open, "fe80::1"));
    }

    #[test]
    fn url_form_is_checked() {
        let p = strict();
        assert_eq!(
            p.check_url("http://example.com/").unwrap_err(),
            Refusal::SchemeNotAllowed
        );
        assert_eq!(
            p.check_url("ftp://example.com/").unwrap_err(),
            Refusal::SchemeNotAllowed
        );
        assert_eq!(
            p.check_url("https://u:p@example.com/").unwrap_err(),
            Refusal::UserInfo
        );
        assert_eq!(p.check_url("not a url").unwrap_err(), Refusal::Invalid);
        assert!(matches!(
            p.check_url("https://[::1]:8443/hook").unwrap_err(),
            Refusal::AddressNotAllowed(..)
        ));
        assert!(p.check_url("https://example.com/hook").is_ok());
        let http = TargetPolicy {
            allow_private: false,
            allow_http: true,
        };
        assert!(http.check_url("http://example.com/").is_ok());
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let err = strict()
            .check_target("https://localhost:9/hook")
            .await
            .unwrap_err();
        assert!(matches!(err, Refusal::AddressNotAllowed(..)), "{err:?}");
    }
}
