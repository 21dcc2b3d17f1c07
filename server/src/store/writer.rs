//! The writer task: group commit for every hot write.
//!
//! Requests queue on a channel. The task takes the first, then every other
//! request already waiting (up to [`MAX_BATCH`]), applies each inside its own
//! SAVEPOINT of one transaction, commits once (one WAL fsync with
//! `synchronous = FULL`), and only then answers each caller. While one batch
//! is being fsynced, the next fills up, so concurrent SMTP sessions share
//! fsyncs instead of queueing behind each other's.

use crate::store::db;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Notify};

use super::admin::NewUser;
use super::events::rejected;
use super::ingest::{goes_together, ingest, together, Later};
use super::{
    now_ms, Claim, DeliveryId, MessageId, NewMessage, Outcome, Rejection, Result, StoreError,
    UserId,
};

/// Most requests committed together.
pub const MAX_BATCH: usize = 512;

pub enum Request {
    /// A message, and the user whose Sent it is filed in (in the same commit).
    Ingest(
        Box<NewMessage>,
        Option<UserId>,
        oneshot::Sender<Result<MessageId>>,
    ),
    Reject(Rejection),
    Claim {
        node: String,
        limit: usize,
        now: i64,
        lease: i64,
        reply: oneshot::Sender<Result<Vec<Claim>>>,
    },
    RenewClaims {
        node: String,
        until: i64,
        reply: oneshot::Sender<Result<u64>>,
    },
    Outcome {
        node: String,
        delivery: DeliveryId,
        outcome: Box<Outcome>,
        reply: oneshot::Sender<Result<()>>,
    },
    RequeueInterrupted {
        node: String,
        reply: oneshot::Sender<Result<u64>>,
    },
    Flush {
        reply: oneshot::Sender<Result<()>>,
    },
    AddUser(Box<NewUser>, oneshot::Sender<Result<UserId>>),
    /// Search documents of pending messages (see `indexer.rs`).
    Index(Vec<super::fts::Doc>, oneshot::Sender<Result<u64>>),
}

/// A computed answer, held until the batch is committed.
enum Answer {
    Message(oneshot::Sender<Result<MessageId>>, Result<MessageId>),
    Claims(oneshot::Sender<Result<Vec<Claim>>>, Result<Vec<Claim>>),
    Unit(oneshot::Sender<Result<()>>, Result<()>),
    Count(oneshot::Sender<Result<u64>>, Result<u64>),
    User(oneshot::Sender<Result<UserId>>, Result<UserId>),
    None,
}

impl Answer {
    /// The commit failed: nothing in the batch is durable.
    fn fail(self) {
        match self {
            Answer::Message(tx, _) => drop(tx.send(Err(StoreError::Unavailable))),
            Answer::Claims(tx, _) => drop(tx.send(Err(StoreError::Unavailable))),
            Answer::Unit(tx, _) => drop(tx.send(Err(StoreError::Unavailable))),
            Answer::Count(tx, _) => drop(tx.send(Err(StoreError::Unavailable))),
            Answer::User(tx, _) => drop(tx.send(Err(StoreError::Unavailable))),
            Answer::None => {}
        }
    }
    fn send(self) {
        match self {
            Answer::Message(tx, r) => drop(tx.send(r)),
            Answer::Claims(tx, r) => drop(tx.send(r)),
            Answer::Unit(tx, r) => drop(tx.send(r)),
            Answer::Count(tx, r) => drop(tx.send(r)),
            Answer::User(tx, r) => drop(tx.send(r)),
            Answer::None => {}
        }
    }
}

/// Whom a writer wakes after its commits.
#[derive(Clone)]
pub struct Wakes {
    /// The queue: deliveries were queued, or came back.
    pub queue: Arc<Notify>,
    /// The indexer: messages were stored.
    pub index: Arc<Notify>,
    /// SQLite's checkpointer: the WAL grew (see `checkpoint.rs`).
    pub checkpoint: Option<mpsc::Sender<()>>,
}

