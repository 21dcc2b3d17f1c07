//! What one node's writes tell the other nodes at once: whose mailbox
//! changed, so that IMAP IDLE on every node sees new mail, flags and
//! expunges made through any node; and a primary's temporary failures
//! seen by one node's queue, for the node that leads the monitor.
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

use super::{DomainId, UserId};

/// The PostgreSQL notification channel of mailbox changes.
pub const CHANNEL: &str = "continuity_mailbox";
/// The channel of a primary's temporary failures (`origin domain reason`).
pub const TROUBLE: &str = "continuity_trouble";

/// Most bytes of a failure's reason sent along.
const MAX_REASON: usize = 1_000;

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

/// What leaves for the other nodes.
enum Out {
    Mailbox(UserId),
    Trouble(DomainId, String),
}

/// The way out to the other nodes (PostgreSQL only).
#[derive(Clone)]
pub(super) struct Outbox {
    tx: mpsc::Sender<Out>,
}

impl Outbox {
    /// Tell the other nodes (never waits: when the sender is far behind,
    /// the change is dropped and their sessions see it at their next look).
    pub(super) fn send(&self, user: UserId) {
        let _ = self.tx.try_send(Out::Mailbox(user));
    }

    /// Tell the monitor's leader of a primary's temporary failure.
    pub(super) fn trouble(&self, domain: DomainId, why: &str) {
        let mut end = why.len().min(MAX_REASON);
        while !why.is_char_boundary(end) {
            end -= 1;
        }
        let _ = self
            .tx
            .try_send(Out::Trouble(domain, why[..end].to_string()));
    }
}

/// Where what the other nodes say goes, in this process.
pub(super) struct Inbox {
    pub mailbox: broadcast::Sender<MailboxEvent>,
    pub trouble: broadcast::Sender<(DomainId, String)>,
}

/// Start sending and listening on `pool`; events from the other nodes go
/// to `local`.
pub(super) fn start(pool: &PgPool, local: Inbox) -> Outbox {
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

async fn send(pool: PgPool, origin: String, mut rx: mpsc::Receiver<Out>) {
    while let Some(first) = rx.recv().await {
        let mut users = BTreeSet::new();
        let mut notes = Vec::new();
        let mut take = |o: Out| match o {
            Out::Mailbox(u) => {
                users.insert(u);
            }
            Out::Trouble(d, why) => notes.push((TROUBLE, format!("{origin} {d} {why}"))),
        };
        take(first);
        while let Ok(o) = rx.try_recv() {
            take(o);
        }
        notes.extend(payloads(&origin, &users).into_iter().map(|p| (CHANNEL, p)));
        for (channel, p) in notes {
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(&p)
                .execute(&pool)
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "cannot tell the other nodes");
            }
        }
    }
}

/// A primary's failure from another node (None: our own, or unreadable).
pub(super) fn parse_trouble(origin: &str, payload: &str) -> Option<(DomainId, String)> {
    let (from, rest) = payload.split_once(' ')?;
    if from == origin {
        return None;
    }
    let (d, why) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((DomainId(d.parse().ok()?), why.to_string()))
}

async fn listen(pool: PgPool, origin: String, local: Inbox) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other nodes' mailbox changes");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen_all([CHANNEL, TROUBLE]).await {
            tracing::warn!(error = %e, "cannot listen for other nodes' mailbox changes");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) if n.channel() == TROUBLE => {
                    if let Some(t) = parse_trouble(&origin, n.payload()) {
                        let _ = local.trouble.send(t);
                    }
                }
                Ok(Some(n)) => {
                    for u in parse(&origin, n.payload()).unwrap_or_default() {
                        let _ = local.mailbox.send(MailboxEvent::Changed(u));
                    }
                }
                // the connection was lost (the next call reconnects):
                // whatever was sent meanwhile is gone
                Ok(None) => {
                    let _ = local.mailbox.send(MailboxEvent::Missed);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lost the other nodes' mailbox changes");
                    let _ = local.mailbox.send(MailboxEvent::Missed);
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
        assert_eq!(
            parse_trouble("me", "you 12 451 4.3.0 busy, try later"),
            Some((DomainId(12), "451 4.3.0 busy, try later".into()))
        );
        assert_eq!(parse_trouble("me", "me 12 x"), None);
        assert_eq!(parse_trouble("me", "you x y"), None);
    }
}
