//! Retention: the archive keeps each message for its domains' retention
//! (the longest, when it went to several; 90 days by default), then a purge
//! removes it with its mailbox entries, search index row and tracking.
//! Mail still waiting for delivery is never purged.
//!
//! Domains without the Continuity Service keep only what the queue needs:
//! once every delivery of a message is final (and a day has passed, for
//! redelivery by hand), its body, mailbox entries and index row go; its
//! tracking stays until the retention.
//!
//! Every purge works in small batches, each its own short transaction, so
//! ingest (the writer) is never blocked for long.

use super::{DomainId, Result, Store, StoreError};
use crate::store::db;

pub const DAY_MS: i64 = 24 * 3600 * 1000;
/// Retention of mail that went to no protected domain (bounces, alerts).
pub const DEFAULT_RETENTION_DAYS: i64 = 90;

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub messages: u64,
    pub bodies: u64,
    pub events: u64,
}

/// Messages past their retention (the longest of their domains') and
/// with nothing left to deliver, oldest first. A draft's message in the
/// Drafts folder stays as long as the draft.
const EXPIRED: &str = "SELECT m.id FROM messages m \
     WHERE m.received_at < ?1 - ?2 * 86400000 \
       AND m.received_at < ?1 - 86400000 * COALESCE( \
             (SELECT MAX(x.retention_days) FROM deliveries d JOIN domains x ON x.id = d.domain_id \
              WHERE d.message_id = m.id), ?3) \
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id \
                       AND d.status IN ('queued', 'delayed', 'delivering')) \
       AND NOT EXISTS (SELECT 1 FROM mailbox mb JOIN drafts dr ON dr.mirror = mb.id \
                       WHERE mb.message_id = m.id) \
     ORDER BY m.received_at LIMIT ?4";

/// Bodies no one needs: every delivery final, a day old, and no domain of
/// the message has the Continuity Service.
const UNNEEDED: &str = "SELECT m.id FROM messages m JOIN message_blobs b ON b.message_id = m.id \
     WHERE m.received_at < ?1 - 86400000 \
       AND EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.domain_id IS NOT NULL) \
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id \
                       AND d.status IN ('queued', 'delayed', 'delivering')) \
       AND NOT EXISTS (SELECT 1 FROM deliveries d JOIN domains x ON x.id = d.domain_id \
                       WHERE d.message_id = m.id AND x.continuity_enabled = TRUE) \
     LIMIT ?2";

