//! Several nodes on one database: who this node is, its heartbeat, and the
//! jobs that must run on one node at a time.
//!
//! Every node answers SMTP, submission, IMAP and the web. The outage
//! monitor, the retention purge, the directory sync schedule and the
//! webhook sender each run where their **lease** is held: a row per job
//! (holder, expiry) taken or renewed in one statement (see
//! [`Store::lease`]), valid [`LEASE`] and renewed every [`RENEW`]. A node
//! that dies stops renewing, and another takes the job within [`LEASE`];
//! a node that stops gives its leases back at once. A node that cannot
//! reach the database cannot renew, and stops the job when its lease runs
//! out, before another node may take it (the two never overlap while their
//! clocks agree within [`LEASE`] − [`RENEW`]).
//!
//! On SQLite there is one node and it leads every job (the lease costs a
//! row write every few seconds).

use std::time::Duration;

use tokio::sync::watch;

use crate::store::{now_ms, Store};

/// How long a lease lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often a holder renews (and a waiting node asks).
pub const RENEW: Duration = Duration::from_secs(5);

/// A job that runs on one node at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Monitor,
    Retention,
    DirectorySync,
    Webhooks,
}

impl Job {
    pub const ALL: [Job; 4] = [
        Job::Monitor,
        Job::Retention,
        Job::DirectorySync,
        Job::Webhooks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Job::Monitor => "monitor",
            Job::Retention => "retention",
            Job::DirectorySync => "directory-sync",
            Job::Webhooks => "webhooks",
        }
    }
}

/// This node: its id (`[server] node_id`, by default the machine's host
/// name) and when it started.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub started_at: i64,
    /// The fingerprint of the settings all nodes must share
    /// (`Config::shared_fingerprint`).
    pub settings: String,
}

impl Node {
    pub fn new(id: &str) -> Node {
        Node {
            id: id.to_string(),
            started_at: now_ms(),
            settings: String::new(),
        }
    }

    /// This node runs with shared settings of this fingerprint.
    pub fn with_settings(mut self, fingerprint: &str) -> Node {
        self.settings = fingerprint.to_string();
        self
    }

    /// The lead of `job` for this node.
    pub fn leader(&self, store: &Store, job: Job) -> Leader {
        Leader {
            store: store.clone(),
            node: self.id.clone(),
            job,
            held_until: 0,
        }
    }
}

/// The machine's host name, for the default node id.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "node".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(s) if !s.is_empty() => s.to_string(),
        _ => "node".to_string(),
    }
}

/// Whether this node leads one job, renewed as it is asked.
pub struct Leader {
    store: Store,
    node: String,
    job: Job,
    /// The lease this node holds runs until then (0: not held).
    held_until: i64,
}

impl Leader {
    /// Does this node lead the job now? Renews the lease when it is due (or
    /// tries to take it); a database error counts as not leading once the
    /// lease held has run out.
    pub async fn leading(&mut self) -> bool {
        self.leading_at(now_ms()).await
    }

    /// [`Leader::leading`] at a given time (tests).
    pub async fn leading_at(&mut self, now: i64) -> bool {
        let renew_after = self.held_until - (LEASE - RENEW).as_millis() as i64;
        if self.held_until > now && now < renew_after {
            return true;
        }
        let lease = LEASE.as_millis() as i64;
        match self
            .store
            .lease(self.job.as_str(), &self.node, now, lease)
            .await
        {
            Ok(true) => {
                if self.held_until <= now {
                    tracing::info!(job = self.job.as_str(), node = %self.node, "this node now leads the job");
                }
                self.held_until = now + lease;
                true
            }
            Ok(false) => {
                if self.held_until > 0 {
                    tracing::warn!(job = self.job.as_str(), node = %self.node, "another node leads the job now");
                }
                self.held_until = 0;
                false
            }
            Err(e) => {
                tracing::error!(error = %e, job = self.job.as_str(), "cannot renew the job's lease");
                if self.held_until <= now {
                    self.held_until = 0;
                }
                self.held_until > now
            }
        }
    }

    /// Give the lease back (this node stops).
    pub async fn release(&mut self) {
        if self.held_until > 0 {
            let _ = self
                .store
                .release_lease(self.job.as_str(), &self.node)
                .await;
            self.held_until = 0;
        }
    }
}

/// A lead that is always held (one node, tests).
pub fn always() -> watch::Receiver<bool> {
    watch::channel(true).1
}

/// Keep `job`'s lead for this node until shutdown: ask (and renew) every
/// [`RENEW`], and tell through the receiver whether this node leads it.
/// At shutdown the lease is given back. Jobs look before each round of
/// work (a purge batch, a probe round, a sync, a post).
pub fn lead(
    store: &Store,
    node: &Node,
    job: Job,
    mut shutdown: watch::Receiver<bool>,
) -> (watch::Receiver<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let mut leader = node.leader(store, job);
    let task = tokio::spawn(async move {
        loop {
            let now = leader.leading().await;
            tx.send_if_modified(|was| std::mem::replace(was, now) != now);
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tx.closed() => break,
                _ = tokio::time::sleep(RENEW) => {}
            }
        }
        let _ = tx.send(false);
        leader.release().await;
    });
    (rx, task)
}

