//! A message into PostgreSQL in one round trip.
//!
//! Every statement of an ingest costs a round trip to the database server,
//! and the writer's commit waits for them one after the other. So on
//! PostgreSQL the message, its bytes, its place in the indexer's queue
//! (`index_pending`, see `indexer.rs`), one delivery per recipient (held
//! from the start when its primary is in an outage) and the tracking
//! events (`received`, then `queued` and `held` delivery by delivery) go in
//! one statement of data-modifying `WITH` queries — the same rows, in the
//! same order, as SQLite's script in `sqlite.rs`. Foreign keys are
//! checked at the end of the statement.
//!
//! The users' mailbox rows wait for the end of the writer's batch
//! ([`Later`]): all of a batch's go in one statement just before its
//! commit, in (user, arrival) order. Filing a row locks its folder's counts
//! row until the commit (UIDs become visible in ascending order), so two
//! writers — or two nodes — work on their batches side by side and only
//! take those locks at the very end, always in the same order (no
//! deadlock between them).

use std::fmt::Write as _;

use crate::store::db;

use super::bind_message_row;
use crate::store::events::{held_detail, queued_detail, received_detail};
use crate::store::{MessageId, NewMessage, Result, StoreError, UserId};

/// Parameters before the recipients' rows.
const FIXED: usize = 19;
/// Parameters per recipient: address, domain, user, `queued` detail.
const PER_RECIPIENT: usize = 4;

/// The statement for `recipients` recipients.
fn sql(recipients: usize) -> String {
    let mut rows = String::new();
    for i in 0..recipients {
        let p = FIXED + 1 + i * PER_RECIPIENT;
        if i > 0 {
            rows.push_str(", ");
        }
        let _ = write!(
            rows,
            "({n}, CAST(?{a} AS TEXT), CAST(?{b} AS BIGINT), CAST(?{c} AS BIGINT), CAST(?{d} AS TEXT))",
            n = i + 1,
            a = p,
            b = p + 1,
            c = p + 2,
            d = p + 3
        );
    }
    format!(
        "WITH m AS (\
           INSERT INTO messages (received_at, origin, mail_from, client_ip, helo, tls, size, \
             header_from, header_to, header_cc, subject, sent_date, message_id_hdr, attachments, \
             sent_by, sign_as) \
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
           RETURNING id), \
         b AS (INSERT INTO message_blobs (message_id, raw) SELECT id, ?17 FROM m), \
         f AS (INSERT INTO index_pending (message_id) SELECT id FROM m), \
         r (n, rcpt, domain_id, user_id, queued) AS (VALUES {rows}), \
         d AS (\
           INSERT INTO deliveries (message_id, rcpt, domain_id, user_id, status, attempts, \
             next_attempt_at, updated_at, received_at, via_continuity) \
           SELECT m.id, r.rcpt, r.domain_id, r.user_id, 'queued', 0, ?1, ?1, ?1, \
             EXISTS (SELECT 1 FROM domains x WHERE x.id = r.domain_id AND x.state = 'outage') \
           FROM m, r ORDER BY r.n RETURNING id, via_continuity), \
         dn AS (SELECT id, via_continuity, row_number() OVER (ORDER BY id) AS n FROM d), \
         e AS (\
           INSERT INTO events (at, message_id, delivery_id, kind, detail) \
           SELECT ?1, m.id, x.delivery, x.kind, x.detail FROM m, (\
             SELECT 0 AS n, 0 AS k, CAST(NULL AS BIGINT) AS delivery, 'received' AS kind, \
               CAST(?18 AS TEXT) AS detail \
             UNION ALL SELECT dn.n, 1, dn.id, 'queued', r.queued FROM dn JOIN r ON r.n = dn.n \
             UNION ALL SELECT dn.n, 2, dn.id, 'held', CAST(?19 AS TEXT) FROM dn \
               WHERE dn.via_continuity \
           ) x ORDER BY x.n, x.k) \
         SELECT id FROM m"
    )
}

