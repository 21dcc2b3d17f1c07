//! Direct delivery: which hosts take mail for a domain (RFC 5321 §5.1,
//! RFC 7505 null MX), found with hickory-resolver.
//!
//! [`hops`] is the pure ordering logic over a [`Dns`] seam; [`HickoryDns`]
//! is the real resolver (the system's configuration, or given servers).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ProtocolConfig, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN).
    NoSuchDomain,
    /// The name exists but has no record of that type.
    NoRecords,
    /// Timeout, SERVFAIL, no server reachable: try again later.
    Failed(String),
}

#[async_trait::async_trait]
pub trait Dns: Send + Sync + 'static {
    /// MX records of `domain`: (preference, exchange without the final dot;
    /// "" for the root, i.e. a null MX).
    async fn mx(&self, domain: &str) -> Result<Vec<(u16, String)>, DnsError>;
    /// A and AAAA addresses of `host`.
    async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, DnsError>;
}

/// One place to try: the MX host's name (for TLS and logs) and an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub host: String,
    pub ip: IpAddr,
}

/// No host could be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoHop {
    /// The domain does not take mail (does not exist, null MX, no address):
    /// bounce with this text.
    Permanent(String),
    /// DNS failed: retry later.
    Temporary(String),
}

/// MX records (preference, host) to put in some order.
pub type MxList = [(u16, String)];

/// The addresses to try for `domain`, best first, at most `max`.
///
/// RFC 5321 §5.1: MX records by preference (equal ones in random order,
/// `shuffle` decides); no MX at all means the domain itself (implicit MX);
/// RFC 7505: a single MX of "." means the domain accepts no mail.
pub async fn hops(
    dns: &dyn Dns,
    domain: &str,
    max: usize,
    shuffle: &mut (dyn FnMut(&mut MxList) + Send),
) -> Result<Vec<Hop>, NoHop> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if domain.starts_with('[') {
        return Err(NoHop::Permanent(format!(
            "5.1.2 address literals ({domain}) are not delivered"
        )));
    }
    let (mut hosts, implicit) = match dns.mx(&domain).await {
        Ok(list) if list.iter().any(|(_, h)| h.is_empty()) => {
            // RFC 7505 §3: a null MX.
            return Err(NoHop::Permanent(format!(
                "556 5.1.10 {domain} does not accept mail (null MX)"
            )));
        }
        Ok(list) if !list.is_empty() => (list, false),
        Ok(_) | Err(DnsError::NoRecords) => (vec![(0, domain.clone())], true),
        Err(DnsError::NoSuchDomain) => {
            return Err(NoHop::Permanent(format!(
                "550 5.1.2 domain {domain} does not exist"
            )))
        }
        Err(DnsError::Failed(e)) => {
            return Err(NoHop::Temporary(format!(
                "4.4.3 MX lookup for {domain} failed: {e}"
            )))
        }
    };
    hosts.sort_by_key(|(pref, _)| *pref);
    // equal preferences in random order, groups kept in order
    let mut i = 0;
    while i < hosts.len() {
        let pref = hosts[i].0;
        let j = hosts[i..]
            .iter()
            .position(|(p, _)| *p != pref)
            .map_or(hosts.len(), |k| i + k);
        shuffle(&mut hosts[i..j]);
        i = j;
    }
    let mut out: Vec<Hop> = Vec::new();
    let mut temporary = None;
    for (_, host) in hosts {
        if out.len() >= max {
            break;
        }
        match dns.ips(&host).await {
            Ok(ips) => {
                for ip in ips {
                    if out.len() < max && !out.iter().any(|h| h.ip == ip) {
                        out.push(Hop {
                            host: host.clone(),
                            ip,
                        });
                    }
                }
            }
            Err(DnsError::Failed(e)) => {
                temporary = Some(format!("4.4.3 address lookup for {host} failed: {e}"));
            }
            Err(DnsError::NoSuchDomain | DnsError::NoRecords) => {}
        }
    }
    if !out.is_empty() {
        return Ok(out);
    }
    match temporary {
        Some(t) => Err(NoHop::Temporary(t)),
        None if implicit => Err(NoHop::Permanent(format!(
            "550 5.1.2 {domain} has no MX and no address"
        ))),
        None => Err(NoHop::Permanent(format!(
            "550 5.4.4 no address for any MX host of {domain}"
        ))),
    }
}