/// Beat every [`RENEW`] until shutdown; says so when another process
/// uses this node's id.
pub async fn heartbeat(store: Store, node: Node, mut shutdown: watch::Receiver<bool>) {
    let version = env!("CARGO_PKG_VERSION");
    // nodes already told about: (node, its fingerprint)
    let mut told = std::collections::HashSet::new();
    loop {
        let now = now_ms();
        match store
            .heartbeat(&node.id, node.started_at, version, &node.settings, now)
            .await
        {
            Ok(Some(before)) if before != node.started_at => {
                // the first beat of a restart also sees an older start
                tracing::debug!(node = %node.id, before, "node id seen with another start time");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot record this node's heartbeat"),
        }
        match store.nodes().await {
            Ok(nodes) => {
                for other in settings_differ(&node, &nodes, now) {
                    if told.insert((other.id.clone(), other.settings.clone())) {
                        tracing::warn!(
                            node = %other.id,
                            theirs = %other.settings,
                            ours = %node.settings,
                            "another node runs with other shared settings than this one: \
                             what `continuity config --shared` prints must be the same on \
                             every node"
                        );
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "cannot read the other nodes"),
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(RENEW) => {}
        }
    }
}

/// The other nodes alive at `now` whose shared settings differ from
/// `node`'s (a node that published none is not judged).
pub fn settings_differ<'a>(
    node: &Node,
    nodes: &'a [crate::store::cluster::NodeRow],
    now: i64,
) -> Vec<&'a crate::store::cluster::NodeRow> {
    let alive = LEASE.as_millis() as i64;
    nodes
        .iter()
        .filter(|n| n.id != node.id && now - n.heartbeat_at <= alive)
        .filter(|n| !n.settings.is_empty() && !node.settings.is_empty())
        .filter(|n| n.settings != node.settings)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{settings_differ, Job, Node, LEASE, RENEW};

    /// Two nodes alive with different shared settings are told apart; a
    /// node long gone, or the same settings, are not.
    #[tokio::test]
    async fn nodes_with_other_shared_settings_are_found() {
        let dir = crate::store::testing::Scratch::new("settings");
        let store = crate::store::testing::open(dir.path())
            .await
            .expect("store");
        let a = Node::new("a").with_settings("aaaa");
        let now = 5_000_000;
        for (id, settings, at) in [
            ("a", "aaaa", now),
            ("b", "bbbb", now - 1_000),
            ("c", "aaaa", now),
            ("gone", "cccc", now - LEASE.as_millis() as i64 - 1),
        ] {
            store
                .heartbeat(id, 1, "test", settings, at)
                .await
                .expect("beat");
        }
        let nodes = store.nodes().await.expect("nodes");
        let differ: Vec<&str> = settings_differ(&a, &nodes, now)
            .iter()
            .map(|n| n.id.as_str())
            .collect();
        assert_eq!(differ, ["b"]);
    }

    /// Two nodes, one clock of the test's own: one leads at a time, the
    /// holder renews, the other takes over once the lease ran out, and a
    /// lease given back is taken at once.
    #[tokio::test]
    async fn one_leader_at_a_time_and_takeover_when_the_lease_runs_out() {
        let dir = crate::store::testing::Scratch::new("lease");
        let store = crate::store::testing::open(dir.path())
            .await
            .expect("store");
        let (a, b) = (Node::new("a"), Node::new("b"));
        let mut la = a.leader(&store, Job::Monitor);
        let mut lb = b.leader(&store, Job::Monitor);
        let lease = LEASE.as_millis() as i64;
        let renew = RENEW.as_millis() as i64;
        let t0 = 1_000_000;
        assert!(la.leading_at(t0).await, "a free job is taken");
        assert!(!lb.leading_at(t0).await, "and not by two");
        assert!(!lb.leading_at(t0 + lease - 1).await);
        // a renews on time: b still waits past the first lease's end
        assert!(la.leading_at(t0 + renew + 1).await);
        assert!(!lb.leading_at(t0 + lease + 1).await);
        // a stops renewing (it died): b takes over once the lease ran out
        let end = t0 + renew + 1 + lease;
        assert!(!lb.leading_at(end - 1).await);
        assert!(lb.leading_at(end).await, "takeover after the lease");
        assert!(
            !la.leading_at(end + 1).await,
            "the old leader knows it lost"
        );
        // other jobs are leased on their own
        let mut other = a.leader(&store, Job::Retention);
        assert!(other.leading_at(end + 1).await);
        // a lease given back is taken at once
        lb.release().await;
        assert!(la.leading_at(end + 2).await);
        let leases = store.leases().await.expect("leases");
        assert_eq!(leases.len(), 2);
        assert!(leases.iter().all(|l| l.holder == "a"), "{leases:?}");
    }
}
