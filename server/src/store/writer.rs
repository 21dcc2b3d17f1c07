//! The writer task: group commit for every hot write.
//!
//! Requests queue on a channel. The task takes the first, then every other
//! request already waiting (up to [`MAX_BATCH`]), applies each inside its own
//! SAVEPOINT of one transaction, commits once (one WAL fsync with
//! `synchronous = FULL`), and only then answers each caller. While one batch
//! is being fsynced, the next fills up, so concurrent SMTP sessions share
//! fsyncs instead of queueing behind each other's.

use crate::store::db;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Notify};

use super::admin::NewUser;
use super::ingest_pg::Later;
use super::{
    now_ms, Claim, DeliveryId, DomainId, MessageId, NewMessage, Outcome, Rejection, Result,
    StoreError, UserId,
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
}

pub async fn run(pool: db::Pool, mut rx: mpsc::Receiver<Request>, wake: Wakes) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
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
        match pool.acquire().await {
            Ok(mut conn) => {
                let answers = apply_batch(&mut conn, std::mem::take(&mut batch)).await;
                match answers {
                    Ok(answers) => answers.into_iter().for_each(Answer::send),
                    Err((e, answers)) => {
                        tracing::error!(error = %e, "group commit failed");
                        answers.into_iter().for_each(Answer::fail);
                    }
                }
            }
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
    // IMMEDIATE: take the write lock up front. A deferred transaction that
    // reads first cannot upgrade once another connection has written (WAL's
    // SQLITE_BUSY_SNAPSHOT, which the busy timeout does not retry).
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            batch.into_iter().for_each(answer_unavailable);
            return Err((e.into(), answers));
        }
    };
    let now = now_ms();
    // Each request in its own savepoint: one bad request cannot spoil the
    // others, and never leaves half of itself behind. The end of one and
    // the start of the next go in one round trip; the commit ends the last.
    if let Err(e) = db::raw("SAVEPOINT req", &mut tx).await {
        batch.into_iter().for_each(answer_unavailable);
        return Err((e.into(), answers));
    }
    let mut batch = batch;
    if tx.backend() == db::Backend::Sqlite {
        // the batch's messages first, together in as few calls as can be
        let mut msgs = Vec::new();
        let mut rest = Vec::with_capacity(batch.len());
        for r in batch {
            match r {
                Request::Ingest(m, sent_by, reply) if !m.recipients.is_empty() => {
                    msgs.push((m, sent_by, reply))
                }
                other => rest.push(other),
            }
        }
        let together = if msgs.len() >= 2 {
            let list: Vec<_> = msgs.iter().map(|(m, u, _)| (&**m, *u)).collect();
            Some(ingest_sqlite_together(&mut tx, &list, now).await)
        } else {
            None
        };
        match together {
            Some(Ok(ids)) => {
                for ((_, _, reply), id) in msgs.into_iter().zip(ids) {
                    answers.push(Answer::Message(reply, Ok(id)));
                }
                if !rest.is_empty() {
                    if let Err(e) = db::raw("RELEASE req; SAVEPOINT req", &mut tx).await {
                        return Err((e.into(), answers));
                    }
                }
            }
            failed => {
                if let Some(Err(e)) = failed {
                    // one of them is refused: each in its own savepoint
                    tracing::debug!(error = %e, "messages stored one by one");
                    if let Err(e) = db::raw("ROLLBACK TO req", &mut tx).await {
                        return Err((e.into(), answers));
                    }
                }
                let one_by_one = msgs
                    .into_iter()
                    .map(|(m, sent_by, reply)| Request::Ingest(m, sent_by, reply));
                rest.splice(0..0, one_by_one);
            }
        }
        batch = rest;
    }
    let last = batch.len().saturating_sub(1);
    // PostgreSQL: the batch's mailbox rows, filed just before the commit
    let mut later = Later::default();
    for (i, req) in batch.into_iter().enumerate() {
        let filed = later.len();
        let answer = match req {
            Request::Ingest(msg, sent_by, reply) => {
                Answer::Message(reply, ingest(&mut tx, &msg, sent_by, now, &mut later).await)
            }
            Request::Reject(r) => {
                let _ = reject(&mut tx, &r, now).await;
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

pub(super) async fn event(
    conn: &mut db::Tx<'_>,
    at: i64,
    message: Option<MessageId>,
    delivery: Option<DeliveryId>,
    kind: &str,
    detail: serde_json::Value,
) -> Result<()> {
    db::query(
        "INSERT INTO events (at, message_id, delivery_id, kind, detail) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(at)
    .bind(message.map(|m| m.0))
    .bind(delivery.map(|d| d.0))
    .bind(kind)
    .bind(detail.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// File a message in the user's Sent (read), in the message's own commit.
async fn file_sent(conn: &mut db::Tx<'_>, user: UserId, id: MessageId, now: i64) -> Result<()> {
    db::query(
        "INSERT INTO mailbox (user_id, message_id, folder, received_at, seen) \
         VALUES (?, ?, 'sent', ?, TRUE) ON CONFLICT DO NOTHING",
    )
    .bind(user.0)
    .bind(id.0)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn ingest(
    conn: &mut db::Tx<'_>,
    m: &NewMessage,
    sent_by: Option<UserId>,
    now: i64,
    later: &mut Later,
) -> Result<MessageId> {
    if m.recipients.is_empty() {
        return Err(StoreError::Invalid("a message needs a recipient".into()));
    }
    if conn.backend() == db::Backend::Sqlite {
        let mut scripts = Vec::new();
        sqlite_script(&mut scripts, m, sent_by, now);
        let ids = run_scripts(conn, scripts, true).await?;
        return ids
            .first()
            .copied()
            .ok_or_else(|| StoreError::Invalid("the message was not stored".into()));
    }
    let id = super::ingest_pg::insert(conn, m, sent_by, now, later).await?;
    if let Some(user) = sent_by {
        file_sent(conn, user, id, now).await?;
    }
    if let Some(orig) = m.in_reply_to {
        event(
            conn,
            now,
            Some(orig),
            None,
            "dsn",
            json!({ "dsn_message": id.0, "to": m.recipients[0].rcpt }),
        )
        .await?;
    }
    Ok(id)
}

/// Most arguments in one SQLite script (SQLite allows 32,766; a
/// statement group binds at most 19).
const SCRIPT_ARGS: usize = 30_000;

/// The script of `scripts` to append a statement group to: the last one,
/// or a new one when it is full.
fn room<'a, 'q>(scripts: &'a mut Vec<db::Script<'q>>) -> &'a mut db::Script<'q> {
    if scripts.last().is_none_or(|s| s.args() > SCRIPT_ARGS) {
        scripts.push(db::Script::default());
    }
    let last = scripts.len() - 1;
    &mut scripts[last]
}

/// Run the scripts in order; the ids their statements returned.
async fn run_scripts(
    conn: &mut db::Tx<'_>,
    scripts: Vec<db::Script<'_>>,
    repeats: bool,
) -> Result<Vec<MessageId>> {
    let mut ids = Vec::new();
    for script in scripts {
        for r in script.query(repeats).fetch_all(&mut *conn).await? {
            ids.push(MessageId(r.try_get(0)?));
        }
    }
    Ok(ids)
}

/// Several messages on SQLite in as few calls as [`SCRIPT_ARGS`] allows:
/// their ids, in order. On an error the caller rolls back what was written
/// (the batch's savepoint) and stores them one by one.
async fn ingest_sqlite_together(
    conn: &mut db::Tx<'_>,
    msgs: &[(&NewMessage, Option<UserId>)],
    now: i64,
) -> Result<Vec<MessageId>> {
    let mut scripts = Vec::new();
    for (m, sent_by) in msgs {
        sqlite_script(&mut scripts, m, *sent_by, now);
    }
    // the same text for batches alike (n messages of one shape): kept
    // prepared, as SQLite parsing it again would cost more than the hops
    let ids = run_scripts(conn, scripts, true).await?;
    if ids.len() != msgs.len() {
        return Err(StoreError::Invalid(format!(
            "{} ids for {} messages",
            ids.len(),
            msgs.len()
        )));
    }
    Ok(ids)
}

/// The tracking event of a message's arrival (its detail).
pub(super) fn received_detail(m: &NewMessage) -> serde_json::Value {
    json!({
        "origin": m.origin.as_str(),
        "mail_from": m.mail_from,
        "client_ip": m.client_ip,
        "helo": m.helo,
        "tls": m.tls,
        "size": m.raw.len(),
        "recipients": m.recipients.len(),
    })
}

/// The tracking event of a delivery queued (its detail).
pub(super) fn queued_detail(r: &super::NewRecipient) -> serde_json::Value {
    let route = if r.domain.is_some() {
        "primary"
    } else {
        "outbound"
    };
    json!({ "rcpt": r.rcpt, "route": route })
}

/// The tracking event of a delivery held from the start (its detail).
pub(super) fn held_detail() -> serde_json::Value {
    json!({ "reason": "the primary is in an outage: kept in the continuity mailbox" })
}

/// The values of a `messages` row, in the order of its columns in both
/// backends' ingest (received_at … sent_by: 15 values).
pub(super) fn bind_message_row<'a, 'q>(
    script: &'a mut db::Script<'q>,
    m: &'q NewMessage,
    sent_by: Option<UserId>,
    now: i64,
) -> &'a mut db::Script<'q> {
    let s = &m.summary;
    script
        .bind(now)
        .bind(m.origin.as_str())
        .bind(&m.mail_from)
        .bind(&m.client_ip)
        .bind(&m.helo)
        .bind(m.tls)
        .bind(m.raw.len() as i64)
        .bind(&s.from)
        .bind(&s.to)
        .bind(&s.cc)
        .bind(&s.subject)
        .bind(s.date)
        .bind(&s.message_id)
        .bind(s.attachments as i64)
        // who sent it through us: the sending limit counts this, whatever
        // becomes of the Sent entry
        .bind(sent_by.map(|u| u.0))
}

/// [`ingest`] on SQLite: the message's statements, appended to `script`
/// (one call to the connection's thread runs them all: each call is a hop
/// between threads, and the writer waited on those hops more than it
/// worked). The only row it returns is the message's id. Within the
/// batch's transaction (which holds SQLite's write lock) the message just
/// inserted is the one with the highest id, and so is its last delivery.
fn sqlite_script<'q>(
    scripts: &mut Vec<db::Script<'q>>,
    m: &'q NewMessage,
    sent_by: Option<UserId>,
    now: i64,
) {
    const LAST_MESSAGE: &str = "(SELECT MAX(id) FROM messages)";
    const LAST_DELIVERY: &str = "FROM deliveries WHERE id = (SELECT MAX(id) FROM deliveries)";
    let script = room(scripts);
    script.sql(
        "INSERT INTO messages (received_at, origin, mail_from, client_ip, helo, tls, size, \
         header_from, header_to, header_cc, subject, sent_date, message_id_hdr, attachments, \
         sent_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id;\n",
    );
    bind_message_row(script, m, sent_by, now)
        .sql(&format!(
            "INSERT INTO message_blobs (message_id, raw) VALUES ({LAST_MESSAGE}, ?);\n\
             INSERT INTO index_pending (message_id) VALUES ({LAST_MESSAGE});\n\
             INSERT INTO events (at, message_id, kind, detail) \
             VALUES (?, {LAST_MESSAGE}, 'received', ?);\n"
        ))
        .bind(&m.raw)
        .bind(now)
        .bind(received_detail(m).to_string());
    // the deliveries, each with its tracking events; one arriving while its
    // primary is in an outage is held from the start (via_continuity)
    for r in &m.recipients {
        room(scripts)
            .sql(&format!(
                "INSERT INTO deliveries (message_id, rcpt, domain_id, user_id, status, attempts, \
                 next_attempt_at, updated_at, received_at, via_continuity) \
                 VALUES ({LAST_MESSAGE}, ?, ?, ?, 'queued', 0, ?, ?, ?, \
                 EXISTS (SELECT 1 FROM domains WHERE id = ? AND state = 'outage'));\n\
                 INSERT INTO events (at, message_id, delivery_id, kind, detail) \
                 SELECT ?, message_id, id, 'queued', ? {LAST_DELIVERY};\n\
                 INSERT INTO events (at, message_id, delivery_id, kind, detail) \
                 SELECT ?, message_id, id, 'held', ? {LAST_DELIVERY} AND via_continuity;\n"
            ))
            .bind(&r.rcpt)
            .bind(r.domain.map(|d: DomainId| d.0))
            .bind(r.user.map(|u| u.0))
            .bind(now)
            .bind(now)
            .bind(now)
            .bind(r.domain.map(|d: DomainId| d.0))
            .bind(now)
            .bind(queued_detail(r).to_string())
            .bind(now)
            .bind(held_detail().to_string());
    }
    // The users' mailboxes (once per user, however many of their addresses
    // were recipients), for domains that keep an archive.
    for r in &m.recipients {
        let (Some(user), Some(domain)) = (r.user, r.domain) else {
            continue;
        };
        room(scripts)
            .sql(&format!(
                "INSERT INTO mailbox (user_id, message_id, folder, received_at, during_outage) \
                 SELECT ?, {LAST_MESSAGE}, 'inbox', ?, state IN ('outage', 'drill') \
                 FROM domains WHERE id = ? AND continuity_enabled ON CONFLICT DO NOTHING;\n"
            ))
            .bind(user.0)
            .bind(now)
            .bind(domain.0);
    }
    // what a user sent, in their Sent (read)
    if let Some(user) = sent_by {
        room(scripts)
            .sql(&format!(
                "INSERT INTO mailbox (user_id, message_id, folder, received_at, seen) \
                 VALUES (?, {LAST_MESSAGE}, 'sent', ?, TRUE) ON CONFLICT DO NOTHING;\n"
            ))
            .bind(user.0)
            .bind(now);
    }
    // a bounce: on the tracking of the message it is about
    if let Some(orig) = m.in_reply_to {
        room(scripts)
            .sql(&format!(
                "INSERT INTO events (at, message_id, kind, detail) \
                 VALUES (?, ?, 'dsn', json_object('dsn_message', {LAST_MESSAGE}, 'to', ?));\n"
            ))
            .bind(now)
            .bind(orig.0)
            .bind(&m.recipients[0].rcpt);
    }
}

async fn reject(conn: &mut db::Tx<'_>, r: &Rejection, now: i64) -> Result<()> {
    event(
        conn,
        now,
        None,
        None,
        "rejected",
        json!({
            "client_ip": r.client_ip,
            "helo": r.helo,
            "mail_from": r.mail_from,
            "rcpt": r.rcpt,
            "reply": r.reply,
        }),
    )
    .await
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
    }
}
