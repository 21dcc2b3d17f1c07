//! The client's address for a web request: the socket's peer, unless that
//! peer is a reverse proxy the operator trusts (`web.trusted_proxies`) —
//! then the address it names in `Forwarded` (RFC 7239) or
//! `X-Forwarded-For`, read from the right past every trusted hop. A
//! client cannot pick its own address by sending these headers: they are
//! read only from a trusted peer, and only as far as trusted hops vouch.
//! Pure.

use std::net::IpAddr;

use ipnet::IpNet;

fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|n| n.contains(&ip))
}

/// One `for=` value or X-Forwarded-For item: `192.0.2.1`, `192.0.2.1:4711`,
/// `"[2001:db8::1]:4711"`, `2001:db8::1`. Obfuscated names ("_hidden",
/// "unknown") are `None`.
fn node(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    // v4 with a port
    s.rsplit_once(':')
        .and_then(|(h, _)| h.parse::<std::net::Ipv4Addr>().ok())
        .map(IpAddr::V4)
}

/// The hops a `Forwarded` header lists, in order (client first).
fn forwarded_hops(h: &str) -> Vec<Option<IpAddr>> {
    h.split(',')
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, v)| node(v))
        })
        .collect()
}

/// The client's address (see the module's note).
pub fn client_address(
    peer: IpAddr,
    forwarded: Option<&str>,
    x_forwarded_for: Option<&str>,
    proxies: &[IpNet],
) -> IpAddr {
    let peer = unmapped(peer);
    if !trusted(peer, proxies) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = match (forwarded, x_forwarded_for) {
        (Some(f), _) => forwarded_hops(f),
        (None, Some(x)) => x.split(',').map(node).collect(),
        (None, None) => return peer,
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.map(unmapped) {
            Some(ip) => {
                client = ip;
                if !trusted(ip, proxies) {
                    break;
                }
            }
            // a hop we cannot read: stop at the last address vouched for
            None => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|n| n.parse().expect("net")).collect()
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let p = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("203.0.113.5"), None, Some("198.51.100.1"), &p),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_address(ip("203.0.113.5"), Some("for=198.51.100.1"), None, &[]),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let p = nets(&["10.0.0.0/8", "::1/128"]);
        assert_eq!(
            client_address(ip("10.0.0.2"), None, Some("198.51.100.1"), &p),
            ip("198.51.100.1")
        );
        // a client's own forged entry is left of what the proxy appended
        assert_eq!(
            client_address(
                ip("10.0.0.2"),
                None,
                Some("1.2.3.4, 198.51.100.1, 10.0.0.3"),
                &p
            ),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(
                ip("::1"),
                Some(
                    r#"for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711""#
                ),
                Some("9.9.9.9"),
                &p
            ),
            ip("2001:db8:cafe::17"),
            "Forwarded wins over X-Forwarded-For"
        );
        assert_eq!(
            client_address(ip("::ffff:10.0.0.2"), None, Some("198.51.100.1:5555"), &p),
            ip("198.51.100.1")
        );
        // nothing forwarded, or nothing readable: the proxy itself
        assert_eq!(
            client_address(ip("10.0.0.2"), None, None, &p),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), Some("for=unknown"), None, &p),
            ip("10.0.0.2")
        );
    }
}
