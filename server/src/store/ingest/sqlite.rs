//! A message into SQLite: its statements as one script (see [`script`]).

use crate::store::db;

use super::bind_message_row;
use crate::store::events::{held_detail, queued_detail, received_detail};
use crate::store::{DomainId, MessageId, NewMessage, Result, StoreError, UserId};

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
pub(super) async fn run(
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
pub(in crate::store) async fn together(
    conn: &mut db::Tx<'_>,
    msgs: &[(&NewMessage, Option<UserId>)],
    now: i64,
) -> Result<Vec<MessageId>> {
    let mut scripts = Vec::new();
    for (m, sent_by) in msgs {
        script(&mut scripts, m, *sent_by, now);
    }
    // the same text for batches alike (n messages of one shape): kept
    // prepared, as SQLite parsing it again would cost more than the hops
    let ids = run(conn, scripts, true).await?;
    if ids.len() != msgs.len() {
        return Err(StoreError::Invalid(format!(
            "{} ids for {} messages",
            ids.len(),
            msgs.len()
        )));
    }
    Ok(ids)
}

/// [`super::ingest`] on SQLite: the message's statements, appended to `script`
/// (one call to the connection's thread runs them all: each call is a hop
/// between threads, and the writer waited on those hops more than it
/// worked). The only row it returns is the message's id. Within the
/// batch's transaction (which holds SQLite's write lock) the message just
/// inserted is the one with the highest id, and so is its last delivery.
pub(super) fn script<'q>(
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
         sent_by, sign_as) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id;\n",
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
