//! The delivery queue: from the store to each domain's primary.
//!
//! A loop claims due deliveries (the claim is recorded before anything is
//! sent), delivers each through a [`Deliverer`] with a global and a
//! per-destination concurrency limit, and records the outcome (after). A
//! temporary failure is retried on the configured schedule (RFC 5321
//! §4.5.4.1) until `max_age`, then expires; a permanent one bounces. Both
//! produce a DSN to the envelope sender, never to the null sender, in the
//! same transaction as the final status.
//!
//! Mail for a protected domain goes to its primary; other mail (written in
//! the webmail or submitted, DSNs to remote senders) through the smarthost
//! when one is configured, else straight to the recipient domain's MX
//! hosts, each tried in turn until one answers (RFC 5321 §5.1).
//!
//! - [`transport`]: the `Deliverer` seam and the real one ([`client`] connections kept per destination).
//! - [`mx`]: MX resolution (hickory-resolver), null MX, implicit MX.
//! - [`dsn`]: building RFC 3464 reports.
//! - [`hold`]: how long this node's claims are surely its own.
//! - [`pace`]: the recovery rate.
//!
//! Several nodes may share one database: each claim belongs to the node
//! that made it, for a lease the node renews while its attempts run; a
//! node that dies has its claims taken back by the others once the lease
//! ran out, and a node that cannot renew abandons its attempts first.

pub mod client;
pub mod dsn;
pub mod gate;
pub mod hold;
pub mod mx;
pub mod pace;
mod tls;
pub mod transport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Semaphore};

use crate::config::{OutboundConfig, QueueConfig, TlsMode};
use crate::directory::{Directory, RcptVerdict, RecipientPolicy};
use crate::store::{now_ms, Claim, NewMessage, NewRecipient, Origin, Outcome, Store, Summary};
pub use pace::{pace, share};
pub use tls::TlsSetup;
pub use transport::{Attempt, Deliverer, Route, RouteAuth, SmtpDeliverer};

pub struct Queue {
    pub store: Store,
    pub directory: Arc<Directory>,
    pub deliverer: Arc<dyn Deliverer>,
    pub cfg: QueueConfig,
    pub outbound: Outbound,
    pub hostname: String,
    /// This node's id: the owner of its claims.
    node: String,
    hold: hold::Hold,
    per_route: Mutex<HashMap<Route, Arc<gate::Gate>>>,
    /// Where temporary failures to a primary are reported (the monitor's
    /// passive signal).
    pub signals: std::sync::OnceLock<tokio::sync::mpsc::Sender<(crate::store::DomainId, String)>>,
    /// Next free slot (µs) per recovering primary: the recovery rate.
    pacer: Mutex<HashMap<crate::store::DomainId, i64>>,
    /// Nodes alive on this database (this one included): each flushes its
    /// share of the recovery rate.
    nodes_alive: std::sync::atomic::AtomicU32,
}

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

/// RFC 5321 §6.3: a message that went through this many relays is looping.
const MAX_RECEIVED: usize = 50;

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
enum Routes {
    /// These, in order, until one answers for good.
    Try(Vec<Route>),
    /// Nowhere, for good: bounce with this text.
    Refused(String),
    /// Nowhere now (DNS trouble, nothing configured): retry later.
    Later(String),
}

impl Queue {
    pub fn new(
        store: Store,
        directory: Arc<Directory>,
        deliverer: Arc<dyn Deliverer>,
        cfg: QueueConfig,
        outbound: Outbound,
        hostname: &str,
        node: &str,
    ) -> Arc<Queue> {
        Arc::new(Queue {
            store,
            directory,
            deliverer,
            cfg,
            outbound,
            hostname: hostname.to_string(),
            node: node.to_string(),
            hold: hold::Hold::new(),
            per_route: Mutex::new(HashMap::new()),
            signals: std::sync::OnceLock::new(),
            pacer: Mutex::new(HashMap::new()),
            nodes_alive: std::sync::atomic::AtomicU32::new(1),
        })
    }