pub async fn run(pool: db::Pool, mut rx: mpsc::Receiver<Request>, wake: Wakes) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // The writer keeps its connection between batches (the write pool is
    // the writers' alone): taking it from the pool each time cost a check
    // and a hand-back, a fifth of a batch's time on SQLite. After a failed
    // batch it goes back, and the pool's next one is checked.
    let mut held: Option<db::PoolConn> = None;
    // once a minute, when nothing waits, the held connection gives back
    // its prepared statements and page cache (megabytes after a burst of
    // batches of every size; see memory.rs): its next statements are
    // prepared again, a few milliseconds a minute
    let mut shed_at = tokio::time::Instant::now();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let stored = batch.iter().any(|r| matches!(r, Request::Ingest(..)));
        let wakes_queue = batch.iter().any(|r| {
            matches!(
                r,
                Request::Ingest(..) | Request::Outcome { .. } | Request::RequeueInterrupted { .. }
            )
        });
        let conn = match held.take() {
            Some(conn) => Ok(conn),
            None => pool.acquire().await,
        };
        match conn {
            Ok(mut conn) => match apply_batch(&mut conn, std::mem::take(&mut batch)).await {
                Ok(answers) => {
                    held = Some(conn);
                    if let Some(checkpoint) = &wake.checkpoint {
                        let _ = checkpoint.try_send(());
                    }
                    answers.into_iter().for_each(Answer::send);
                }
                Err((e, answers)) => {
                    tracing::error!(error = %e, "group commit failed");
                    answers.into_iter().for_each(Answer::fail);
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "writer cannot get its connection");
                batch.drain(..).for_each(answer_unavailable);
            }
        }
        if wakes_queue {
            wake.queue.notify_one();
        }
        if stored {
            wake.index.notify_one();
        }
        if rx.is_empty() && shed_at.elapsed() >= crate::memory::TRIM_EVERY {
            shed_at = tokio::time::Instant::now();
            if let Some(conn) = held.as_mut() {
                if let Err(e) = conn.shed().await {
                    tracing::warn!(error = %e, "the writer's connection could not free its caches");
                    held = None;
                }
            }
        }
    }
}

fn answer_unavailable(r: Request) {
    match r {
        Request::Ingest(_, _, tx) => drop(tx.send(Err(StoreError::Unavailable))),
        Request::Claim { reply, .. } => drop(reply.send(Err(StoreError::Unavailable))),
        Request::Outcome { reply, .. } | Request::Flush { reply } => {
            drop(reply.send(Err(StoreError::Unavailable)))
        }
        Request::RequeueInterrupted { reply, .. } | Request::RenewClaims { reply, .. } => {
            drop(reply.send(Err(StoreError::Unavailable)))
        }
        Request::AddUser(_, reply) => drop(reply.send(Err(StoreError::Unavailable))),
        Request::Index(_, reply) => drop(reply.send(Err(StoreError::Unavailable))),
        Request::Reject(_) => {}
    }
}

type BatchResult = std::result::Result<Vec<Answer>, (StoreError, Vec<Answer>)>;

