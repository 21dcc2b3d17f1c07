//! A message into the store: the message row, its bytes, its place in the
//! indexer's queue, one delivery per recipient, the users' mailbox rows and
//! the tracking events, all in the writer's current transaction.
//!
//! - [`sqlite`]: on SQLite, each message as a script of statements, and a
//!   batch's messages together in as few calls as can be;
//! - [`pg`]: on PostgreSQL, each message in one statement of
//!   data-modifying `WITH` queries — a batch's messages together in one
//!   such statement, their ids taken from the sequence first — and the
//!   batch's mailbox rows just before its commit ([`Later`]).

mod pg;
mod sqlite;

use serde_json::json;

use crate::store::db;

pub(in crate::store) use pg::Later;

use super::events::event;
use super::{MessageId, NewMessage, Result, StoreError, UserId};

/// Whether a message may be stored with others of its batch in
/// [`together`] (on PostgreSQL a DSN, which is tracked on the message it
/// reports on too, goes alone).
pub(in crate::store) fn goes_together(backend: db::Backend, m: &NewMessage) -> bool {
    !m.recipients.is_empty() && (backend == db::Backend::Sqlite || m.in_reply_to.is_none())
}

/// Several messages of a batch in as few calls as each backend allows:
/// their ids, in order. On an error the caller rolls back what was written
/// (the batch's savepoint) and stores them one by one.
pub(in crate::store) async fn together(
    conn: &mut db::Tx<'_>,
    msgs: &[(&NewMessage, Option<UserId>)],
    now: i64,
    later: &mut Later,
) -> Result<Vec<MessageId>> {
    match conn.backend() {
        db::Backend::Sqlite => sqlite::together(conn, msgs, now).await,
        db::Backend::Postgres => pg::together(conn, msgs, now, later).await,
    }
}

pub(in crate::store) async fn ingest(
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
        sqlite::script(&mut scripts, m, sent_by, now);
        let ids = sqlite::run(conn, scripts, true).await?;
        return ids
            .first()
            .copied()
            .ok_or_else(|| StoreError::Invalid("the message was not stored".into()));
    }
    let id = pg::insert(conn, m, sent_by, now, later).await?;
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

/// The values of a `messages` row, in the order of its columns in both
/// backends' ingest (received_at … sign_as: 16 values).
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
        .bind(m.sign_as.map(|d| d.0))
}