    /// Run until `shutdown` turns true; attempts under way are finished.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        // Until this is done, this node's claims from before its restart
        // would be renewed by it forever and sent by nobody: retried until
        // it succeeds (a deadlock with another node's batch, the database
        // away for a while).
        let mut wait = Duration::from_millis(100);
        loop {
            match self.store.requeue_interrupted(&self.node).await {
                Ok(0) => break,
                Ok(n) => {
                    tracing::warn!(count = n, "requeued deliveries interrupted by a restart");
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot requeue interrupted deliveries; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        let slots = Arc::new(Semaphore::new(self.cfg.concurrency));
        let renewer = tokio::spawn(self.clone().renew_claims(slots.clone()));
        let wake = self.store.queue_wake.clone();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = slots.available_permits();
            let claims = if free == 0 {
                Vec::new()
            } else {
                let asked = tokio::time::Instant::now();
                match self.store.claim_due(&self.node, free, now_ms()).await {
                    Ok(c) => {
                        // the claim renewed this node's other claims too
                        self.hold.renewed(asked);
                        c
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot claim deliveries");
                        Vec::new()
                    }
                }
            };
            let idle = claims.is_empty();
            for claim in claims {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                let me = self.clone();
                tokio::spawn(async move {
                    me.attempt(claim).await;
                    drop(permit);
                });
            }
            if idle {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(self.cfg.poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
            } else if slots.available_permits() == 0 {
                // Wait for a slot before claiming more.
                if let Ok(p) = slots.acquire().await {
                    drop(p);
                }
            }
        }
        let all = self.cfg.concurrency as u32;
        let _ = tokio::time::timeout(Duration::from_secs(30), slots.acquire_many(all)).await;
        renewer.abort();
    }

    /// While attempts run, renew this node's claims every
    /// [`crate::cluster::RENEW`] (a claim renews them too); and count the
    /// nodes alive, who share the recovery rate.
    async fn renew_claims(self: Arc<Self>, slots: Arc<Semaphore>) {
        let lease = crate::store::CLAIM_LEASE.as_millis() as i64;
        loop {
            tokio::time::sleep(crate::cluster::RENEW).await;
            if let Ok(nodes) = self.store.nodes().await {
                let now = now_ms();
                let alive = nodes
                    .iter()
                    .filter(|n| now - n.heartbeat_at <= crate::cluster::LEASE.as_millis() as i64)
                    .count();
                self.nodes_alive.store(
                    u32::try_from(alive).unwrap_or(u32::MAX).max(1),
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
            if slots.available_permits() == self.cfg.concurrency {
                continue;
            }
            let asked = tokio::time::Instant::now();
            match self.store.renew_claims(&self.node, now_ms() + lease).await {
                Ok(_) => self.hold.renewed(asked),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot renew this node's claims on deliveries")
                }
            }
        }
    }

    async fn routes_for(&self, claim: &Claim) -> Routes {
        if let Some(d) = claim.domain {
            return match self.store.domain(d).await {
                Ok(Some(dom)) => Routes::Try(vec![Route::new(
                    dom.primary_host,
                    dom.primary_port,
                    dom.primary_tls,
                )]),
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
        let domain = claim
            .rcpt
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default();
        match mx::hops(&*direct.dns, domain, MAX_HOPS, &mut mx::random_shuffle).await {
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

    fn route_gate(&self, route: &Route) -> Arc<gate::Gate> {
        let mut map = match self.per_route.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.entry(route.clone())
            .or_insert_with(|| gate::Gate::new(self.cfg.per_destination))
            .clone()
    }

    /// One attempt for one claimed delivery, outcome recorded. Abandoned
    /// if this node's hold on its claims runs out first (see [`hold`]).
    pub async fn attempt(&self, claim: Claim) {
        let outcome = tokio::select! {
            o = self.try_deliver(&claim) => o,
            _ = self.hold.lost() => {
                tracing::warn!(
                    delivery = %claim.delivery,
                    "attempt abandoned: this node could not renew its claim in time \
                     (database unreachable?); it goes back to the queue"
                );
                return;
            }
        };
        // The outcome must be recorded: retry until it is, or until the
        // claim is no longer this node's (another node took it back).
        let mut wait = Duration::from_millis(100);
        loop {
            match self.store.record_outcome(&claim, outcome.clone()).await {
                Ok(()) => return,
                Err(crate::store::StoreError::NotFound(why)) => {
                    tracing::warn!(delivery = %claim.delivery, %why, "outcome not recorded: the claim was taken back");
                    return;
                }
                Err(e) => {
                    tracing::error!(delivery = %claim.delivery, error = %e, "cannot record outcome; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn try_deliver(&self, claim: &Claim) -> Outcome {
        let now = now_ms();
        let routes = match self.routes_for(claim).await {
            Routes::Try(r) if !r.is_empty() => r,
            Routes::Try(_) => {
                return self.temporary(claim, "no route".into(), String::new(), None, now)
            }
            Routes::Later(why) => return self.temporary(claim, why, String::new(), None, now),
            Routes::Refused(why) => {
                let raw = self.store.raw_message(claim.message).await.ok().flatten();
                let dsn = self.dsn(
                    claim,
                    &why,
                    None,
                    "5.1.2",
                    raw.as_deref().unwrap_or_default(),
                );
                return Outcome::Bounced {
                    reply: why,
                    remote: String::new(),
                    dsn,
                };
            }
        };
        let first = routes[0].to_string();
        let raw = match self.store.raw_message(claim.message).await {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                return Outcome::Bounced {
                    reply: "message body missing from the archive".into(),
                    remote: String::new(),
                    dsn: None,
                }
            }
            Err(e) => return self.temporary(claim, e.to_string(), first, None, now),
        };
        if count_received(&raw) >= MAX_RECEIVED {
            let why = format!(
                "554 5.4.6 mail loop: the message went through {MAX_RECEIVED} or more relays"
            );
            let dsn = self.dsn(claim, &why, None, "5.4.6", &raw);
            return Outcome::Bounced {
                reply: why,
                remote: String::new(),
                dsn,
            };
        }
        // the sending domain's signature, made for this delivery
        let raw = std::sync::Arc::new(raw);
        let signature = match claim.sign_as {
            Some(domain) => {
                crate::relay::delivery_signature(&self.store, domain, &claim.mail_from, &raw).await
            }
            None => None,
        };
        let received = received_header(claim, &self.hostname);
        let signature = signature.unwrap_or_default();
        let mut message = Vec::with_capacity(received.len() + signature.len() + raw.len());
        message.extend_from_slice(received.as_bytes());
        message.extend_from_slice(signature.as_bytes());
        message.extend_from_slice(&raw);
        // A primary back from an outage gets its held backlog at a measured
        // rate (oldest first, by the claim order), not all at once.
        let alive = self.nodes_alive.load(std::sync::atomic::Ordering::Relaxed);
        if let (Some(domain), rate) = (claim.domain, share(self.cfg.recovery_rate, alive)) {
            if rate > 0
                && matches!(self.store.domain_state(domain).await, Ok(Some(s)) if s == "recovering")
            {
                let wait = {
                    let mut pacer = self.pacer.lock().unwrap_or_else(|p| p.into_inner());
                    let next = pacer.entry(domain).or_insert(0);
                    pace(next, now_ms() * 1000, rate)
                };
                if wait > 0 {
                    tokio::time::sleep(Duration::from_micros(wait as u64)).await;
                }
            }
        }
        // RFC 5321 §5.1: on a temporary failure, the next host is tried
        let mut last = (String::new(), first);
        for route in &routes {
            let pass = self.route_gate(route).enter().await;
            let remote = route.to_string();
            tracing::debug!(delivery = %claim.delivery, %remote, "delivering");
            let attempt = self
                .deliverer
                .deliver(route, &claim.mail_from, &claim.rcpt, &message)
                .await;
            pass.leave(match attempt {
                Attempt::Temporary(_) => gate::Met::Busy,
                Attempt::Accepted(_) | Attempt::Permanent(_) => gate::Met::Answered,
            });
            match attempt {
                Attempt::Accepted(reply) => return Outcome::Delivered { reply, remote },
                Attempt::Temporary(reply) => last = (reply, remote),
                Attempt::Permanent(reply) => {
                    let dsn = self.dsn(claim, &reply, Some(&remote), "5.0.0", &raw);
                    return Outcome::Bounced { reply, remote, dsn };
                }
            }
        }
        let (reply, remote) = last;
        if let (Some(domain), Some(tx)) = (claim.domain, self.signals.get()) {
            let _ = tx.try_send((domain, reply.clone()));
        }
        self.temporary(claim, reply, remote, Some(&raw), now)
    }

    /// A temporary failure: retry later, or expire when too old.
    fn temporary(
        &self,
        claim: &Claim,
        reply: String,
        remote: String,
        raw: Option<&[u8]>,
        now: i64,
    ) -> Outcome {
        let age = Duration::from_millis((now - claim.received_at).max(0) as u64);
        if age >= self.cfg.max_age {
            let reason = format!(
                "message expired after {} in the queue; last error: {reply}",
                humantime::format_duration(Duration::from_secs(age.as_secs()))
            );
            let dsn = self.dsn(
                claim,
                &reason,
                (!remote.is_empty()).then_some(remote.as_str()),
                "4.4.7",
                raw.unwrap_or_default(),
            );
            return Outcome::Expired { reply: reason, dsn };
        }
        let i = (claim.attempts as usize).min(self.cfg.retry_intervals.len() - 1);
        let wait = self.cfg.retry_intervals[i];
        Outcome::Deferred {
            reply,
            remote,
            next_attempt_at: now + wait.as_millis() as i64,
        }
    }

    /// The DSN for a failed delivery; none for the null sender (RFC 5321
    /// §4.5.5: never bounce a bounce).
    fn dsn(
        &self,
        claim: &Claim,
        diagnostic: &str,
        remote: Option<&str>,
        default_status: &str,
        raw: &[u8],
    ) -> Option<NewMessage> {
        if claim.mail_from.is_empty() {
            return None;
        }
        let bytes = dsn::build(&dsn::Failure {
            reporting_mta: &self.hostname,
            original_sender: &claim.mail_from,
            rcpt: &claim.rcpt,
            diagnostic,
            status: dsn::status_of(diagnostic, default_status),
            remote_mta: remote,
            arrival: claim.received_at,
            original: raw,
        });
        let (domain, user) = match self.directory.check(&claim.mail_from) {
            RcptVerdict::Accept { domain, user } => (Some(domain), user),
            RcptVerdict::UnknownUser | RcptVerdict::Disabled => {
                // In a protected domain but unknown here: its primary decides.
                let d = self
                    .directory
                    .current()
                    .domains
                    .get(
                        &claim
                            .mail_from
                            .rsplit_once('@')
                            .map(|(_, d)| d.to_ascii_lowercase())
                            .unwrap_or_default(),
                    )
                    .map(|(id, _)| *id);
                (d, None)
            }
            RcptVerdict::NotProtected => (None, None),
        };
        Some(NewMessage {
            origin: Origin::Dsn,
            mail_from: String::new(),
            client_ip: None,
            helo: None,
            tls: false,
            summary: Summary::parse(&bytes),
            raw: bytes,
            recipients: vec![NewRecipient {
                rcpt: claim.mail_from.clone(),
                domain,
                user,
            }],
            in_reply_to: Some(claim.message),
            sign_as: None,
        })
    }
}

/// `Received:` header fields in a message's header (loop detection).
fn count_received(raw: &[u8]) -> usize {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    raw[..end]
        .split(|&b| b == b'\n')
        .filter(|l| l.len() >= 9 && l[..9].eq_ignore_ascii_case(b"received:"))
        .count()
}

/// Our trace header (RFC 5321 §4.4), prepended when relaying; the stored
/// message stays byte-exact.
pub fn received_header(claim: &Claim, hostname: &str) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(claim.received_at / 1000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_default();
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control() && *c != '(' && *c != ')')
            .take(100)
            .collect()
    };
    match (&claim.helo, &claim.client_ip) {
        (Some(helo), Some(ip)) => format!(
            "Received: from {} ([{}])\r\n\tby {hostname} (Continuity) with {} id {}\r\n\tfor <{}>; {date}\r\n",
            clean(helo),
            clean(ip),
            if claim.tls { "ESMTPS" } else { "ESMTP" },
            claim.message,
            clean(&claim.rcpt),
        ),
        _ => format!(
            "Received: by {hostname} (Continuity) id {}\r\n\tfor <{}>; {date}\r\n",
            claim.message,
            clean(&claim.rcpt),
        ),
    }
}
