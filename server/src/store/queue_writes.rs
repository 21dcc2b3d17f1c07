//! The queue's writes, inside the writer's group commits: claiming due
//! deliveries (the claim and its `attempt` event before anything is sent),
//! renewing a node's claims, recording an outcome with its DSN in the same
//! transaction, and putting back claims a crash left `delivering`.
//!
//! A claim belongs to one node (`claimed_by`, kept afterwards as the node
//! that attempted it last) until `lease_until`; the node
//! renews the lease of all its claims while their attempts run (every
//! claim and every [`crate::cluster::RENEW`]). Claims whose lease ran out
//! — their node died or lost the database — are taken back by whichever
//! node claims next, and only the owner can record an outcome.

use crate::store::db;
use std::borrow::Cow;

use serde_json::json;

use super::events::event;
use super::ingest::ingest;

/// How long a claim is a node's without renewal: another node takes a
/// delivery back this long after its node stopped renewing it.
pub const CLAIM_LEASE: std::time::Duration = std::time::Duration::from_secs(15);
use super::{Claim, DeliveryId, DomainId, MessageId, Outcome, Result, StoreError};

/// Due deliveries, oldest first. Deliveries to a primary in an outage are
/// held (the monitor's probe decides when it is back, not per-message
/// retries hammering a dead server).
pub(super) async fn claim(
    conn: &mut db::Tx<'_>,
    node: &str,
    limit: usize,
    now: i64,
    lease: i64,
) -> Result<Vec<Claim>> {
    take_back_expired(conn, now).await?;
    renew(conn, node, now + lease).await?;
    const DUE: &str = "SELECT d.id, d.message_id, d.rcpt, d.domain_id, d.attempts, m.mail_from, \
         m.received_at, m.client_ip, m.helo, m.tls, m.sign_as \
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
            node: node.to_string(),
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
            sign_as: row.try_get::<Option<i64>, _>(10)?.map(DomainId),
        };
        // Recorded before anything is sent: after a crash we know an
        // attempt was under way (see requeue_interrupted).
        db::query(
            "UPDATE deliveries SET status = 'delivering', claimed_by = ?, lease_until = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(node)
        .bind(now + lease)
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
            json!({ "rcpt": c.rcpt, "attempt": c.attempts + 1, "node": node }),
        )
        .await?;
        claims.push(c);
    }
    Ok(claims)
}

