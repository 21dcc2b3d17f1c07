//! Connections per client address, for every listener: one host cannot
//! take all of a listener's connections (a flood or a slowloris from one
//! machine leaves room for everyone else). A client is its IPv4 address,
//! or the /64 of its IPv6 one (a host usually holds a whole /64); IPv4
//! mapped in IPv6 counts as IPv4. Also used by the login throttle.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The key of a client address (see the module's note). Anything that is
/// not an address is its own key.
pub fn source_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(ip) => key(ip),
        Err(_) => ip.to_string(),
    }
}

fn key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Open connections per client, at most `max` each.
#[derive(Debug)]
pub struct PerIp {
    max: usize,
    open: Mutex<HashMap<String, usize>>,
}

/// A connection's place, given back when dropped.
#[derive(Debug)]
pub struct IpPermit {
    key: String,
    of: Arc<PerIp>,
}

impl Drop for IpPermit {
    fn drop(&mut self) {
        let mut open = self.of.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl PerIp {
    pub fn new(max: usize) -> Arc<PerIp> {
        Arc::new(PerIp {
            max: max.max(1),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for a connection from `ip`, unless it has `max` open.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<IpPermit> {
        let key = key(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(key.clone()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpPermit {
            key,
            of: self.clone(),
        })
    }

    /// Connections open from `ip` now.
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&key(ip)).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_gets_its_share_and_gives_it_back() {
        let limit = PerIp::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let p1 = limit.take(a).expect("first");
        let _p2 = limit.take(a).expect("second");
        assert!(limit.take(a).is_none(), "a third from the same client");
        assert!(limit.take("::ffff:192.0.2.1".parse().unwrap()).is_none());
        assert!(limit.take(b).is_some(), "another client");
        drop(p1);
        assert!(limit.take(a).is_some(), "given back");
        // IPv6: one /64 is one client
        let _x = limit.take("2001:db8::1".parse().unwrap()).expect("v6");
        let _y = limit.take("2001:db8::ffff:2".parse().unwrap()).expect("v6");
        assert!(limit.take("2001:db8::3".parse().unwrap()).is_none());
        assert!(limit.take("2001:db8:0:1::3".parse().unwrap()).is_some());
    }

    #[test]
    fn keys() {
        assert_eq!(source_key("192.0.2.7"), "192.0.2.7");
        assert_eq!(source_key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(source_key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(source_key("unknown"), "unknown");
    }
}
