//! How a domain's own server may relay through the submission listener:
//! the networks it sends from and its credentials. Shared by the CLI
//! (`continuity domain relay`) and the Control Panel.

use crate::auth::token;

/// The broadest networks accepted: a /8 of IPv4 (10.0.0.0/8), a /32 of
/// IPv6. Anything broader would let half the Internet send as the domain.
const MIN_V4_PREFIX: u8 = 8;
const MIN_V6_PREFIX: u8 = 32;

/// Parse "192.0.2.10", "192.0.2.0/24", "2001:db8::/64" (host bits cleared).
pub fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    let net = match s.parse::<ipnet::IpNet>() {
        Ok(n) => n.trunc(),
        Err(_) => match s.parse::<std::net::IpAddr>() {
            Ok(ip) => ipnet::IpNet::from(ip),
            Err(_) => {
                return Err(format!(
                    "{s:?} is not an IP address or network (e.g. 192.0.2.10 or 192.0.2.0/24)"
                ))
            }
        },
    };
    let (len, min) = match net {
        ipnet::IpNet::V4(n) => (n.prefix_len(), MIN_V4_PREFIX),
        ipnet::IpNet::V6(n) => (n.prefix_len(), MIN_V6_PREFIX),
    };
    if len < min {
        return Err(format!(
            "{net} is too broad: at most a /{min} (name the server's own addresses)"
        ));
    }
    Ok(net)
}

/// A list of networks, one per line or separated by commas or spaces;
/// duplicates dropped, order kept. Every bad entry is named.
pub fn parse_networks(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    let mut bad = Vec::new();
    for item in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        match parse_network(item) {
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
        return Err(bad.join("; "));
    }
    if out.len() > 100 {
        return Err("at most 100 networks".into());
    }
    Ok(out)
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
        assert_eq!(
            parse_network("192.0.2.10").unwrap().to_string(),
            "192.0.2.10/32"
        );
        assert_eq!(
            parse_network("192.0.2.7/24").unwrap().to_string(),
            "192.0.2.0/24"
        );
        assert_eq!(
            parse_network("2001:db8::1/64").unwrap().to_string(),
            "2001:db8::/64"
        );
        assert_eq!(
            parse_network("10.0.0.0/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert!(parse_network("example.com").is_err());
        assert!(parse_network("0.0.0.0/0")
            .unwrap_err()
            .contains("too broad"));
        assert!(parse_network("10.0.0.0/7").is_err());
        assert!(parse_network("::/0").is_err());
        assert!(parse_network("2001:db8::/31").is_err());
        assert_eq!(
            parse_networks("192.0.2.10\n198.51.100.0/24, 192.0.2.10  2001:db8::/48").unwrap(),
            ["192.0.2.10/32", "198.51.100.0/24", "2001:db8::/48"]
        );
        assert_eq!(parse_networks(" \n ").unwrap(), Vec::<String>::new());
        let e = parse_networks("192.0.2.1, nope, 0.0.0.0/0").unwrap_err();
        assert!(e.contains("nope") && e.contains("too broad"), "{e}");
    }

    #[test]
    fn a_secret_is_kept_as_its_hash() {
        let (value, hash) = new_secret();
        assert!(value.starts_with("cty_relay_"));
        assert_eq!(hash, token::sha256(value.as_bytes()));
        assert_ne!(new_secret().0, value);
    }
}