/// Insert the message and everything that comes with it (see the module's
/// note); its id.
pub(super) async fn insert(
    conn: &mut db::Tx<'_>,
    m: &NewMessage,
    sent_by: Option<UserId>,
    now: i64,
    later: &mut Later,
) -> Result<MessageId> {
    let mut script = db::Script::default();
    script.sql(&sql(m.recipients.len()));
    bind_message_row(&mut script, m, sent_by, now)
        .bind(&m.raw)
        .bind(received_detail(m).to_string())
        .bind(held_detail().to_string());
    for r in &m.recipients {
        script
            .bind(&r.rcpt)
            .bind(r.domain.map(|d| d.0))
            .bind(r.user.map(|u| u.0))
            .bind(queued_detail(r).to_string());
    }
    let id = MessageId(script.query(true).fetch_one(&mut *conn).await?.try_get(0)?);
    for r in &m.recipients {
        if let (Some(user), Some(domain)) = (r.user, r.domain) {
            later.rows.push([user.0, id.0, domain.0, now]);
        }
    }
    Ok(id)
}

/// Parameters of one message in [`together`]'s statement: its id, the 16
/// values of its row, its bytes and its `received` detail.
const PER_MESSAGE: usize = 19;
/// Parameters one statement of [`together`] may take (PostgreSQL takes
/// 65,535; fewer keeps a statement's planning short).
const TOGETHER_ARGS: usize = 16_000;

/// Several messages in as few statements as [`TOGETHER_ARGS`] allows,
/// two round trips each — their ids taken from the sequence first, then
/// every row of theirs written by one statement: what [`insert`] writes for
/// each, their Sent entries, the same tracking events in the same order.
/// For messages that report on none (`in_reply_to`). On an error the
/// caller rolls back to the batch's savepoint and stores them one by one.
pub(in crate::store) async fn together(
    conn: &mut db::Tx<'_>,
    msgs: &[(&NewMessage, Option<UserId>)],
    now: i64,
    later: &mut Later,
) -> Result<Vec<MessageId>> {
    let mut ids = Vec::with_capacity(msgs.len());
    let mut start = 0;
    while start < msgs.len() {
        let mut end = start;
        let mut args = 2;
        while end < msgs.len() {
            let more = PER_MESSAGE + PER_RECIPIENT * msgs[end].0.recipients.len();
            if end > start && args + more > TOGETHER_ARGS {
                break;
            }
            args += more;
            end += 1;
        }
        ids.extend(together_once(conn, &msgs[start..end], now, later).await?);
        start = end;
    }
    Ok(ids)
}

