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

pub async fn run(pool: db::Pool, mut rx: mpsc::Receiver<Request>, wake: Arc<Notify>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
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
            wake.notify_one();
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
    let last = batch.len().saturating_sub(1);
    // PostgreSQL: the batch's mailbox rows, filed just before the commit
    let mut later = Later::default();
    for (i, req) in batch.into_iter().enumerate() {
        let filed = later.len();
        let answer = match req {
            Request::Ingest(msg, sent_by, reply) => {
                let r = ingest(&mut tx, &msg, sent_by, now, &mut later).await;
                let r = match (r, sent_by) {
                    (Ok(id), Some(user)) => file_sent(&mut tx, user, id, now).await.map(|_| id),
                    (r, _) => r,
                };
                Answer::Message(reply, r)
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

/// Several tracking events of one message, in one statement.
async fn events_of(
    conn: &mut db::Tx<'_>,
    at: i64,
    message: MessageId,
    events: &[(Option<DeliveryId>, &str, serde_json::Value)],
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut sql =
        String::from("INSERT INTO events (at, message_id, delivery_id, kind, detail) VALUES ");
    for i in 0..events.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?, ?)");
    }
    let mut q = db::query(sqlx::AssertSqlSafe(sql));
    for (delivery, kind, detail) in events {
        q = q
            .bind(at)
            .bind(message.0)
            .bind(delivery.map(|d| d.0))
            .bind(*kind)
            .bind(detail.to_string());
    }
    q.execute(conn).await?;
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
    let id = match conn.backend() {
        db::Backend::Postgres => super::ingest_pg::insert(conn, m, sent_by, now, later).await?,
        db::Backend::Sqlite => insert_sqlite(conn, m, sent_by, now).await?,
    };
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

/// [`ingest`] on SQLite: statement by statement (each one costs no round
/// trip in-process).
async fn insert_sqlite(
    conn: &mut db::Tx<'_>,
    m: &NewMessage,
    sent_by: Option<UserId>,
    now: i64,
) -> Result<MessageId> {
    let s = &m.summary;
    let id: i64 = db::query(
        "INSERT INTO messages (received_at, origin, mail_from, client_ip, helo, tls, size, \
         header_from, header_to, header_cc, subject, sent_date, message_id_hdr, attachments, sent_by) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
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
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    let id = MessageId(id);
    db::query("INSERT INTO message_blobs (message_id, raw) VALUES (?, ?)")
        .bind(id.0)
        .bind(&m.raw)
        .execute(&mut *conn)
        .await?;
    super::fts::index(conn, id, &s.from, &s.to, &s.subject, &s.text).await?;
    // the deliveries; one arriving while its primary is in an outage is
    // held from the start (via_continuity)
    let mut events: Vec<(Option<DeliveryId>, &str, serde_json::Value)> =
        Vec::with_capacity(1 + 2 * m.recipients.len());
    events.push((None, "received", received_detail(m)));
    for r in &m.recipients {
        let row = db::query(
            "INSERT INTO deliveries (message_id, rcpt, domain_id, user_id, status, attempts, \
             next_attempt_at, updated_at, received_at, via_continuity) \
             VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, \
             EXISTS (SELECT 1 FROM domains WHERE id = ? AND state = 'outage')) \
             RETURNING id, via_continuity",
        )
        .bind(id.0)
        .bind(&r.rcpt)
        .bind(r.domain.map(|d: DomainId| d.0))
        .bind(r.user.map(|u| u.0))
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(r.domain.map(|d: DomainId| d.0))
        .fetch_one(&mut *conn)
        .await?;
        let did = DeliveryId(row.try_get(0)?);
        let held: bool = row.try_get(1)?;
        events.push((Some(did), "queued", queued_detail(r)));
        if held {
            events.push((Some(did), "held", held_detail()));
        }
    }
    events_of(conn, now, id, &events).await?;
    // The users' mailboxes (once per user, however many of their addresses
    // were recipients), for domains that keep an archive.
    for r in &m.recipients {
        let (Some(user), Some(domain)) = (r.user, r.domain) else {
            continue;
        };
        db::query(
            "INSERT INTO mailbox (user_id, message_id, folder, received_at, during_outage) \
             SELECT ?, ?, 'inbox', ?, state IN ('outage', 'drill') FROM domains \
             WHERE id = ? AND continuity_enabled ON CONFLICT DO NOTHING",
        )
        .bind(user.0)
        .bind(id.0)
        .bind(now)
        .bind(domain.0)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
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
