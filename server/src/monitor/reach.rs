//! Where a domain admin may point their primary — and so the probe their
//! *Tester la connexion* button runs, and the queue's deliveries: a host
//! whose every address is public, on a mail port (25, 465, 587, 2525).
//! Loopback, link-local and private networks, and other ports, only when
//! an operator allows them for the domain (`continuity domain primary-allow`).
//! Without this rule the button would be a port scanner of the service's
//! own network. Operators are not bound by it.
//!
//! Pure but [`resolve_checked`], which asks the system resolver once and
//! returns the addresses it checked, so that a test connects to exactly
//! those (no second lookup for a rebinding name to answer differently).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;

/// The ports a mail server listens on.
pub const MAIL_PORTS: [u16; 4] = [25, 465, 587, 2525];

/// What an operator allows a domain's admins beyond public addresses and
/// [`MAIL_PORTS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrimaryAllowance {
    pub networks: Vec<IpNet>,
    pub ports: Vec<u16>,
}

impl PrimaryAllowance {
    /// From their stored text (space-separated).
    pub fn parse(networks: &str, ports: &str) -> Result<PrimaryAllowance, String> {
        let mut a = PrimaryAllowance::default();
        for n in networks.split([' ', ',', '\n']).filter(|s| !s.is_empty()) {
            let net = match n.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => IpNet::from(
                    n.parse::<IpAddr>()
                        .map_err(|_| format!("{n:?} is not an IP address or network"))?,
                ),
            };
            if !a.networks.contains(&net) {
                a.networks.push(net);
            }
        }
        for p in ports.split([' ', ',', '\n']).filter(|s| !s.is_empty()) {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("{p:?} is not a port"))?;
            if !a.ports.contains(&port) {
                a.ports.push(port);
            }
        }
        Ok(a)
    }

    pub fn networks_text(&self) -> String {
        let v: Vec<String> = self.networks.iter().map(IpNet::to_string).collect();
        v.join(" ")
    }

    pub fn ports_text(&self) -> String {
        let v: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        v.join(" ")
    }
}

/// Why a primary is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "port {0} is not a mail port (25, 465, 587, 2525); an operator may allow it for this domain"
    )]
    Port(u16),
    #[error("{ip} is a {kind} address; an operator may allow its network for this domain")]
    Address { ip: IpAddr, kind: &'static str },
    #[error("{0} does not resolve to an address")]
    Unresolved(String),
}

/// Addresses no allowance makes a primary.
fn never(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if o[0] == 0 {
                Some("unspecified")
            } else if v4.is_multicast() {
                Some("multicast")
            } else if o[0] >= 240 {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

/// The kind of a non-public address, `None` for a public one.
pub fn restricted_kind(ip: IpAddr) -> Option<&'static str> {
    if let Some(k) = never(ip) {
        return Some(k);
    }
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_kind(v4).or(never(IpAddr::V4(v4))),
            None => v6_kind(v6),
        },
    }
}

fn v4_kind(v4: Ipv4Addr) -> Option<&'static str> {
    let o = v4.octets();
    if v4.is_loopback() {
        Some("loopback")
    } else if v4.is_link_local() {
        Some("link-local")
    } else if v4.is_private()
        // RFC 6598 shared address space (carrier-grade NAT)
        || (o[0] == 100 && (64..128).contains(&o[1]))
        // RFC 2544 benchmarking
        || (o[0] == 198 && (18..20).contains(&o[1]))
    {
        Some("private")
    } else {
        None
    }
}

fn v6_kind(v6: Ipv6Addr) -> Option<&'static str> {
    let s = v6.segments();
    if v6.is_loopback() {
        Some("loopback")
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some("link-local")
    } else if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 {
        // unique local (RFC 4193), and the old site-local
        Some("private")
    } else {
        None
    }
}

fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// May a domain admin's primary be at `ip`?
pub fn check_ip(ip: IpAddr, allow: &PrimaryAllowance) -> Result<(), Refusal> {
    let ip = unmapped(ip);
    if let Some(kind) = never(ip) {
        return Err(Refusal::Address { ip, kind });
    }
    match restricted_kind(ip) {
        None => Ok(()),
        Some(_) if allow.networks.iter().any(|n| n.contains(&ip)) => Ok(()),
        Some(kind) => Err(Refusal::Address { ip, kind }),
    }
}