/// Random order for equal preferences (ring's system random).
pub fn random_shuffle(list: &mut MxList) {
    use ring::rand::SecureRandom;
    let rng = ring::rand::SystemRandom::new();
    for i in (1..list.len()).rev() {
        let mut b = [0u8; 4];
        if rng.fill(&mut b).is_err() {
            return;
        }
        let j = (u32::from_le_bytes(b) as usize) % (i + 1);
        list.swap(i, j);
    }
}

/// The real resolver.
pub struct HickoryDns {
    resolver: TokioResolver,
}

impl HickoryDns {
    /// The system's resolvers, or `servers` (UDP, then TCP) when given.
    pub fn new(servers: &[SocketAddr], timeout: Duration) -> Result<HickoryDns, String> {
        let mut builder = if servers.is_empty() {
            TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?
        } else {
            let mut config = ResolverConfig::default();
            for s in servers {
                config.add_name_server(NameServerConfig::new(*s, ProtocolConfig::Udp));
                config.add_name_server(NameServerConfig::new(*s, ProtocolConfig::Tcp));
            }
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
        };
        let opts = builder.options_mut();
        opts.timeout = timeout;
        opts.attempts = 2;
        // names are absolute: no search domains tried
        opts.ndots = 0;
        Ok(HickoryDns {
            resolver: builder.build(),
        })
    }

    /// The TXT records at `name`, each one's strings joined (RFC 6376
    /// §3.6.2.2: a DKIM record may be cut into several strings).
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let answer = self
            .resolver
            .txt_lookup(absolute(name))
            .await
            .map_err(dns_error)?;
        Ok(answer
            .iter()
            .map(|t| {
                t.txt_data()
                    .iter()
                    .map(|d| String::from_utf8_lossy(d))
                    .collect::<String>()
            })
            .collect())
    }
}

fn dns_error(e: hickory_resolver::proto::ProtoError) -> DnsError {
    if e.is_nx_domain() {
        DnsError::NoSuchDomain
    } else if e.is_no_records_found() {
        DnsError::NoRecords
    } else {
        DnsError::Failed(e.to_string())
    }
}

fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

#[async_trait::async_trait]
impl Dns for HickoryDns {
    async fn mx(&self, domain: &str) -> Result<Vec<(u16, String)>, DnsError> {
        let answer = self
            .resolver
            .mx_lookup(absolute(domain))
            .await
            .map_err(dns_error)?;
        Ok(answer
            .iter()
            .map(|mx| {
                let host = mx.exchange().to_ascii();
                (
                    mx.preference(),
                    host.trim_end_matches('.').to_ascii_lowercase(),
                )
            })
            .collect())
    }

