//! What one node's writes tell the other nodes at once: whose mailbox
//! changed, so that IMAP IDLE on every node sees new mail, flags and
//! expunges made through any node.
//!
//! In the process, a broadcast channel carries [`MailboxEvent`]s to the
//! IMAP sessions. On PostgreSQL the changes also leave through `NOTIFY` on
//! [`CHANNEL`] (a sender task gathers what piled up into one notification,
//! sent after the commit that made the change) and come in through a
//! `LISTEN` connection of each node, which ignores its own. When that
//! connection was lost — notifications may have been missed —
//! [`MailboxEvent::Missed`] tells every session to look again. On SQLite
//! there is one node and nothing leaves the process.

use std::collections::BTreeSet;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{broadcast, mpsc};

use super::UserId;

/// The PostgreSQL notification channel of mailbox changes.
pub const CHANNEL: &str = "continuity_mailbox";

/// Most bytes of one notification's payload (PostgreSQL's limit is 8000).
const MAX_PAYLOAD: usize = 7_000;

/// What an IMAP session learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxEvent {
    /// This user's mailbox changed.
    Changed(UserId),
    /// Changes may have been missed: every session looks again.
    Missed,
}

/// The way out to the other nodes (PostgreSQL only).
#[derive(Clone)]
pub(super) struct Outbox {
    tx: mpsc::Sender<UserId>,
}

impl Outbox {
    /// Tell the other nodes (never waits: when the sender is far behind,
    /// the change is dropped and their sessions see it at their next look).
    pub(super) fn send(&self, user: UserId) {
        let _ = self.tx.try_send(user);
    }
}

/// Start sending and listening on `pool`; events from the other nodes go
/// to `local`.
pub(super) fn start(pool: &PgPool, local: broadcast::Sender<MailboxEvent>) -> Outbox {
    let origin = origin();
    let (tx, rx) = mpsc::channel(4096);
    tokio::spawn(send(pool.clone(), origin.clone(), rx));
    tokio::spawn(listen(pool.clone(), origin, local));
    Outbox { tx }
}

/// This store's mark on its notifications (a node ignores its own).
fn origin() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        // no randomness: the time still tells two stores apart
        b = super::now_ms().to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Notifications for `users`: `origin id,id,…`, each under [`MAX_PAYLOAD`].
pub(super) fn payloads(origin: &str, users: &BTreeSet<UserId>) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for u in users {
        let id = u.0.to_string();
        if !cur.is_empty() && cur.len() + id.len() + 1 > MAX_PAYLOAD {
            out.push(std::mem::take(&mut cur));
        }
        if cur.is_empty() {
            cur.push_str(origin);
            cur.push(' ');
        } else {
            cur.push(',');
        }
        cur.push_str(&id);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The users of a notification from another node (None: our own, or not
/// ours to read).
pub(super) fn parse(origin: &str, payload: &str) -> Option<Vec<UserId>> {
    let (from, ids) = payload.split_once(' ')?;
    if from == origin {
        return None;
    }
    Some(
        ids.split(',')
            .filter_map(|i| i.parse::<i64>().ok())
            .map(UserId)
            .collect(),
    )
}

async fn send(pool: PgPool, origin: String, mut rx: mpsc::Receiver<UserId>) {
    while let Some(first) = rx.recv().await {
        let mut users = BTreeSet::from([first]);
        while let Ok(u) = rx.try_recv() {
            users.insert(u);
        }
        for p in payloads(&origin, &users) {
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(&p)
                .execute(&pool)
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "cannot tell the other nodes of mailbox changes");
            }
        }
    }
}

async fn listen(pool: PgPool, origin: String, local: broadcast::Sender<MailboxEvent>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other nodes' mailbox changes");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for other nodes' mailbox changes");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    for u in parse(&origin, n.payload()).unwrap_or_default() {
                        let _ = local.send(MailboxEvent::Changed(u));
                    }
                }
                // the connection was lost (the next call reconnects):
                // whatever was sent meanwhile is gone
                Ok(None) => {
                    let _ = local.send(MailboxEvent::Missed);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lost the other nodes' mailbox changes");
                    let _ = local.send(MailboxEvent::Missed);
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_stay_under_the_limit() {
        let users: BTreeSet<UserId> = (1..=3000).map(UserId).collect();
        let ps = payloads("ab12", &users);
        assert!(ps.len() > 1, "split");
        assert!(ps.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let back: BTreeSet<UserId> = ps.iter().flat_map(|p| parse("ff", p).unwrap()).collect();
        assert_eq!(back, users);
        assert_eq!(parse("ab12", &ps[0]), None, "our own is ignored");
        assert_eq!(parse("ff", "garbage"), None);
        assert!(payloads("ab12", &BTreeSet::new()).is_empty());
    }
}
