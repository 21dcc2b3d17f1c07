//! Where a delivery goes — a protected domain's primary, else the
//! smarthost, else the recipient domain's MX hosts, each tried in turn
//! until one answers (RFC 5321 §5.1) — and which of a message's deliveries
//! go together in one transaction: those to the same destination.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{OutboundConfig, TlsMode};
use crate::store::{Claim, DomainId, MessageId};

use super::{mx, Queue, Route, RouteAuth};

/// How mail for domains we do not protect leaves.
#[derive(Clone, Default)]
pub struct Outbound {
    /// Everything through this smarthost.
    pub smarthost: Option<Route>,
    /// Without a smarthost: straight to each domain's MX.
    pub direct: Option<Direct>,
}

/// Direct delivery to MX hosts.
#[derive(Clone)]
pub struct Direct {
    pub dns: Arc<dyn mx::Dns>,
    pub port: u16,
    pub tls: TlsMode,
}

/// Most MX addresses tried for one attempt.
const MAX_HOPS: usize = 5;

impl Outbound {
    /// From the configuration: the smarthost's password and CA files are
    /// read now, and the DNS resolver set up.
    pub fn from_config(cfg: &OutboundConfig, timeout: Duration) -> Result<Outbound, String> {
        if let Some((host, port)) = &cfg.smarthost {
            let mut route = Route::new(host.clone(), *port, cfg.smarthost_tls);
            if let Some(a) = &cfg.smarthost_auth {
                let text = std::fs::read_to_string(&a.password_file).map_err(|e| {
                    format!(
                        "cannot read outbound.smarthost_password_file {}: {e}",
                        a.password_file.display()
                    )
                })?;
                let password = text.lines().next().unwrap_or_default().to_string();
                if password.is_empty() {
                    return Err(format!(
                        "outbound.smarthost_password_file {} is empty",
                        a.password_file.display()
                    ));
                }
                route.auth = Some(Arc::new(RouteAuth {
                    user: a.user.clone(),
                    password,
                }));
            }
            if let Some(ca) = &cfg.smarthost_ca {
                let pem = std::fs::read(ca).map_err(|e| {
                    format!("cannot read outbound.smarthost_ca {}: {e}", ca.display())
                })?;
                route.ca = Some(Arc::new(pem));
            }
            return Ok(Outbound {
                smarthost: Some(route),
                direct: None,
            });
        }
        if !cfg.direct {
            return Ok(Outbound::default());
        }
        let dns = mx::HickoryDns::new(&cfg.nameservers, timeout.min(Duration::from_secs(10)))?;
        Ok(Outbound {
            smarthost: None,
            direct: Some(Direct {
                dns: Arc::new(dns),
                port: cfg.mx_port,
                tls: cfg.direct_tls,
            }),
        })
    }
}

/// Where one claimed delivery can go.
pub(super) enum Routes {
    /// These, in order, until one answers for good.
    Try(Vec<Route>),
    /// Nowhere, for good: bounce with this text.
    Refused(String),
    /// Nowhere now (DNS trouble, nothing configured): retry later.
    Later(String),
}

/// Most recipients in one transaction (RFC 5321 §4.5.3.1.8: a server takes
/// at least 100; one that takes fewer answers 452 to the others, which are
/// retried).
pub(super) const MAX_RCPTS: usize = 100;

/// Where a claim goes, as far as sharing a transaction is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Dest {
    /// The protected domain's primary.
    Primary(DomainId),
    /// The smarthost: every other recipient.
    Smarthost,
    /// The MX hosts of this recipient domain (lower case).
    Mx(String),
}

fn rcpt_domain(rcpt: &str) -> String {
    rcpt.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default()
}

impl Queue {
    pub(super) fn dest(&self, claim: &Claim) -> Dest {
        match claim.domain {
            Some(d) => Dest::Primary(d),
            None if self.outbound.smarthost.is_some() => Dest::Smarthost,
            None => Dest::Mx(rcpt_domain(&claim.rcpt)),
        }
    }

    /// The claims as transactions: a message's deliveries to one
    /// destination together (at most [`MAX_RCPTS`]), in claim order.
    pub(super) fn transactions(&self, claims: Vec<Claim>) -> Vec<Vec<Claim>> {
        let mut groups: Vec<((MessageId, Dest), Vec<Claim>)> = Vec::new();
        let mut open: std::collections::HashMap<(MessageId, Dest), usize> = Default::default();
        for claim in claims {
            let key = (claim.message, self.dest(&claim));
            match open.get(&key) {
                Some(&i) if groups[i].1.len() < MAX_RCPTS => groups[i].1.push(claim),
                _ => {
                    open.insert(key.clone(), groups.len());
                    groups.push((key, vec![claim]));
                }
            }
        }
        groups.into_iter().map(|(_, g)| g).collect()
    }

    pub(super) async fn routes_for(&self, claim: &Claim) -> Routes {
        if let Some(d) = claim.domain {
            if let Some(route) = self.primaries.get(d) {
                return Routes::Try(vec![route]);
            }
            return match self.store.domain(d).await {
                Ok(Some(dom)) => {
                    let route = Route::new(dom.primary_host, dom.primary_port, dom.primary_tls);
                    self.primaries.put(d, route.clone());
                    Routes::Try(vec![route])
                }
                Ok(None) => Routes::Later(format!("domain {d} no longer exists")),
                Err(e) => Routes::Later(e.to_string()),
            };
        }
        if let Some(route) = &self.outbound.smarthost {
            return Routes::Try(vec![route.clone()]);
        }
        let Some(direct) = &self.outbound.direct else {
            return Routes::Later(
                "no route: the recipient is outside the protected domains, no \
                 [outbound] smarthost is configured and direct delivery is off"
                    .into(),
            );
        };
        let domain = rcpt_domain(&claim.rcpt);
        match mx::hops(&*direct.dns, &domain, MAX_HOPS, &mut mx::random_shuffle).await {
            Ok(hops) => Routes::Try(
                hops.into_iter()
                    .map(|h| Route {
                        tls_name: Some(h.host),
                        ..Route::new(h.ip.to_string(), direct.port, direct.tls)
                    })
                    .collect(),
            ),
            Err(mx::NoHop::Permanent(why)) => Routes::Refused(why),
            Err(mx::NoHop::Temporary(why)) => Routes::Later(why),
        }
    }
}

/// Each domain's primary as last read, for [`PRIMARY_TTL`]: a flush of
/// thousands of messages reads it once a second, not once a message; a
/// primary changed in the Control Panel is used within that second.
#[derive(Default)]
pub(super) struct Primaries(std::sync::Mutex<HashMap<DomainId, (std::time::Instant, Route)>>);

/// How long a primary read is used.
const PRIMARY_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl Primaries {
    fn get(&self, d: DomainId) -> Option<Route> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&d)
            .filter(|(at, _)| at.elapsed() < PRIMARY_TTL)
            .map(|(_, r)| r.clone())
    }
    fn put(&self, d: DomainId, route: Route) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(d, (std::time::Instant::now(), route));
    }
}