    async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let answer = self
            .resolver
            .lookup_ip(absolute(host))
            .await
            .map_err(dns_error)?;
        Ok(answer.iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct FakeDns {
        mx: HashMap<String, Result<Vec<(u16, String)>, DnsError>>,
        ips: HashMap<String, Result<Vec<IpAddr>, DnsError>>,
    }

    #[async_trait::async_trait]
    impl Dns for FakeDns {
        async fn mx(&self, domain: &str) -> Result<Vec<(u16, String)>, DnsError> {
            self.mx
                .get(domain)
                .cloned()
                .unwrap_or(Err(DnsError::NoSuchDomain))
        }
        async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
            self.ips
                .get(host)
                .cloned()
                .unwrap_or(Err(DnsError::NoSuchDomain))
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    async fn run(dns: &FakeDns, domain: &str) -> Result<Vec<Hop>, NoHop> {
        hops(dns, domain, 10, &mut |l| l.reverse()).await
    }

    #[tokio::test]
    async fn mx_records_are_tried_by_preference_equal_ones_shuffled() {
        let mut dns = FakeDns::default();
        dns.mx.insert(
            "remote.test".into(),
            Ok(vec![
                (20, "backup.remote.test".into()),
                (10, "a.remote.test".into()),
                (10, "b.remote.test".into()),
            ]),
        );
        dns.ips
            .insert("a.remote.test".into(), Ok(vec![ip("192.0.2.1")]));
        dns.ips.insert(
            "b.remote.test".into(),
            Ok(vec![ip("192.0.2.2"), ip("2001:db8::2")]),
        );
        dns.ips
            .insert("backup.remote.test".into(), Ok(vec![ip("192.0.2.9")]));
        let h = run(&dns, "Remote.Test.").await.unwrap();
        let names: Vec<_> = h
            .iter()
            .map(|h| (h.host.as_str(), h.ip.to_string()))
            .collect();
        // the fake shuffle reverses each group of equal preference
        assert_eq!(
            names,
            [
                ("b.remote.test", "192.0.2.2".to_string()),
                ("b.remote.test", "2001:db8::2".to_string()),
                ("a.remote.test", "192.0.2.1".to_string()),
                ("backup.remote.test", "192.0.2.9".to_string()),
            ]
        );
        // at most `max`
        let h = hops(&dns, "remote.test", 2, &mut |_| {}).await.unwrap();
        assert_eq!(h.len(), 2);
    }

    #[tokio::test]
    async fn no_mx_means_the_domain_itself_and_nothing_is_permanent() {
        let mut dns = FakeDns::default();
        dns.mx.insert("plain.test".into(), Err(DnsError::NoRecords));
        dns.ips
            .insert("plain.test".into(), Ok(vec![ip("192.0.2.5")]));
        let h = run(&dns, "plain.test").await.unwrap();
        assert_eq!(
            h,
            [Hop {
                host: "plain.test".into(),
                ip: ip("192.0.2.5")
            }]
        );

        dns.mx.insert("empty.test".into(), Err(DnsError::NoRecords));
        dns.ips
            .insert("empty.test".into(), Err(DnsError::NoRecords));
        assert!(
            matches!(run(&dns, "empty.test").await, Err(NoHop::Permanent(m)) if m.contains("no MX and no address"))
        );
        assert!(
            matches!(run(&dns, "gone.test").await, Err(NoHop::Permanent(m)) if m.starts_with("550 5.1.2"))
        );
    }

    #[tokio::test]
    async fn a_null_mx_refuses_and_dns_trouble_is_temporary() {
        let mut dns = FakeDns::default();
        dns.mx
            .insert("nomail.test".into(), Ok(vec![(0, String::new())]));
        assert!(
            matches!(run(&dns, "nomail.test").await, Err(NoHop::Permanent(m)) if m.starts_with("556 5.1.10"))
        );
        dns.mx.insert(
            "flaky.test".into(),
            Err(DnsError::Failed("timed out".into())),
        );
        assert!(
            matches!(run(&dns, "flaky.test").await, Err(NoHop::Temporary(m)) if m.contains("timed out"))
        );
        // one MX host whose address lookup fails: temporary, not a bounce
        dns.mx
            .insert("half.test".into(), Ok(vec![(5, "mx.half.test".into())]));
        dns.ips.insert(
            "mx.half.test".into(),
            Err(DnsError::Failed("SERVFAIL".into())),
        );
        assert!(matches!(
            run(&dns, "half.test").await,
            Err(NoHop::Temporary(_))
        ));
        assert!(matches!(
            run(&dns, "[192.0.2.1]").await,
            Err(NoHop::Permanent(_))
        ));
    }
}
