//! The SSRF guard for webhook targets (OWASP SSRF Prevention Cheat Sheet,
//! case 2; OWASP API Security Top 10 2023, API7): which URLs and which
//! resolved addresses we are willing to connect to. Checked when a
//! subscription is created or changed, and again by the delivery client's
//! resolver on every attempt, which then connects to exactly the addresses it
//! checked (so DNS rebinding cannot slip past).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use url::Url;

/// What targets this deployment allows (`IHF_ALLOW_*`) and how long a target's
/// name may take to resolve (`IHF_DNS_TIMEOUT`).
#[derive(Debug, Clone, Copy)]
pub struct TargetPolicy {
    pub allow_private: bool,
    pub allow_http: bool,
    pub dns_timeout: Duration,
}

impl Default for TargetPolicy {
    /// The strict defaults: https only, globally routable addresses only.
    fn default() -> TargetPolicy {
        TargetPolicy {
            allow_private: false,
            allow_http: false,
            dns_timeout: Duration::from_secs(5),
        }
    }
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
    #[error("target host {0} did not resolve within {1:?}")]
    ResolveTimeout(String, Duration),
}

impl TargetPolicy {
    /// The operator's notification URL is trusted configuration: private
    /// and `http://` targets are allowed; link-local is refused as always.
    pub const OPERATOR: TargetPolicy = TargetPolicy {
        allow_private: true,
        allow_http: true,
        dns_timeout: Duration::from_secs(5),
    };

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
        self.resolve_with(host, tokio::net::lookup_host((host, port)))
            .await
    }

    /// [`Self::resolve`] with the lookup given, so that the timeout can be
    /// tested without depending on how fast the host's resolver fails.
    async fn resolve_with<A: Iterator<Item = SocketAddr>>(
        &self,
        host: &str,
        lookup: impl std::future::Future<Output = std::io::Result<A>>,
    ) -> Result<Vec<SocketAddr>, Refusal> {
        let addrs: Vec<SocketAddr> = tokio::time::timeout(self.dns_timeout, lookup)
            .await
            .map_err(|_| Refusal::ResolveTimeout(host.to_string(), self.dns_timeout))?
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

    /// Link-local and cloud metadata are refused always; other non-global
    /// ranges unless private targets are allowed.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        match classify(ip) {
            None => Ok(()),
            Some(Range::Never(why)) => Err(Refusal::AddressNotAllowed(ip, why)),
            Some(Range::Private(_)) if self.allow_private => Ok(()),
            Some(Range::Private(why)) => Err(Refusal::AddressNotAllowed(ip, why)),
        }
    }
}

enum Range {
    /// Never allowed: link-local and the known cloud metadata addresses, and
    /// the transition formats that tunnel to an arbitrary IPv4 address.
    Never(&'static str),
    /// Allowed only with `IHF_ALLOW_PRIVATE_TARGETS=true`.
    Private(&'static str),
}

fn classify(ip: IpAddr) -> Option<Range> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Cloud metadata services outside link-local (which is refused whole):
/// Alibaba Cloud's IPv4 and AWS's IPv6 instance metadata.
const METADATA_V4: [Ipv4Addr; 1] = [Ipv4Addr::new(100, 100, 100, 200)];
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)];

/// Whether `ip` lies in `base/len`.
fn in_v4(ip: Ipv4Addr, base: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(base)) & mask
}

fn in_v6(ip: Ipv6Addr, base: [u16; 8], len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(base)) & mask
}

