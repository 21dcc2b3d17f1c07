//! The gauges set at each scrape: from the database (the cluster's queue,
//! held mail, domains' states, web sessions; the same from every node),
//! and from this node (its database connections, its certificate). The
//! process' own figures are read as they are encoded (`process.rs`).

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::store::{now_ms, Store};

/// The domain states a domain can be in (`continuity_domain_state`).
const STATES: [&str; 4] = ["normal", "outage", "recovering", "drill"];
/// The waiting statuses (`continuity_queue_deliveries`).
const WAITING: [&str; 3] = ["queued", "delayed", "delivering"];
/// The `domain` label of outbound mail (relayed for a user or a domain's
/// server, to anywhere): no domain of ours.
const OUTBOUND: &str = "(outbound)";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QueueLabels {
    domain: String,
    state: String,
    status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DomainLabel {
    domain: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DomainStateLabels {
    domain: String,
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FileLabel {
    file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

pub(crate) struct Gauges {
    queue: Family<QueueLabels, Gauge>,
    held: Family<DomainLabel, Gauge>,
    oldest_held: Family<DomainLabel, Gauge<f64, AtomicU64>>,
    domain_state: Family<DomainStateLabels, Gauge>,
    web_sessions: Gauge,
    db_connections: Family<PoolLabels, Gauge>,
    db_up: Gauge,
    certificate_expiry: Family<FileLabel, Gauge>,
}

impl Gauges {
    pub(crate) fn register(r: &mut Registry) -> Gauges {
        let g = Gauges {
            queue: Family::default(),
            held: Family::default(),
            oldest_held: Family::default(),
            domain_state: Family::default(),
            web_sessions: Gauge::default(),
            db_connections: Family::default(),
            db_up: Gauge::default(),
            certificate_expiry: Family::default(),
        };
        r.register(
            "queue_deliveries",
            "Deliveries waiting, by domain (\"(outbound)\" for relayed mail), the domain's \
             state and status (the cluster's figure, read from the database)",
            g.queue.clone(),
        );
        r.register(
            "held_deliveries",
            "Deliveries held during an outage of their domain's primary, not yet delivered",
            g.held.clone(),
        );
        r.register_with_unit(
            "oldest_held_age",
            "Age of the oldest held delivery not yet delivered, by domain",
            Unit::Seconds,
            g.oldest_held.clone(),
        );
        r.register(
            "domain_state",
            "1 for each domain's current state (normal, outage, recovering, drill), 0 for the others",
            g.domain_state.clone(),
        );
        r.register(
            "web_sessions",
            "Webmail and Control Panel sessions not yet expired",
            g.web_sessions.clone(),
        );
        r.register(
            "db_connections",
            "This node's database connections, by pool (read, write) and state (in_use, idle)",
            g.db_connections.clone(),
        );
        r.register(
            "db_up",
            "1 if this scrape's queries reached the database, else 0 (and the database's \
             figures are left out)",
            g.db_up.clone(),
        );
        r.register_with_unit(
            "tls_certificate_expiry_timestamp",
            "When the service's TLS certificate expires (Unix time), by file; absent without one",
            Unit::Seconds,
            g.certificate_expiry.clone(),
        );
        let version = Family::<VersionLabel, Gauge>::default();
        version
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        r.register("build_info", "The running version (always 1)", version);
        g
    }
}

/// What is needed to set the scrape-time gauges.
#[derive(Clone)]
pub struct Sources {
    pub store: Store,
    /// The service's certificate (PEM), if it has one.
    pub certificate: Option<PathBuf>,
}

/// Set every scrape-time gauge. A database that does not answer leaves
/// its figures out and says so (`continuity_db_up 0`): the process'
/// figures and the counters are still served.
pub(crate) async fn refresh(g: &Gauges, s: &Sources) {
    g.queue.clear();
    g.held.clear();
    g.oldest_held.clear();
    g.domain_state.clear();
    match s.store.gauges().await {
        Ok(db) => {
            g.db_up.set(1);
            // every domain's series, 0 when it has nothing: alerts see it
            for (domain, state) in &db.domains {
                for s in STATES {
                    g.domain_state
                        .get_or_create(&DomainStateLabels {
                            domain: domain.clone(),
                            state: s,
                        })
                        .set(i64::from(state == s));
                }
                for status in WAITING {
                    let _ = g.queue.get_or_create(&QueueLabels {
                        domain: domain.clone(),
                        state: state.clone(),
                        status,
                    });
                }
                let _ = g.held.get_or_create(&DomainLabel {
                    domain: domain.clone(),
                });
                let _ = g.oldest_held.get_or_create(&DomainLabel {
                    domain: domain.clone(),
                });
            }
            for status in WAITING {
                let _ = g.queue.get_or_create(&QueueLabels {
                    domain: OUTBOUND.into(),
                    state: String::new(),
                    status,
                });
            }
            let now = now_ms();
            for q in &db.queue {
                let Some(status) = WAITING.iter().find(|w| **w == q.status) else {
                    continue;
                };
                let domain = q.domain.clone().unwrap_or_else(|| OUTBOUND.into());
                // the state the domain series above have (read a moment
                // apart, it may have changed: one series per domain)
                let state = db
                    .domains
                    .iter()
                    .find(|(d, _)| *d == domain)
                    .map(|(_, s)| s.clone())
                    .or_else(|| q.state.clone())
                    .unwrap_or_default();
                g.queue
                    .get_or_create(&QueueLabels {
                        domain: domain.clone(),
                        state,
                        status,
                    })
                    .set(q.count);
                if q.held > 0 {
                    g.held
                        .get_or_create(&DomainLabel {
                            domain: domain.clone(),
                        })
                        .inc_by(q.held);
                }
                if let Some(at) = q.oldest_held {
                    let age = (now - at).max(0) as f64 / 1000.0;
                    let gauge = g.oldest_held.get_or_create(&DomainLabel { domain });
                    if age > gauge.get() {
                        gauge.set(age);
                    }
                }
            }
            g.web_sessions.set(db.web_sessions);
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the database did not answer");
            g.db_up.set(0);
        }
    }
    for (pool, open, idle) in s.store.pool_gauges() {
        let set = |state, n: u32| {
            g.db_connections
                .get_or_create(&PoolLabels { pool, state })
                .set(i64::from(n));
        };
        set("in_use", open.saturating_sub(idle));
        set("idle", idle);
    }
    // read at each scrape: a renewed certificate shows at once
    g.certificate_expiry.clear();
    if let Some(path) = &s.certificate {
        if let Some(at) = crate::tls::expiry(path) {
            g.certificate_expiry
                .get_or_create(&FileLabel {
                    file: path.display().to_string(),
                })
                .set(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificates_expiry_is_read_from_its_pem() {
        let dir = std::env::temp_dir().join(format!("continuity-cert-{}", std::process::id()));
        let (cert, _) = crate::tls::ensure_self_signed(&dir, "mx.example.test").expect("cert");
        let at = crate::tls::expiry(&cert).expect("parsed");
        let now = now_ms() / 1000;
        assert!(at > now, "expires at {at}, now {now}");
        assert_eq!(crate::tls::expiry(&dir.join("missing.pem")), None);
        std::fs::write(dir.join("junk.pem"), "not a certificate").expect("write");
        assert_eq!(crate::tls::expiry(&dir.join("junk.pem")), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