/// May a domain admin's primary listen on `port`?
pub fn check_port(port: u16, allow: &PrimaryAllowance) -> Result<(), Refusal> {
    if MAIL_PORTS.contains(&port) || allow.ports.contains(&port) {
        Ok(())
    } else {
        Err(Refusal::Port(port))
    }
}

/// Resolve `host` once and check the port and every address it gives
/// (one bad address refuses the name: a connection could go to any of
/// them). The addresses checked, to connect to.
pub async fn resolve_checked(
    host: &str,
    port: u16,
    allow: &PrimaryAllowance,
) -> Result<Vec<SocketAddr>, Refusal> {
    check_port(port, allow)?;
    resolve_addresses(host, port, allow).await
}

/// Resolve `host` once and check every address it gives, on any port (a
/// webhook's receiver listens where it likes; its address is what a
/// domain admin must not choose freely). The addresses checked.
pub async fn resolve_addresses(
    host: &str,
    port: u16,
    allow: &PrimaryAllowance,
) -> Result<Vec<SocketAddr>, Refusal> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            let lookup = tokio::net::lookup_host((bare, port));
            match tokio::time::timeout(Duration::from_secs(5), lookup).await {
                Ok(Ok(it)) => it.collect(),
                _ => Vec::new(),
            }
        }
    };
    if addrs.is_empty() {
        return Err(Refusal::Unresolved(bare.to_string()));
    }
    for a in &addrs {
        check_ip(a.ip(), allow)?;
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn only_public_addresses_unless_allowed() {
        let none = PrimaryAllowance::default();
        for (addr, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.1.2.3", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "private"),
            ("fd00::1", "private"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
        ] {
            match check_ip(ip(addr), &none) {
                Err(Refusal::Address { kind: k, .. }) => assert_eq!(k, kind, "{addr}"),
                other => panic!("{addr}: {other:?}"),
            }
        }
        for public in ["192.0.2.25", "203.0.113.9", "8.8.8.8", "2001:db8::25"] {
            assert_eq!(check_ip(ip(public), &none), Ok(()), "{public}");
        }
        let allow = PrimaryAllowance::parse("10.20.0.0/16 127.0.0.1", "2526").expect("parse");
        assert_eq!(check_ip(ip("10.20.3.4"), &allow), Ok(()));
        assert_eq!(check_ip(ip("127.0.0.1"), &allow), Ok(()));
        assert_eq!(check_ip(ip("::ffff:127.0.0.1"), &allow), Ok(()));
        assert!(check_ip(ip("10.21.0.1"), &allow).is_err());
        assert!(check_ip(ip("127.0.0.2"), &allow).is_err());
        // never, whatever is allowed
        let wide = PrimaryAllowance::parse("0.0.0.0/0", "").expect("parse");
        assert!(check_ip(ip("0.0.0.0"), &wide).is_err());
        assert!(check_ip(ip("224.0.0.1"), &wide).is_err());
    }

    #[test]
    fn mail_ports_only_unless_allowed() {
        let none = PrimaryAllowance::default();
        for p in MAIL_PORTS {
            assert_eq!(check_port(p, &none), Ok(()));
        }
        for p in [22, 80, 443, 3306, 5432, 6379, 8080, 2526] {
            assert_eq!(check_port(p, &none), Err(Refusal::Port(p)));
        }
        let allow = PrimaryAllowance::parse("", "2526, 10025").expect("parse");
        assert_eq!(check_port(2526, &allow), Ok(()));
        assert_eq!(allow.ports_text(), "2526 10025");
        assert!(PrimaryAllowance::parse("nope", "").is_err());
        assert!(PrimaryAllowance::parse("", "0").is_err());
        assert!(PrimaryAllowance::parse("", "70000").is_err());
    }

    #[tokio::test]
    async fn a_name_is_checked_by_every_address_it_resolves_to() {
        let none = PrimaryAllowance::default();
        assert!(matches!(
            resolve_checked("localhost", 25, &none).await,
            Err(Refusal::Address {
                kind: "loopback",
                ..
            })
        ));
        assert_eq!(
            resolve_checked("127.0.0.1", 22, &none).await,
            Err(Refusal::Port(22))
        );
        assert_eq!(
            resolve_checked("[192.0.2.1]", 25, &none).await,
            Ok(vec!["192.0.2.1:25".parse().expect("addr")])
        );
        assert!(matches!(
            resolve_checked("no-such-host.invalid", 25, &none).await,
            Err(Refusal::Unresolved(_))
        ));
    }
}
