//! After an outage: what was held for each user, what has reached the
//! primary since, what is still waiting, and what they sent meanwhile
//! (the reconciliation report), and the domain's held queue right now.

use crate::store::db;
use std::collections::BTreeMap;

use super::{now_ms, DomainId, Result, Store, UserId};

/// One outage of a domain: from entering `outage` to the next `normal`
/// (`end` is None while it lasts or its backlog is still being delivered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Episode {
    pub start: i64,
    pub end: Option<i64>,
}

/// One user's line of the reconciliation report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportRow {
    pub user: i64,
    pub address: String,
    /// Deliveries to the primary held during the window.
    pub held: i64,
    /// … of which delivered to the primary since.
    pub delivered: i64,
    /// … still waiting (held, retrying or in flight).
    pub pending: i64,
    /// … bounced or expired.
    pub failed: i64,
    /// Messages the user sent from the continuity mailbox in the window.
    pub sent: i64,
}

/// Deliveries to a domain's primary not yet done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeldQueue {
    pub waiting: i64,
    /// … of which kept during an outage (via Continuity).
    pub via_continuity: i64,
    /// When the oldest waiting message arrived (Unix ms).
    pub oldest: Option<i64>,
}

impl Store {
    /// The domain's most recent outage, if it ever had one.
    pub async fn last_outage(&self, domain: DomainId) -> Result<Option<Episode>> {
        let start: Option<i64> = db::query_scalar(
            "SELECT at FROM domain_timeline WHERE domain_id = ? AND to_state = 'outage' \
             ORDER BY at DESC, id DESC LIMIT 1",
        )
        .bind(domain.0)
        .fetch_optional(&self.read)
        .await?;
        let Some(start) = start else {
            return Ok(None);
        };
        let end: Option<i64> = db::query_scalar(
            "SELECT MIN(at) FROM domain_timeline \
             WHERE domain_id = ? AND to_state = 'normal' AND at >= ?",
        )
        .bind(domain.0)
        .bind(start)
        .fetch_one(&self.read)
        .await?;
        Ok(Some(Episode { start, end }))
    }

    /// The reconciliation report of a domain (or one user of it) for the
    /// deliveries held between `since` and `until` (Unix ms; None = now),
    /// one row per user who had mail held or sent mail, by address.
    pub async fn reconciliation(
        &self,
        domain: DomainId,
        since: i64,
        until: Option<i64>,
        user: Option<UserId>,
    ) -> Result<Vec<ReportRow>> {
        let until = until.unwrap_or_else(now_ms);
        let user = user.map(|u| u.0);
        let held = db::query(
            "SELECT u.id, u.address, COUNT(*), \
                    CAST(COALESCE(SUM(CASE WHEN d.status = 'delivered' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN d.status IN ('queued', 'delayed', 'delivering') THEN 1 ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN d.status IN ('bounced', 'expired') THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM deliveries d JOIN users u ON u.id = d.user_id \
             WHERE d.domain_id = ? AND d.via_continuity = TRUE AND (? IS NULL OR d.user_id = ?) \
               AND EXISTS (SELECT 1 FROM events e WHERE e.message_id = d.message_id \
                           AND e.delivery_id = d.id AND e.kind = 'held' \
                           AND e.at >= ? AND e.at <= ?) \
             GROUP BY u.id",
        )
        .bind(domain.0)
        .bind(user)
        .bind(user)
        .bind(since)
        .bind(until)
        .fetch_all(&self.read)
        .await?;
        let sent = db::query(
            // what they sent through us, whatever became of it in Sent
            "SELECT u.id, u.address, COUNT(*) FROM messages m JOIN users u ON u.id = m.sent_by \
             WHERE u.domain_id = ? AND (? IS NULL OR u.id = ?) \
               AND m.received_at >= ? AND m.received_at <= ? \
             GROUP BY u.id",
        )
        .bind(domain.0)
        .bind(user)
        .bind(user)
        .bind(since)
        .bind(until)
        .fetch_all(&self.read)
        .await?;
        let mut rows: BTreeMap<String, ReportRow> = BTreeMap::new();
        for r in &held {
            let address: String = r.try_get(1)?;
            rows.insert(
                address.clone(),
                ReportRow {
                    user: r.try_get(0)?,
                    address,
                    held: r.try_get(2)?,
                    delivered: r.try_get(3)?,
                    pending: r.try_get(4)?,
                    failed: r.try_get(5)?,
                    sent: 0,
                },
            );
        }
        for r in &sent {
            let address: String = r.try_get(1)?;
            let row = rows.entry(address.clone()).or_insert_with(|| ReportRow {
                address,
                ..Default::default()
            });
            row.user = r.try_get(0)?;
            row.sent = r.try_get(2)?;
        }
        Ok(rows.into_values().collect())
    }

    /// What waits for the domain's primary now.
    pub async fn held_queue(&self, domain: DomainId) -> Result<HeldQueue> {
        let r = db::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN d.via_continuity THEN 1 ELSE 0 END), 0) AS BIGINT), MIN(m.received_at) \
             FROM deliveries d JOIN messages m ON m.id = d.message_id \
             WHERE d.domain_id = ? AND d.status IN ('queued', 'delayed', 'delivering')",
        )
        .bind(domain.0)
        .fetch_one(&self.read)
        .await?;
        Ok(HeldQueue {
            waiting: r.try_get(0)?,
            via_continuity: r.try_get(1)?,
            oldest: r.try_get(2)?,
        })
    }
}