async fn apply_batch(conn: &mut db::PoolConn, batch: Vec<Request>) -> BatchResult {
    let mut answers = Vec::with_capacity(batch.len());
    let now = now_ms();
    // PostgreSQL: the batch's mailbox rows, filed just before the commit
    let mut later = Later::default();
    let backend = conn.backend();
    let mut msgs = Vec::new();
    let mut rest = Vec::with_capacity(batch.len());
    for r in batch {
        match r {
            Request::Ingest(m, sent_by, reply) if goes_together(backend, &m) => {
                msgs.push((m, sent_by, reply))
            }
            other => rest.push(other),
        }
    }
    let one_by_one = |msgs: Vec<(Box<NewMessage>, Option<UserId>, _)>| {
        msgs.into_iter()
            .map(|(m, sent_by, reply)| Request::Ingest(m, sent_by, reply))
    };
    // IMMEDIATE (on SQLite): take the write lock up front. A deferred
    // transaction that reads first cannot upgrade once another connection
    // has written (WAL's SQLITE_BUSY_SNAPSHOT, which the busy timeout does
    // not retry).
    //
    // The batch's messages first, together in as few calls as can be, in
    // the transaction itself: a savepoint copies each page before it first
    // changes it (a tenth of the writer's time went to that), and should
    // one of them be refused, the transaction holds nothing else yet: it is
    // rolled back, and they go one by one with the rest.
    //
    // The rest each in its own savepoint: one bad request cannot spoil the
    // others, and never leaves half of itself behind. The end of one and
    // the start of the next go in one round trip (the first with the BEGIN
    // when no messages went before); the commit ends the last.
    let mut tx = loop {
        let begun = if msgs.len() >= 2 {
            conn.begin().await
        } else {
            rest.splice(0..0, one_by_one(std::mem::take(&mut msgs)));
            conn.begin_then("SAVEPOINT req").await
        };
        let mut tx = match begun {
            Ok(tx) => tx,
            Err(e) => {
                one_by_one(msgs).chain(rest).for_each(answer_unavailable);
                return Err((e.into(), answers));
            }
        };
        if msgs.is_empty() {
            break tx;
        }
        let list: Vec<_> = msgs.iter().map(|(m, u, _)| (&**m, *u)).collect();
        match together(&mut tx, &list, now, &mut later).await {
            Ok(ids) => {
                for ((_, _, reply), id) in msgs.into_iter().zip(ids) {
                    answers.push(Answer::Message(reply, Ok(id)));
                }
                if !rest.is_empty() {
                    if let Err(e) = db::raw("SAVEPOINT req", &mut tx).await {
                        rest.into_iter().for_each(answer_unavailable);
                        return Err((e.into(), answers));
                    }
                }
                break tx;
            }
            Err(e) => {
                // again, one by one with the rest
                tracing::debug!(error = %e, "messages stored one by one");
                later.truncate(0);
                if let Err(e) = tx.rollback().await {
                    one_by_one(msgs).chain(rest).for_each(answer_unavailable);
                    return Err((e.into(), answers));
                }
                rest.splice(0..0, one_by_one(std::mem::take(&mut msgs)));
            }
        }
    };
    let batch = rest;
    let last = batch.len().saturating_sub(1);
    for (i, req) in batch.into_iter().enumerate() {
        let filed = later.len();
        let answer = match req {
            Request::Ingest(msg, sent_by, reply) => {
                Answer::Message(reply, ingest(&mut tx, &msg, sent_by, now, &mut later).await)
            }
            Request::Reject(r) => {
                let _ = rejected(&mut tx, &r, now).await;
                Answer::None
            }
            Request::Claim {
                node,
                limit,
                now,
                lease,
                reply,
            } => Answer::Claims(
                reply,
                super::queue_writes::claim(&mut tx, &node, limit, now, lease).await,
            ),
            Request::RenewClaims { node, until, reply } => Answer::Count(
                reply,
                super::queue_writes::renew(&mut tx, &node, until).await,
            ),
            Request::Outcome {
                node,
                delivery,
                outcome,
                reply,
            } => Answer::Unit(
                reply,
                super::queue_writes::outcome_apply(
                    &mut tx, &node, delivery, *outcome, now, &mut later,
                )
                .await,
            ),
            Request::RequeueInterrupted { node, reply } => Answer::Count(
                reply,
                super::queue_writes::requeue_interrupted(&mut tx, &node, now).await,
            ),
            Request::Flush { reply } => Answer::Unit(reply, Ok(())),
            Request::AddUser(user, reply) => {
                Answer::User(reply, add_user(&mut tx, &user, now).await)
            }
            Request::Index(docs, reply) => {
                Answer::Count(reply, super::fts::write_pending(&mut tx, &docs).await)
            }
        };
        let failed = matches!(
            &answer,
            Answer::Message(_, Err(_))
                | Answer::User(_, Err(_))
                | Answer::Claims(_, Err(_))
                | Answer::Unit(_, Err(_))
                | Answer::Count(_, Err(_))
        );
        if failed {
            // its mailbox rows go with it
            later.truncate(filed);
        }
        let end = match (failed, i == last) {
            (true, true) => Some("ROLLBACK TO req"),
            (true, false) => Some("ROLLBACK TO req; RELEASE req; SAVEPOINT req"),
            (false, true) => None,
            (false, false) => Some("RELEASE req; SAVEPOINT req"),
        };
        if let Some(end) = end {
            if let Err(e) = db::raw(end, &mut tx).await {
                answers.push(answer);
                return Err((e.into(), answers));
            }
        }
        answers.push(answer);
    }
    if let Err(e) = later.file(&mut tx).await {
        return Err((e, answers));
    }
    match tx.commit().await {
        Ok(()) => Ok(answers),
        Err(e) => Err((e.into(), answers)),
    }
}