/// The IANA IPv4 Special-Purpose Address Registry's entries that are not
/// globally reachable (what Rust's unstable `Ipv4Addr::is_global` encodes).
/// `192.0.0.9` and `192.0.0.10` (PCP and TURN anycast) are global, but
/// nobody runs a webhook receiver there: refusing the whole /24 is simpler.
fn classify_v4(ip: Ipv4Addr) -> Option<Range> {
    let private = |why| Some(Range::Private(why));
    if METADATA_V4.contains(&ip) {
        return Some(Range::Never("cloud metadata"));
    }
    if in_v4(ip, [169, 254, 0, 0], 16) {
        return Some(Range::Never("link-local or cloud metadata"));
    }
    const TABLE: [([u8; 4], u32, &str); 16] = [
        ([0, 0, 0, 0], 8, "\"this network\" 0.0.0.0/8"),
        ([10, 0, 0, 0], 8, "private range 10.0.0.0/8"),
        ([100, 64, 0, 0], 10, "shared address space 100.64.0.0/10"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([172, 16, 0, 0], 12, "private range 172.16.0.0/12"),
        ([192, 0, 0, 0], 24, "IETF protocol assignments 192.0.0.0/24"),
        ([192, 0, 2, 0], 24, "documentation TEST-NET-1 192.0.2.0/24"),
        ([192, 31, 196, 0], 24, "AS112 192.31.196.0/24"),
        ([192, 52, 193, 0], 24, "AMT 192.52.193.0/24"),
        (
            [192, 88, 99, 0],
            24,
            "deprecated 6to4 relay anycast 192.88.99.0/24",
        ),
        ([192, 168, 0, 0], 16, "private range 192.168.0.0/16"),
        (
            [192, 175, 48, 0],
            24,
            "direct delegation AS112 192.175.48.0/24",
        ),
        ([198, 18, 0, 0], 15, "benchmarking 198.18.0.0/15"),
        (
            [198, 51, 100, 0],
            24,
            "documentation TEST-NET-2 198.51.100.0/24",
        ),
        (
            [203, 0, 113, 0],
            24,
            "documentation TEST-NET-3 203.0.113.0/24",
        ),
        ([224, 0, 0, 0], 3, "multicast or reserved 224.0.0.0/3"),
    ];
    TABLE
        .iter()
        .find(|(base, len, _)| in_v4(ip, *base, *len))
        .and_then(|(_, _, why)| private(why))
}

/// The IANA IPv6 Special-Purpose Address Registry's entries that are not
/// globally reachable, plus the transition formats that embed an arbitrary
/// IPv4 address (6to4, Teredo, IPv4-compatible, local-use NAT64), which are
/// refused outright: where they lead cannot be checked here.
fn classify_v6(ip: Ipv6Addr) -> Option<Range> {
    let private = |why| Some(Range::Private(why));
    if METADATA_V6.contains(&ip) {
        return Some(Range::Never("cloud metadata"));
    }
    if ip.is_loopback() {
        return private("loopback");
    }
    if ip.is_unspecified() {
        return private("unspecified address");
    }
    // IPv4-mapped (::ffff:0:0/96) and the well-known NAT64 prefix
    // (64:ff9b::/96) lead to their embedded IPv4 address: check that one.
    // A mapped address is never a real target, so it stays private at least.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4).or(private("IPv4-mapped address"));
    }
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        let [.., a, b, c, d] = ip.octets();
        return classify_v4(Ipv4Addr::new(a, b, c, d));
    }
    let never = |why| Some(Range::Never(why));
    const NEVER: [([u16; 8], u32, &str); 5] = [
        ([0, 0, 0, 0, 0, 0, 0, 0], 96, "IPv4-compatible ::/96"),
        (
            [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
            48,
            "local-use NAT64 64:ff9b:1::/48",
        ),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo 2001::/32"),
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4 2002::/16"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local fe80::/10"),
    ];
    if let Some((_, _, why)) = NEVER.iter().find(|(b, l, _)| in_v6(ip, *b, *l)) {
        return never(why);
    }
    // 2001::/23 is IETF protocol assignments; a few of its blocks are global
    // anycast services (AMT, AS112, ORCHIDv2...) that are no webhook target.
    const PRIVATE: [([u16; 8], u32, &str); 7] = [
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only 100::/64"),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "IETF protocol assignments 2001::/23",
        ),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            "documentation 2001:db8::/32",
        ),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation 3fff::/20"),
        (
            [0x5f00, 0, 0, 0, 0, 0, 0, 0],
            16,
            "segment routing 5f00::/16",
        ),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local fc00::/7"),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local fec0::/10"),
    ];
    if let Some((_, _, why)) = PRIVATE.iter().find(|(b, l, _)| in_v6(ip, *b, *l)) {
        return private(why);
    }
    if ip.segments()[0] & 0xff00 == 0xff00 {
        return private("multicast");
    }
    None
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
            // The probe's list (issue 14): special-purpose ranges that were accepted.
            "198.18.0.1",
            "198.19.255.255",
            "192.0.0.1",
            "192.0.0.192",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "::7f00:1",
            "2002:7f00:1::",
            "64:ff9b:1::7f00:1",
            "2001::7f00:1",
            "fec0::1",
            "2001:db8::1",
            "100::1",
            "3fff::1",
            "5f00::1",
            "192.88.99.1",
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
            "64:ff9b::808:808",
            "2a00:1450:4001:81c::200e",
            "198.20.0.1",
            "192.0.3.1",
        ] {
            assert!(!refused(strict(), ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn link_local_stays_refused_when_private_targets_are_allowed() {
        let open = TargetPolicy {
            allow_private: true,
            allow_http: true,
            ..TargetPolicy::default()
        };
        assert!(!refused(open, "127.0.0.1"));
        assert!(!refused(open, "10.1.2.3"));
        assert!(!refused(open, "fd12::1"));
        assert!(refused(open, "169.254.169.254"));
        assert!(refused(open, "fe80::1"));
    }

    #[test]
    fn cloud_metadata_and_ipv4_tunnels_stay_refused_when_private_targets_are_allowed() {
        let open = TargetPolicy {
            allow_private: true,
            allow_http: true,
            ..TargetPolicy::default()
        };
        for ip in [
            "fd00:ec2::254",
            "100.100.100.200",
            "169.254.170.2",
            "64:ff9b::a9fe:a9fe",
            "::ffff:169.254.169.254",
            "::7f00:1",
            "2002:7f00:1::",
            "2001::7f00:1",
            "64:ff9b:1::7f00:1",
        ] {
            assert!(refused(open, ip), "{ip} should be refused");
        }
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
            allow_http: true,
            ..TargetPolicy::default()
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

#[cfg(test)]
mod dns_tests {
    use super::*;

    #[tokio::test]
    async fn resolution_gives_up_after_the_dns_timeout() {
        let policy = TargetPolicy {
            dns_timeout: Duration::from_millis(20),
            ..TargetPolicy::default()
        };
        // A resolver that never answers.
        let never = std::future::pending::<std::io::Result<std::vec::IntoIter<SocketAddr>>>();
        let err = policy.resolve_with("example.com", never).await.unwrap_err();
        assert!(matches!(err, Refusal::ResolveTimeout(..)), "{err:?}");
    }

    #[tokio::test]
    async fn a_resolver_error_is_unresolvable() {
        let policy = TargetPolicy::default();
        let failed = async {
            Err::<std::vec::IntoIter<SocketAddr>, _>(std::io::Error::other("no such host"))
        };
        let err = policy
            .resolve_with("nowhere.test", failed)
            .await
            .unwrap_err();
        assert!(matches!(err, Refusal::Unresolvable(..)), "{err:?}");
    }
}
