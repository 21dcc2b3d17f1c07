//! The queue's writes, inside the writer's group commits: claiming due
//! deliveries (the claim and its `attempt` event before anything is sent),
//! recording an outcome with its DSN in the same transaction, and putting
//! back claims a crash left `delivering`.

use crate::store::db;
use std::borrow::Cow;

use serde_json::json;

use super::writer::{event, ingest};
use super::{Claim, DeliveryId, DomainId, MessageId, Outcome, Result, StoreError};

/// Due deliveries, oldest first. Deliveries to a primary in an outage are
/// held (the monitor's probe decides when it is back, not per-message
/// retries hammering a dead server).
pub(super) async fn claim(conn: &mut db::Tx<'_>, limit: usize, now: i64) -> Result<Vec<Claim>> {
    const DUE: &str = "SELECT d.id, d.message_id, d.rcpt, d.domain_id, d.attempts, m.mail_from, \
         m.received_at, m.client_ip, m.helo, m.tls \
         FROM deliveries d JOIN messages m ON m.id = d.message_id \
         WHERE d.status IN ('queued', 'delayed') AND d.next_attempt_at <= ? \
         AND NOT EXISTS (SELECT 1 FROM domains x WHERE x.id = d.domain_id AND x.state = 'outage') \
         ORDER BY d.next_attempt_at, d.id LIMIT ?";
    let sql = match conn.backend() {
        // one writer: nobody else claims
        db::Backend::Sqlite => Cow::Borrowed(DUE),
        // nodes sharing the database each take rows no other transaction
        // holds: a delivery is claimed by one node only
        db::Backend::Postgres => Cow::Owned(format!("{DUE} FOR UPDATE OF d SKIP LOCKED")),
    };
    let rows = db::query(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&mut *conn)
        .await?;
    let mut claims = Vec::with_capacity(rows.len());
    for row in rows {
        let c = Claim {
            delivery: DeliveryId(row.try_get(0)?),
            message: MessageId(row.try_get(1)?),
            rcpt: row.try_get(2)?,
            domain: row.try_get::<Option<i64>, _>(3)?.map(DomainId),
            attempts: row.try_get(4)?,
            mail_from: row.try_get(5)?,
            received_at: row.try_get(6)?,
            client_ip: row.try_get(7)?,
            helo: row.try_get(8)?,
            tls: row.try_get(9)?,
        };
        // Recorded before anything is sent: after a crash we know an
        // attempt was under way (see requeue_interrupted).
        db::query("UPDATE deliveries SET status = 'delivering', updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(c.delivery.0)
            .execute(&mut *conn)
            .await?;
        event(
            conn,
            now,
            Some(c.message),
            Some(c.delivery),
            "attempt",
            json!({ "rcpt": c.rcpt, "attempt": c.attempts + 1 }),
        )
        .await?;
        claims.push(c);
    }
    Ok(claims)
}

pub(super) async fn outcome_apply(
    conn: &mut db::Tx<'_>,
    delivery: DeliveryId,
    outcome: Outcome,
    now: i64,
) -> Result<()> {
    let (status, reply, next, kind, detail, dsn) = match outcome {
        Outcome::Delivered { reply, remote } => (
            "delivered",
            reply.clone(),
            None,
            "delivered",
            json!({ "reply": reply, "remote": remote }),
            None,
        ),
        Outcome::Deferred {
            reply,
            remote,
            next_attempt_at,
        } => (
            "delayed",
            reply.clone(),
            Some(next_attempt_at),
            "delayed",
            json!({ "reply": reply, "remote": remote, "next_attempt_at": next_attempt_at }),
            None,
        ),
        Outcome::Bounced { reply, remote, dsn } => (
            "bounced",
            reply.clone(),
            None,
            "bounced",
            json!({ "reply": reply, "remote": remote, "dsn": dsn.is_some() }),
            dsn,
        ),
        Outcome::Expired { reply, dsn } => (
            "expired",
            reply.clone(),
            None,
            "expired",
            json!({ "reply": reply, "dsn": dsn.is_some() }),
            dsn,
        ),
    };
    let row = db::query(
        "UPDATE deliveries SET status = ?, attempts = attempts + 1, last_reply = ?, \
         next_attempt_at = COALESCE(?, next_attempt_at), updated_at = ? \
         WHERE id = ? AND status = 'delivering' RETURNING message_id",
    )
    .bind(status)
    .bind(&reply)
    .bind(next)
    .bind(now)
    .bind(delivery.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(format!(
            "delivery {delivery} is not being delivered"
        )));
    };
    let message = MessageId(row.try_get(0)?);
    event(conn, now, Some(message), Some(delivery), kind, detail).await?;
    if let Some(dsn) = dsn {
        ingest(conn, &dsn, None, now).await?;
    }
    Ok(())
}

pub(super) async fn requeue_interrupted(conn: &mut db::Tx<'_>, now: i64) -> Result<u64> {
    let rows = db::query(
        "UPDATE deliveries SET status = 'queued', next_attempt_at = ?, updated_at = ? \
         WHERE status = 'delivering' RETURNING id, message_id",
    )
    .bind(now)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let n = rows.len() as u64;
    for row in rows {
        event(
            conn,
            now,
            Some(MessageId(row.try_get(1)?)),
            Some(DeliveryId(row.try_get(0)?)),
            "requeued",
            json!({ "reason": "attempt interrupted by a restart" }),
        )
        .await?;
    }
    Ok(n)
}