/// [`together_once`]'s statement: the same text whatever the number of
/// messages and recipients (their values come as one array per column),
/// so each connection prepares it once. A `VALUES` list as long as the
/// batch was a new statement for PostgreSQL to parse and plan each time.
const TOGETHER: &str = "WITH v AS (\
   SELECT * FROM unnest(CAST($1 AS BIGINT[]), CAST($3 AS TEXT[]), CAST($4 AS TEXT[]), \
     CAST($5 AS TEXT[]), CAST($6 AS TEXT[]), CAST($7 AS BOOLEAN[]), CAST($8 AS BIGINT[]), \
     CAST($9 AS TEXT[]), CAST($10 AS TEXT[]), CAST($11 AS TEXT[]), CAST($12 AS TEXT[]), \
     CAST($13 AS BIGINT[]), CAST($14 AS TEXT[]), CAST($15 AS BIGINT[]), CAST($16 AS BIGINT[]), \
     CAST($17 AS BIGINT[]), CAST($18 AS BYTEA[]), CAST($19 AS TEXT[])) \
   AS v (id, origin, mail_from, client_ip, helo, tls, size, header_from, header_to, header_cc, \
     subject, sent_date, message_id_hdr, attachments, sent_by, sign_as, raw, received)), \
 m AS (\
   INSERT INTO messages (id, received_at, origin, mail_from, client_ip, helo, tls, size, \
     header_from, header_to, header_cc, subject, sent_date, message_id_hdr, attachments, \
     sent_by, sign_as) \
   SELECT id, $2, origin, mail_from, client_ip, helo, tls, size, header_from, header_to, \
     header_cc, subject, sent_date, message_id_hdr, attachments, sent_by, sign_as \
   FROM v ORDER BY id RETURNING id), \
 b AS (INSERT INTO message_blobs (message_id, raw) SELECT id, raw FROM v ORDER BY id), \
 f AS (INSERT INTO index_pending (message_id) SELECT id FROM v ORDER BY id), \
 s AS (\
   INSERT INTO mailbox (user_id, message_id, folder, received_at, seen) \
   SELECT sent_by, id, 'sent', $2, TRUE FROM v WHERE sent_by IS NOT NULL \
   ORDER BY sent_by, id ON CONFLICT DO NOTHING), \
 r AS (\
   SELECT * FROM unnest(CAST($20 AS BIGINT[]), CAST($21 AS TEXT[]), CAST($22 AS BIGINT[]), \
     CAST($23 AS BIGINT[]), CAST($24 AS TEXT[])) WITH ORDINALITY \
   AS r (message_id, rcpt, domain_id, user_id, queued, g)), \
 d AS (\
   INSERT INTO deliveries (message_id, rcpt, domain_id, user_id, status, attempts, \
     next_attempt_at, updated_at, received_at, via_continuity) \
   SELECT r.message_id, r.rcpt, r.domain_id, r.user_id, 'queued', 0, $2, $2, $2, \
     EXISTS (SELECT 1 FROM domains x WHERE x.id = r.domain_id AND x.state = 'outage') \
   FROM r ORDER BY r.g RETURNING id, via_continuity), \
 dn AS (SELECT id, via_continuity, row_number() OVER (ORDER BY id) AS g FROM d), \
 e AS (\
   INSERT INTO events (at, message_id, delivery_id, kind, detail) \
   SELECT $2, x.message_id, x.delivery, x.kind, x.detail FROM (\
     SELECT v.id AS message_id, 0 AS g, 0 AS k, CAST(NULL AS BIGINT) AS delivery, \
       'received' AS kind, v.received AS detail FROM v \
     UNION ALL SELECT r.message_id, dn.g, 1, dn.id, 'queued', r.queued \
       FROM dn JOIN r ON r.g = dn.g \
     UNION ALL SELECT r.message_id, dn.g, 2, dn.id, 'held', CAST($25 AS TEXT) \
       FROM dn JOIN r ON r.g = dn.g WHERE dn.via_continuity \
   ) x ORDER BY x.message_id, x.g, x.k) \
 SELECT count(*) FROM m";

async fn together_once(
    conn: &mut db::Tx<'_>,
    msgs: &[(&NewMessage, Option<UserId>)],
    now: i64,
    later: &mut Later,
) -> Result<Vec<MessageId>> {
    let ids: Vec<i64> = db::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('messages', 'id')) \
         FROM generate_series(1, CAST(? AS BIGINT))",
    )
    .bind(msgs.len() as i64)
    .fetch_all(&mut *conn)
    .await?;
    if ids.len() != msgs.len() {
        return Err(StoreError::Invalid(format!(
            "{} ids for {} messages",
            ids.len(),
            msgs.len()
        )));
    }
    let db::Tx::Postgres(tx) = conn else {
        return Err(StoreError::Invalid(
            "PostgreSQL's ingest on another database".into(),
        ));
    };
    let col = |f: &dyn Fn(&NewMessage, Option<UserId>) -> Option<String>| -> Vec<Option<String>> {
        msgs.iter().map(|(m, u)| f(m, *u)).collect()
    };
    let num = |f: &dyn Fn(&NewMessage, Option<UserId>) -> Option<i64>| -> Vec<Option<i64>> {
        msgs.iter().map(|(m, u)| f(m, *u)).collect()
    };
    let rcpts = || {
        msgs.iter()
            .zip(&ids)
            .flat_map(|((m, _), id)| m.recipients.iter().map(move |r| (*id, r)))
    };
    let stored: i64 = sqlx::query_scalar(TOGETHER)
        .bind(&ids)
        .bind(now)
        .bind(col(&|m, _| Some(m.origin.as_str().to_string())))
        .bind(col(&|m, _| Some(m.mail_from.clone())))
        .bind(col(&|m, _| m.client_ip.clone()))
        .bind(col(&|m, _| m.helo.clone()))
        .bind(msgs.iter().map(|(m, _)| m.tls).collect::<Vec<bool>>())
        .bind(num(&|m, _| Some(m.raw.len() as i64)))
        .bind(col(&|m, _| Some(m.summary.from.clone())))
        .bind(col(&|m, _| Some(m.summary.to.clone())))
        .bind(col(&|m, _| Some(m.summary.cc.clone())))
        .bind(col(&|m, _| Some(m.summary.subject.clone())))
        .bind(num(&|m, _| m.summary.date))
        .bind(col(&|m, _| m.summary.message_id.clone()))
        .bind(num(&|m, _| Some(i64::from(m.summary.attachments))))
        // who sent it through us: the sending limit counts this, whatever
        // becomes of the Sent entry
        .bind(num(&|_, u| u.map(|u| u.0)))
        .bind(num(&|m, _| m.sign_as.map(|d| d.0)))
        .bind(
            msgs.iter()
                .map(|(m, _)| m.raw.as_slice())
                .collect::<Vec<&[u8]>>(),
        )
        .bind(col(&|m, _| Some(received_detail(m).to_string())))
        .bind(rcpts().map(|(id, _)| id).collect::<Vec<i64>>())
        .bind(
            rcpts()
                .map(|(_, r)| r.rcpt.clone())
                .collect::<Vec<String>>(),
        )
        .bind(
            rcpts()
                .map(|(_, r)| r.domain.map(|d| d.0))
                .collect::<Vec<Option<i64>>>(),
        )
        .bind(
            rcpts()
                .map(|(_, r)| r.user.map(|u| u.0))
                .collect::<Vec<Option<i64>>>(),
        )
        .bind(
            rcpts()
                .map(|(_, r)| queued_detail(r).to_string())
                .collect::<Vec<String>>(),
        )
        .bind(held_detail().to_string())
        .fetch_one(&mut **tx)
        .await?;
    if stored != msgs.len() as i64 {
        return Err(StoreError::Invalid(format!(
            "{stored} messages stored of {}",
            msgs.len()
        )));
    }
    for ((m, _), id) in msgs.iter().zip(&ids) {
        for r in &m.recipients {
            if let (Some(user), Some(domain)) = (r.user, r.domain) {
                later.rows.push([user.0, *id, domain.0, now]);
            }
        }
    }
    Ok(ids.into_iter().map(MessageId).collect())
}

