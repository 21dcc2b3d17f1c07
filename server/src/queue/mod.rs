//! The delivery queue: from the store to each domain's primary.
//!
//! A loop claims due deliveries (the claim is recorded before anything is
//! sent), delivers a message's deliveries to one destination together (one
//! transaction, each recipient judged on its own) through a [`Deliverer`] with a global and a
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
//! - `routes`: where a delivery goes, and which go together in one
//!   transaction; `attempt`: one transaction tried, each recipient's
//!   outcome; `trace`: our `Received:` field and loop detection.
//! - [`mx`]: MX resolution (hickory-resolver), null MX, implicit MX.
//! - [`dsn`]: building RFC 3464 reports.
//! - [`hold`]: how long this node's claims are surely its own.
//! - [`pace`]: the recovery rate.
//!
//! Several nodes may share one database: each claim belongs to the node
//! that made it, for a lease the node renews while its attempts run; a
//! node that dies has its claims taken back by the others once the lease
//! ran out, and a node that cannot renew abandons its attempts first.

mod attempt;
pub mod client;
pub mod dsn;
pub mod gate;
pub mod hold;
pub mod mx;
pub mod pace;
mod routes;
mod tls;
mod trace;
pub mod transport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Semaphore};

use crate::config::QueueConfig;
use crate::directory::Directory;
use crate::store::{now_ms, Store};
pub use pace::{pace, share};
pub use routes::{Direct, Outbound};
pub use tls::TlsSetup;
pub use trace::received_header;
pub use transport::{Attempt, Deliverer, Route, RouteAuth, SmtpDeliverer};

/// Longest wait for a batch of free slots before claiming what is free.
const CLAIM_WAIT: Duration = Duration::from_millis(50);

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
    /// Each domain's primary, read at most once a second.
    primaries: routes::Primaries,
    /// Where temporary failures to a primary are reported (the monitor's
    /// passive signal).
    pub signals: std::sync::OnceLock<tokio::sync::mpsc::Sender<(crate::store::DomainId, String)>>,
    /// Next free slot (µs) per recovering primary: the recovery rate.
    pacer: Mutex<HashMap<crate::store::DomainId, i64>>,
    /// Nodes alive on this database (this one included): each flushes its
    /// share of the recovery rate.
    nodes_alive: std::sync::atomic::AtomicU32,
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
            primaries: routes::Primaries::default(),
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
            for transaction in self.transactions(claims) {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                let me = self.clone();
                tokio::spawn(async move {
                    me.attempt(transaction).await;
                    drop(permit);
                });
            }
            if idle {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(self.cfg.poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
            } else if slots.available_permits() < self.claim_batch() {
                // Wait for a batch of slots before claiming more: one claim
                // (a commit, and the hand-offs to the database's threads)
                // for several deliveries, not one each, while the slots
                // still taken keep the destinations busy. Not longer than
                // CLAIM_WAIT: slots held by slow servers must not leave the
                // others idle.
                let batch = u32::try_from(self.claim_batch()).unwrap_or(1);
                if let Ok(Ok(p)) = tokio::time::timeout(CLAIM_WAIT, slots.acquire_many(batch)).await
                {
                    drop(p);
                } else if let Ok(p) = slots.acquire().await {
                    drop(p);
                }
            }
        }
        let all = self.cfg.concurrency as u32;
        let _ = tokio::time::timeout(Duration::from_secs(30), slots.acquire_many(all)).await;
        renewer.abort();
    }

    /// The fewest free slots worth a claim while deliveries flow: half
    /// of them (measured with `scripts/bench-failover`: a claim per
    /// delivery cost about 0.8 ms of CPU a message more, on a machine
    /// whose other core is the primary's).
    fn claim_batch(&self) -> usize {
        (self.cfg.concurrency / 2).max(1)
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

    fn route_gate(&self, route: &Route) -> Arc<gate::Gate> {
        let mut map = match self.per_route.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.entry(route.clone())
            .or_insert_with(|| gate::Gate::new(self.cfg.per_destination))
            .clone()
    }
}
