//! How a domain's own server may relay through the submission listener:
//! the networks it sends from and its credentials. Shared by the CLI
//! (`continuity domain relay`) and the Control Panel.

pub use app::backend::Refusal;

use crate::auth::token;

/// The broadest networks accepted: a /24 of IPv4, a /56 of IPv6 — what a
/// domain's mail servers sit in, never a provider's whole range.
const MIN_V4_PREFIX: u8 = 24;
const MIN_V6_PREFIX: u8 = 56;
/// Entries a domain may list: its mail servers, not a map of the Internet.
pub const MAX_NETWORKS: usize = 16;

/// Where the networks come from: a domain admin in the Control Panel, or
/// the operator on the command line, who may also name this machine's
/// own loopback (a primary on the same host relaying through us).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    DomainAdmin,
    Operator { allow_local: bool },
}

/// Addresses no domain's server relays from, whatever the prefix.
fn refused_kind(net: &ipnet::IpNet, who: Who) -> Option<&'static str> {
    use std::net::IpAddr;
    let ip = match net.network() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let local = match ip {
        IpAddr::V4(v4) if v4.is_loopback() => Some("loopback"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("link-local"),
        IpAddr::V6(v6) if v6.is_loopback() => Some("loopback"),
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => Some("link-local"),
        _ => None,
    };
    let never = match ip {
        IpAddr::V4(v4) if v4.is_unspecified() || v4.octets()[0] == 0 => Some("unspecified"),
        IpAddr::V4(v4) if v4.is_multicast() || v4.octets()[0] >= 240 => {
            Some("multicast or reserved")
        }
        IpAddr::V6(v6) if v6.is_unspecified() => Some("unspecified"),
        IpAddr::V6(v6) if v6.is_multicast() => Some("multicast"),
        _ => None,
    };
    match (never, local, who) {
        (Some(k), _, _) => Some(k),
        (None, Some(_), Who::Operator { allow_local: true }) => None,
        (None, Some(k), _) => Some(k),
        (None, None, _) => None,
    }
}

/// Parse "192.0.2.10", "192.0.2.0/24", "2001:db8::/64" (host bits cleared).
pub fn parse_network(s: &str, who: Who) -> Result<ipnet::IpNet, Refusal> {
    let s = s.trim();
    let net = match s.parse::<ipnet::IpNet>() {
        Ok(n) => n.trunc(),
        Err(_) => match s.parse::<std::net::IpAddr>() {
            Ok(ip) => ipnet::IpNet::from(ip),
            Err(_) => return Err(Refusal::NotANetwork(s.to_string())),
        },
    };
    let (len, min) = match net {
        ipnet::IpNet::V4(n) => (n.prefix_len(), MIN_V4_PREFIX),
        ipnet::IpNet::V6(n) => (n.prefix_len(), MIN_V6_PREFIX),
    };
    if len < min {
        return Err(Refusal::NetworkTooBroad(net.to_string()));
    }
    if refused_kind(&net, who).is_some() {
        return Err(Refusal::NetworkReserved(net.to_string()));
    }
    Ok(net)
}

/// A list of networks, one per line or separated by commas or spaces;
/// duplicates dropped, order kept. Every bad entry is named.
pub fn parse_networks(text: &str, who: Who) -> Result<Vec<String>, Vec<Refusal>> {
    let mut out: Vec<String> = Vec::new();
    let mut bad = Vec::new();
    for item in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        match parse_network(item, who) {
            Ok(n) => {
                let n = n.to_string();
                if !out.contains(&n) {
                    out.push(n);
                }
            }
            Err(e) => bad.push(e),
        }
    }
    if !bad.is_empty() {
        return Err(bad);
    }
    if out.len() > MAX_NETWORKS {
        return Err(vec![Refusal::TooManyNetworks]);
    }
    Ok(out)
}

/// Do two networks share an address?
pub fn overlap(a: &ipnet::IpNet, b: &ipnet::IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// New relay credentials: the password to show once, and the SHA-256 to keep.
pub fn new_secret() -> (String, Vec<u8>) {
    let value = format!("cty_relay_{}", token::random_token());
    let hash = token::sha256(value.as_bytes());
    (value, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_checked() {
        let admin = Who::DomainAdmin;
        assert_eq!(
            parse_network("192.0.2.10", admin).unwrap().to_string(),
            "192.0.2.10/32"
        );
        assert_eq!(
            parse_network("192.0.2.7/24", admin).unwrap().to_string(),
            "192.0.2.0/24"
        );
        assert_eq!(
            parse_network("2001:db8::1/64", admin).unwrap().to_string(),
            "2001:db8::/64"
        );
        assert!(parse_network("example.com", admin).is_err());
        for broad in [
            "0.0.0.0/0",
            "10.0.0.0/8",
            "192.0.2.0/23",
            "::/0",
            "2001:db8::/48",
        ] {
            let e = parse_network(broad, admin).unwrap_err();
            assert!(matches!(e, Refusal::NetworkTooBroad(_)), "{broad}: {e}");
        }
        for local in [
            "127.0.0.1",
            "127.0.0.0/24",
            "169.254.1.0/24",
            "::1",
            "fe80::/64",
        ] {
            let e = parse_network(local, admin).unwrap_err();
            assert!(matches!(e, Refusal::NetworkReserved(_)), "{local}: {e}");
            // the operator may name this machine's own loopback
            assert!(
                parse_network(local, Who::Operator { allow_local: true }).is_ok(),
                "{local}"
            );
            assert!(parse_network(local, Who::Operator { allow_local: false }).is_err());
        }
        for never in [
            "0.0.0.0",
            "224.0.0.0/24",
            "255.255.255.255",
            "::",
            "ff02::/64",
        ] {
            assert!(
                parse_network(never, Who::Operator { allow_local: true }).is_err(),
                "{never}"
            );
        }
        assert_eq!(
            parse_networks(
                "192.0.2.10\n198.51.100.0/24, 192.0.2.10  2001:db8::/56",
                admin
            )
            .unwrap(),
            ["192.0.2.10/32", "198.51.100.0/24", "2001:db8::/56"]
        );
        assert_eq!(parse_networks(" \n ", admin).unwrap(), Vec::<String>::new());
        let e = parse_networks("192.0.2.1, nope, 0.0.0.0/0", admin).unwrap_err();
        assert_eq!(
            e,
            [
                Refusal::NotANetwork("nope".into()),
                Refusal::NetworkTooBroad("0.0.0.0/0".into())
            ]
        );
        let many: Vec<String> = (0..=MAX_NETWORKS).map(|i| format!("192.0.2.{i}")).collect();
        assert_eq!(
            parse_networks(&many.join(" "), admin).unwrap_err(),
            [Refusal::TooManyNetworks]
        );
        let n = |s: &str| s.parse::<ipnet::IpNet>().unwrap();
        assert!(overlap(&n("192.0.2.0/24"), &n("192.0.2.7/32")));
        assert!(overlap(&n("192.0.2.7/32"), &n("192.0.2.0/24")));
        assert!(!overlap(&n("192.0.2.0/24"), &n("192.0.3.0/24")));
    }

    #[test]
    fn a_secret_is_kept_as_its_hash() {
        let (value, hash) = new_secret();
        assert!(value.starts_with("cty_relay_"));
        assert_eq!(hash, token::sha256(value.as_bytes()));
        assert_ne!(new_secret().0, value);
    }
}