/// Mailbox rows to file at the end of the batch: (user, message, domain,
/// time), in arrival order.
#[derive(Debug, Default)]
pub(in crate::store) struct Later {
    rows: Vec<[i64; 4]>,
}

impl Later {
    /// How many are waiting (a failed request's are dropped back to it).
    pub(in crate::store) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(in crate::store) fn truncate(&mut self, len: usize) {
        self.rows.truncate(len);
    }

    /// File them: into each user's inbox for domains that keep an archive,
    /// once per user and message, user by user in arrival order. One
    /// statement, the same text for any number of rows (arrays).
    pub(in crate::store) async fn file(&mut self, conn: &mut db::Tx<'_>) -> Result<()> {
        let rows = std::mem::take(&mut self.rows);
        if rows.is_empty() {
            return Ok(());
        }
        let db::Tx::Postgres(tx) = conn else {
            return Err(StoreError::Invalid(
                "PostgreSQL's mailbox rows on another database".into(),
            ));
        };
        let column = |i: usize| rows.iter().map(|r| r[i]).collect::<Vec<i64>>();
        sqlx::query(
            "INSERT INTO mailbox (user_id, message_id, folder, received_at, during_outage) \
             SELECT v.u, v.m, 'inbox', v.t, x.state IN ('outage', 'drill') \
             FROM unnest(CAST($1 AS BIGINT[]), CAST($2 AS BIGINT[]), CAST($3 AS BIGINT[]), \
               CAST($4 AS BIGINT[])) WITH ORDINALITY AS v (u, m, d, t, n) \
             JOIN domains x ON x.id = v.d \
             WHERE x.continuity_enabled ORDER BY v.u, v.n ON CONFLICT DO NOTHING",
        )
        .bind(column(0))
        .bind(column(1))
        .bind(column(2))
        .bind(column(3))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_of_parameters_per_recipient() {
        let two = sql(2);
        assert!(two.contains("(1, CAST(?20 AS TEXT), CAST(?21 AS BIGINT)"));
        assert!(two.contains("(2, CAST(?24 AS TEXT)"));
        assert!(two.contains("CAST(?27 AS TEXT))"));
        assert!(!two.contains("?28"));
        let pg = crate::store::dialect::for_postgres(&two);
        assert!(
            !pg.contains('?'),
            "every placeholder numbered for PostgreSQL"
        );
    }
}
