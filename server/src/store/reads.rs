//! Read-side queries: queue overviews, raw messages, tracking events.

use crate::store::db;

pub use app::backend::QueueCounts;

use super::{DeliveryId, DomainId, MessageId, Result, Store};

/// One delivery row, for tests, the CLI and tracking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: DeliveryId,
    pub message: MessageId,
    pub rcpt: String,
    pub status: String,
    pub attempts: i64,
    pub last_reply: Option<String>,
    /// Held during an outage of its primary (stays true once delivered).
    pub via_continuity: bool,
}

/// One tracking event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub at: i64,
    pub delivery: Option<DeliveryId>,
    pub kind: String,
    pub detail: String,
}

fn event_row(r: &db::Row) -> Result<EventRow> {
    Ok(EventRow {
        at: r.try_get(0)?,
        delivery: r.try_get::<Option<i64>, _>(1)?.map(DeliveryId),
        kind: r.try_get(2)?,
        detail: r.try_get(3)?,
    })
}

impl Store {
    /// Counts by status for every domain; `None` is the outbound route.
    pub async fn queue_counts(&self) -> Result<Vec<(Option<DomainId>, QueueCounts)>> {
        let rows = db::query(
            "SELECT domain_id, status, count(*) FROM deliveries GROUP BY domain_id, status",
        )
        .fetch_all(&self.read)
        .await?;
        let mut out: Vec<(Option<DomainId>, QueueCounts)> = Vec::new();
        for row in rows {
            let d: Option<i64> = row.try_get(0)?;
            let d = d.map(DomainId);
            let status: String = row.try_get(1)?;
            let n: i64 = row.try_get(2)?;
            let idx = match out.iter().position(|(k, _)| *k == d) {
                Some(i) => i,
                None => {
                    out.push((d, QueueCounts::default()));
                    out.len() - 1
                }
            };
            let c = &mut out[idx].1;
            match status.as_str() {
                "queued" => c.queued += n,
                "delayed" => c.delayed += n,
                "delivering" => c.delivering += n,
                "delivered" => c.delivered += n,
                "bounced" => c.bounced += n,
                "expired" => c.expired += n,
                _ => {}
            }
        }
        Ok(out)
    }

    /// The raw bytes of a message, as received.
    /// A set-password invitation: its bytes are the user's alone (the link
    /// in it sets their password), never an administrator's to download.
    pub async fn is_invitation(&self, id: MessageId) -> Result<bool> {
        let helo: Option<Option<String>> =
            db::query_scalar("SELECT helo FROM messages WHERE id = ?")
                .bind(id.0)
                .fetch_optional(&self.read)
                .await?;
        Ok(helo.flatten().as_deref() == Some(crate::auth::invite::HELO))
    }

    pub async fn raw_message(&self, id: MessageId) -> Result<Option<Vec<u8>>> {
        Ok(
            db::query_scalar("SELECT raw FROM message_blobs WHERE message_id = ?")
                .bind(id.0)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    pub async fn deliveries_of(&self, id: MessageId) -> Result<Vec<DeliveryRow>> {
        let rows = db::query(
            "SELECT id, message_id, rcpt, status, attempts, last_reply, via_continuity FROM deliveries \
             WHERE message_id = ? ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRow {
                    id: DeliveryId(r.try_get(0)?),
                    message: MessageId(r.try_get(1)?),
                    rcpt: r.try_get(2)?,
                    status: r.try_get(3)?,
                    via_continuity: r.try_get(6)?,
                    attempts: r.try_get(4)?,
                    last_reply: r.try_get(5)?,
                })
            })
            .collect()
    }

    pub async fn events_of(&self, id: MessageId) -> Result<Vec<EventRow>> {
        let rows = db::query(
            "SELECT at, delivery_id, kind, detail FROM events WHERE message_id = ? ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(event_row).collect()
    }

    /// Rejected SMTP steps, newest first.
    pub async fn rejections(&self, limit: i64) -> Result<Vec<EventRow>> {
        let rows = db::query(
            "SELECT at, delivery_id, kind, detail FROM events WHERE kind = 'rejected' \
             ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(event_row).collect()
    }

    /// Messages stored, and messages whose every delivery is final.
    pub async fn message_count(&self) -> Result<i64> {
        Ok(db::query_scalar("SELECT count(*) FROM messages")
            .fetch_one(&self.read)
            .await?)
    }

    /// Message ids with the given Subject (tests and the CLI).
    pub async fn messages_with_subject(&self, subject: &str) -> Result<Vec<MessageId>> {
        let ids: Vec<i64> =
            db::query_scalar("SELECT id FROM messages WHERE subject = ? ORDER BY id")
                .bind(subject)
                .fetch_all(&self.read)
                .await?;
        Ok(ids.into_iter().map(MessageId).collect())
    }

    /// Message ids with a delivery to `rcpt`, oldest first (tests and the
    /// CLI).
    pub async fn messages_to(&self, rcpt: &str) -> Result<Vec<MessageId>> {
        let ids: Vec<i64> = db::query_scalar(
            "SELECT DISTINCT message_id FROM deliveries WHERE lower(rcpt) = lower(?) \
             ORDER BY message_id",
        )
        .bind(rcpt)
        .fetch_all(&self.read)
        .await?;
        Ok(ids.into_iter().map(MessageId).collect())
    }
}