impl Store {
    pub async fn set_retention(&self, domain: DomainId, days: i64) -> Result<()> {
        if !(1..=3650).contains(&days) {
            return Err(StoreError::Invalid("retention is 1 to 3650 days".into()));
        }
        db::query("UPDATE domains SET retention_days = ? WHERE id = ?")
            .bind(days)
            .bind(domain.0)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    pub async fn retention(&self, domain: DomainId) -> Result<i64> {
        Ok(
            db::query_scalar("SELECT retention_days FROM domains WHERE id = ?")
                .bind(domain.0)
                .fetch_optional(&self.read)
                .await?
                .unwrap_or(DEFAULT_RETENTION_DAYS),
        )
    }

    /// How much a purge at `now` would remove (nothing is changed).
    pub async fn purge_preview(&self, now: i64) -> Result<Purged> {
        let min = self.min_retention().await?;
        let all = match self.backend() {
            db::Backend::Sqlite => "-1",
            db::Backend::Postgres => "ALL",
        };
        let messages: i64 = db::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM ({}) AS expired",
            EXPIRED.replace("?4", all)
        )))
        .bind(now)
        .bind(min)
        .bind(DEFAULT_RETENTION_DAYS)
        .fetch_one(&self.read)
        .await?;
        let bodies: i64 = db::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM ({}) AS unneeded",
            UNNEEDED.replace("?2", all)
        )))
        .bind(now)
        .fetch_one(&self.read)
        .await?;
        let events: i64 = db::query_scalar(
            "SELECT COUNT(*) FROM events WHERE message_id IS NULL AND at < ? - ? * 86400000",
        )
        .bind(now)
        .bind(self.max_retention().await?)
        .fetch_one(&self.read)
        .await?;
        Ok(Purged {
            messages: messages as u64,
            bodies: bodies as u64,
            events: events as u64,
        })
    }

    async fn min_retention(&self) -> Result<i64> {
        let v: Option<i64> = db::query_scalar("SELECT MIN(retention_days) FROM domains")
            .fetch_one(&self.read)
            .await?;
        Ok(v.unwrap_or(DEFAULT_RETENTION_DAYS)
            .min(DEFAULT_RETENTION_DAYS))
    }

    async fn max_retention(&self) -> Result<i64> {
        let v: Option<i64> = db::query_scalar("SELECT MAX(retention_days) FROM domains")
            .fetch_one(&self.read)
            .await?;
        Ok(v.unwrap_or(DEFAULT_RETENTION_DAYS)
            .max(DEFAULT_RETENTION_DAYS))
    }

    /// One batch of the purge at `now`: up to `batch` expired messages (and
    /// their mailbox rows, index rows, tracking), or else up to `batch`
    /// unneeded bodies, or else old tracking of refused transactions.
    /// Returns what it removed; all zero when there is nothing left.
    pub async fn purge_batch(&self, now: i64, batch: u32) -> Result<Purged> {
        let min = self.min_retention().await?;
        let ids: Vec<i64> = db::query_scalar(EXPIRED)
            .bind(now)
            .bind(min)
            .bind(DEFAULT_RETENTION_DAYS)
            .bind(batch as i64)
            .fetch_all(&self.read)
            .await?;
        if !ids.is_empty() {
            let list = id_list(&ids);
            let mut tx = self.read.begin().await?;
            db::query(sqlx::AssertSqlSafe(super::fts::forget_sql(
                self.backend(),
                &list,
            )))
            .execute(&mut tx)
            .await?;
            // blobs, deliveries, events and mailbox rows cascade
            let n = db::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM messages WHERE id IN ({list})"
            )))
            .execute(&mut tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            return Ok(Purged {
                messages: n,
                ..Default::default()
            });
        }
        let ids: Vec<i64> = db::query_scalar(UNNEEDED)
            .bind(now)
            .bind(batch as i64)
            .fetch_all(&self.read)
            .await?;
        if !ids.is_empty() {
            let list = id_list(&ids);
            let mut tx = self.read.begin().await?;
            for sql in [
                super::fts::forget_sql(self.backend(), &list),
                format!("DELETE FROM mailbox WHERE message_id IN ({list})"),
            ] {
                db::query(sqlx::AssertSqlSafe(sql)).execute(&mut tx).await?;
            }
            let n = db::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM message_blobs WHERE message_id IN ({list})"
            )))
            .execute(&mut tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            return Ok(Purged {
                bodies: n,
                ..Default::default()
            });
        }
        let n = db::query(
            "DELETE FROM events WHERE id IN (SELECT id FROM events \
             WHERE message_id IS NULL AND at < ? - ? * 86400000 LIMIT ?)",
        )
        .bind(now)
        .bind(self.max_retention().await?)
        .bind(batch as i64)
        .execute(&self.read)
        .await?
        .rows_affected();
        Ok(Purged {
            events: n,
            ..Default::default()
        })
    }

    /// Record a finished purge.
    pub async fn log_purge(&self, at: i64, p: Purged, took_ms: i64) -> Result<()> {
        db::query(
            "INSERT INTO purge_log (at, messages, bodies, events, took_ms) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(at)
        .bind(p.messages as i64)
        .bind(p.bodies as i64)
        .bind(p.events as i64)
        .bind(took_ms)
        .execute(&self.read)
        .await?;
        Ok(())
    }

    /// The latest purges: (at, messages, bodies, events, took_ms).
    pub async fn purge_history(&self, limit: u32) -> Result<Vec<(i64, Purged, i64)>> {
        let rows = db::query(
            "SELECT at, messages, bodies, events, took_ms FROM purge_log ORDER BY id DESC LIMIT ?",
        )
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    Purged {
                        messages: r.try_get::<i64, _>(1)? as u64,
                        bodies: r.try_get::<i64, _>(2)? as u64,
                        events: r.try_get::<i64, _>(3)? as u64,
                    },
                    r.try_get(4)?,
                ))
            })
            .collect()
    }
}

fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}