/// Insert a user and its aliases, refusing any address already taken.
async fn add_user(conn: &mut db::Tx<'_>, u: &NewUser, now: i64) -> Result<UserId> {
    let Some((primary, aliases)) = u.addresses.split_first() else {
        return Err(StoreError::Invalid("a user needs an address".into()));
    };
    for a in &u.addresses {
        let taken: Option<i64> = db::query_scalar(
            "SELECT id FROM users WHERE lower(address) = lower(?1) \
             UNION SELECT user_id FROM user_aliases WHERE lower(address) = lower(?1)",
        )
        .bind(a)
        .fetch_optional(&mut *conn)
        .await?;
        if taken.is_some() {
            return Err(StoreError::Invalid(format!(
                "{a} already belongs to a user"
            )));
        }
    }
    let id: i64 = db::query(
        "INSERT INTO users (domain_id, address, display_name, source, created_at) \
         VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(u.domain.0)
    .bind(primary)
    .bind(&u.display_name)
    .bind(&u.source)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    for a in aliases {
        db::query("INSERT INTO user_aliases (address, user_id) VALUES (?, ?)")
            .bind(a)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(UserId(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{self, Scratch};
    use crate::store::DomainId;
    use crate::store::Store;

    fn message(subject: &str, domain: DomainId, user: Option<UserId>) -> Box<NewMessage> {
        Box::new(testing::message_to_alice(subject, "body", domain, user))
    }

    async fn kinds(store: &Store, id: MessageId) -> Vec<String> {
        db::query_scalar("SELECT kind FROM events WHERE message_id = ? ORDER BY id")
            .bind(id.0)
            .fetch_all(&store.read)
            .await
            .expect("events")
    }

    /// Apply `batch` as the writer does; the answers sent.
    async fn apply(store: &Store, batch: Vec<Request>) {
        let mut conn = store.read.acquire().await.expect("connection");
        match apply_batch(&mut conn, batch).await {
            Ok(answers) => answers.into_iter().for_each(Answer::send),
            Err((e, _)) => panic!("the batch failed: {e}"),
        }
    }

    #[tokio::test]
    async fn a_refused_message_does_not_spoil_its_batch() {
        let dir = Scratch::new("writer-batch");
        let (store, alice, domain) = testing::with_alice(dir.path()).await;
        // the middle one names a domain that does not exist
        let mut batch = Vec::new();
        let mut replies = Vec::new();
        for (subject, d) in [
            ("one", domain),
            ("bad", DomainId(987_654)),
            ("three", domain),
        ] {
            let (tx, rx) = oneshot::channel();
            batch.push(Request::Ingest(message(subject, d, Some(alice)), None, tx));
            replies.push(rx);
        }
        apply(&store, batch).await;
        let mut results = Vec::new();
        for rx in replies {
            results.push(rx.await.expect("answered"));
        }
        assert!(results[1].is_err(), "{:?}", results[1]);
        let stored: Vec<MessageId> = [&results[0], &results[2]]
            .iter()
            .map(|r| *r.as_ref().expect("stored"))
            .collect();
        let messages: i64 = db::query_scalar("SELECT COUNT(*) FROM messages")
            .fetch_one(&store.read)
            .await
            .expect("count");
        assert_eq!(messages, 2, "nothing of the refused one is left");
        let subjects: Vec<String> = db::query_scalar("SELECT subject FROM messages ORDER BY id")
            .fetch_all(&store.read)
            .await
            .expect("subjects");
        assert_eq!(subjects, ["one", "three"]);
        for id in stored {
            assert_eq!(kinds(&store, id).await, ["received", "queued"]);
            let filed: i64 = db::query_scalar(
                "SELECT COUNT(*) FROM mailbox WHERE message_id = ? AND user_id = ? AND folder = 'inbox'",
            )
            .bind(id.0)
            .bind(alice.0)
            .fetch_one(&store.read)
            .await
            .expect("mailbox");
            assert_eq!(filed, 1);
        }
        // a batch of good ones while the primary is in an outage: each
        // held from the start, with its own rows, in order
        db::query("UPDATE domains SET state = 'outage' WHERE id = ?")
            .bind(domain.0)
            .execute(&store.read)
            .await
            .expect("outage");
        let mut batch = Vec::new();
        let mut replies = Vec::new();
        for subject in ["four", "five"] {
            let (tx, rx) = oneshot::channel();
            batch.push(Request::Ingest(
                message(subject, domain, Some(alice)),
                None,
                tx,
            ));
            replies.push(rx);
        }
        apply(&store, batch).await;
        let four = replies.remove(0).await.expect("answered").expect("four");
        let five = replies.remove(0).await.expect("answered").expect("five");
        assert!(five.0 > four.0);
        assert_eq!(kinds(&store, four).await, ["received", "queued", "held"]);
        assert_eq!(kinds(&store, five).await, ["received", "queued", "held"]);
        // sent by alice, together: each in her Sent as well as her Inbox
        let mut batch = Vec::new();
        let mut replies = Vec::new();
        for subject in ["six", "seven"] {
            let (tx, rx) = oneshot::channel();
            batch.push(Request::Ingest(
                message(subject, domain, Some(alice)),
                Some(alice),
                tx,
            ));
            replies.push(rx);
        }
        apply(&store, batch).await;
        for rx in replies {
            let id = rx.await.expect("answered").expect("stored");
            let folders: Vec<String> = db::query_scalar(
                "SELECT folder FROM mailbox WHERE message_id = ? AND user_id = ? ORDER BY folder",
            )
            .bind(id.0)
            .bind(alice.0)
            .fetch_all(&store.read)
            .await
            .expect("mailbox");
            assert_eq!(folders, ["inbox", "sent"]);
            assert_eq!(kinds(&store, id).await, ["received", "queued", "held"]);
        }
        // messages with other requests after them, the messages stored
        // together and then one by one (one refused): the others answered
        for (subjects, refused) in [(["eight", "nine"], false), (["ten", "bad"], true)] {
            let mut batch = Vec::new();
            let mut replies = Vec::new();
            for subject in subjects {
                let d = if subject == "bad" {
                    DomainId(987_654)
                } else {
                    domain
                };
                let (tx, rx) = oneshot::channel();
                batch.push(Request::Ingest(message(subject, d, Some(alice)), None, tx));
                replies.push(rx);
            }
            let (flush, flushed) = oneshot::channel();
            batch.push(Request::Flush { reply: flush });
            let (user, added) = oneshot::channel();
            batch.push(Request::AddUser(
                Box::new(NewUser {
                    domain,
                    addresses: vec![format!("{}@example.test", subjects[0])],
                    display_name: String::new(),
                    source: "local".into(),
                }),
                user,
            ));
            apply(&store, batch).await;
            let first = replies.remove(0).await.expect("answered");
            let second = replies.remove(0).await.expect("answered");
            assert!(first.is_ok(), "{first:?}");
            assert_eq!(second.is_err(), refused, "{second:?}");
            flushed.await.expect("answered").expect("flushed");
            added.await.expect("answered").expect("the user added");
        }
        let subjects: Vec<String> =
            db::query_scalar("SELECT subject FROM messages WHERE id > ? ORDER BY id")
                .bind(five.0)
                .fetch_all(&store.read)
                .await
                .expect("subjects");
        assert_eq!(subjects, ["six", "seven", "eight", "nine", "ten"]);
    }
}