/// Extend the lease of every claim `node` holds to `until`; how many.
pub(super) async fn renew(conn: &mut db::Tx<'_>, node: &str, until: i64) -> Result<u64> {
    const MINE: &str = "SELECT id FROM deliveries \
         WHERE status = 'delivering' AND claimed_by = ? AND lease_until < ?";
    let mine = match conn.backend() {
        db::Backend::Sqlite => Cow::Borrowed(MINE),
        // a claim another transaction holds is being ended (its outcome,
        // by this node's other writer) or renewed already: waiting for it
        // while holding the others is how two writers deadlocked
        db::Backend::Postgres => Cow::Owned(format!("{MINE} FOR UPDATE SKIP LOCKED")),
    };
    let sql = format!("UPDATE deliveries SET lease_until = ? WHERE id IN ({mine})");
    let r = db::query(sqlx::AssertSqlSafe(sql))
        .bind(until)
        .bind(node)
        .bind(until)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

/// Claims whose lease ran out go back to the queue, due now: their node
/// stopped renewing them (it died, or lost the database and abandoned
/// them).
async fn take_back_expired(conn: &mut db::Tx<'_>, now: i64) -> Result<()> {
    const EXPIRED: &str =
        "SELECT id FROM deliveries WHERE status = 'delivering' AND lease_until < ?";
    let expired = match conn.backend() {
        db::Backend::Sqlite => Cow::Borrowed(EXPIRED),
        // nodes taking back at once each take other rows, in no lock order
        // that could deadlock
        db::Backend::Postgres => Cow::Owned(format!("{EXPIRED} FOR UPDATE SKIP LOCKED")),
    };
    let sql = format!(
        "UPDATE deliveries SET status = 'queued', next_attempt_at = ?, updated_at = ?, \
         lease_until = NULL \
         WHERE id IN ({expired}) \
         RETURNING id, message_id, claimed_by"
    );
    let rows = db::query(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(now)
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
    for row in rows {
        let node: Option<String> = row.try_get(2)?;
        event(
            conn,
            now,
            Some(MessageId(row.try_get(1)?)),
            Some(DeliveryId(row.try_get(0)?)),
            "requeued",
            json!({
                "reason": "the node attempting it stopped renewing its claim",
                "node": node,
            }),
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn outcome_apply(
    conn: &mut db::Tx<'_>,
    node: &str,
    delivery: DeliveryId,
    outcome: Outcome,
    now: i64,
    later: &mut super::ingest::Later,
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
         next_attempt_at = COALESCE(?, next_attempt_at), updated_at = ?, \
         lease_until = NULL \
         WHERE id = ? AND status = 'delivering' AND claimed_by = ? RETURNING message_id",
    )
    .bind(status)
    .bind(&reply)
    .bind(next)
    .bind(now)
    .bind(delivery.0)
    .bind(node)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(format!(
            "delivery {delivery} is not being delivered by node {node}"
        )));
    };
    let message = MessageId(row.try_get(0)?);
    event(conn, now, Some(message), Some(delivery), kind, detail).await?;
    if let Some(dsn) = dsn {
        ingest(conn, &dsn, None, now, later).await?;
    }
    Ok(())
}

/// At `node`'s start: its claims of a previous run go back to the queue
/// (other nodes' claims are theirs until their lease runs out).
pub(super) async fn requeue_interrupted(
    conn: &mut db::Tx<'_>,
    node: &str,
    now: i64,
) -> Result<u64> {
    let rows = db::query(
        "UPDATE deliveries SET status = 'queued', next_attempt_at = ?, updated_at = ?, \
         lease_until = NULL \
         WHERE status = 'delivering' AND (claimed_by = ? OR claimed_by IS NULL) \
         RETURNING id, message_id",
    )
    .bind(now)
    .bind(now)
    .bind(node)
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

#[cfg(test)]
mod tests {
    use crate::store::testing::{self, Scratch};
    use crate::store::{db, now_ms, CLAIM_LEASE};

    /// Two writers of one node on PostgreSQL: while one ends a claim (its
    /// transaction holds the row), the other renews the node's claims and
    /// skips that one instead of waiting for it — waiting there, while
    /// holding the rows renewed already, is how they deadlocked. (SQLite
    /// has one writer.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn renewing_skips_a_claim_another_transaction_holds() {
        let dir = Scratch::new("renew-skip");
        let (store, alice, domain) = testing::with_alice(dir.path()).await;
        if store.backend() == db::Backend::Sqlite {
            return;
        }
        for subject in ["one", "two"] {
            store
                .ingest(testing::message_to_alice(subject, "x", domain, Some(alice)))
                .await
                .expect("stored");
        }
        let claims = store
            .claim_due("a", 10, now_ms() + 1)
            .await
            .expect("claims");
        assert_eq!(claims.len(), 2);
        let lease = CLAIM_LEASE.as_millis() as i64;
        let mut ending = store.read.begin().await.expect("transaction");
        db::query("UPDATE deliveries SET last_reply = 'ending' WHERE id = ?")
            .bind(claims[0].delivery.0)
            .execute(&mut ending)
            .await
            .expect("row held");
        let renewed = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            store.renew_claims("a", now_ms() + 10 * lease),
        )
        .await
        .expect("the renewal did not wait for the held claim")
        .expect("renewed");
        assert_eq!(renewed, 1, "the other claim only");
        ending.rollback().await.expect("rollback");
        assert_eq!(
            store
                .renew_claims("a", now_ms() + 20 * lease)
                .await
                .expect("renewed"),
            2
        );
    }
}
