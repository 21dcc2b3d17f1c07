//! Telling users: each domain's switches, the start and end events to
//! tell, and every notice of one (see [`crate::notify`]). Where users can
//! be reached is in [`super::contacts`].

use super::contacts::{point, Channel, Contacts};
use super::{db, now_ms, DomainId, Result, Store, UserId};

/// What a notice tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    Start,
    End,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Start => "start",
            NoticeKind::End => "end",
        }
    }
    pub fn parse(s: &str) -> Option<NoticeKind> {
        match s {
            "start" => Some(NoticeKind::Start),
            "end" => Some(NoticeKind::End),
            _ => None,
        }
    }
}

/// Where a notice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeStatus {
    /// Waiting for the SMS sender.
    Queued,
    /// Handed over: the mail queued for delivery (tracked), the SMS taken
    /// by the gateway.
    Sent,
    Failed,
    /// Not sent, on purpose (`detail` says why).
    Skipped,
}

impl NoticeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeStatus::Queued => "queued",
            NoticeStatus::Sent => "sent",
            NoticeStatus::Failed => "failed",
            NoticeStatus::Skipped => "skipped",
        }
    }
    pub fn parse(s: &str) -> Option<NoticeStatus> {
        match s {
            "queued" => Some(NoticeStatus::Queued),
            "sent" => Some(NoticeStatus::Sent),
            "failed" => Some(NoticeStatus::Failed),
            "skipped" => Some(NoticeStatus::Skipped),
            _ => None,
        }
    }
}

/// A covered user of a domain and where they can be told.
#[derive(Debug, Clone)]
pub struct Target {
    pub user: UserId,
    pub address: String,
    pub lang: Option<String>,
    pub contacts: Contacts,
}

/// A notice as the sender and the Control Panel see it.
#[derive(Debug, Clone)]
pub struct NoticeRow {
    pub id: i64,
    pub domain: DomainId,
    pub event_at: i64,
    pub kind: NoticeKind,
    pub user: UserId,
    pub user_address: String,
    pub channel: Channel,
    pub address: String,
    pub lang: String,
    pub status: NoticeStatus,
    pub detail: String,
    pub attempts: i64,
    pub created_at: i64,
    /// The mail's delivery status (an e-mail notice): queued, delivered…
    pub delivery: Option<String>,
}

/// A notice to record.
#[derive(Debug, Clone)]
pub struct NewNotice<'a> {
    pub domain: DomainId,
    pub event_at: i64,
    pub kind: NoticeKind,
    pub user: UserId,
    pub channel: Channel,
    pub address: &'a str,
    pub lang: &'a str,
    pub status: NoticeStatus,
    pub detail: &'a str,
    pub message: Option<i64>,
}

const NOTICE_COLUMNS: &str = "SELECT n.id, n.domain_id, n.event_at, n.kind, n.user_id, u.address, \
     n.channel, n.address, n.lang, n.status, n.detail, n.attempts, n.created_at, \
     (SELECT d.status FROM deliveries d WHERE d.message_id = n.message_id LIMIT 1) \
     FROM user_notices n JOIN users u ON u.id = n.user_id ";

fn notice_from_row(r: &db::Row) -> Result<NoticeRow> {
    let bad = |what: &str| super::StoreError::Invalid(format!("user_notices: bad {what}"));
    Ok(NoticeRow {
        id: r.try_get(0)?,
        domain: DomainId(r.try_get(1)?),
        event_at: r.try_get(2)?,
        kind: NoticeKind::parse(&r.try_get::<String, _>(3)?).ok_or_else(|| bad("kind"))?,
        user: UserId(r.try_get(4)?),
        user_address: r.try_get(5)?,
        channel: Channel::parse(&r.try_get::<String, _>(6)?).ok_or_else(|| bad("channel"))?,
        address: r.try_get(7)?,
        lang: r.try_get(8)?,
        status: NoticeStatus::parse(&r.try_get::<String, _>(9)?).ok_or_else(|| bad("status"))?,
        detail: r.try_get(10)?,
        attempts: r.try_get(11)?,
        created_at: r.try_get(12)?,
        delivery: r.try_get(13)?,
    })
}

impl Store {
    /// A domain's switches: users told at all, and of drills.
    pub async fn notify_settings(&self, domain: DomainId) -> Result<(bool, bool)> {
        let r = db::query("SELECT notify_users, notify_drills FROM domains WHERE id = ?")
            .bind(domain.0)
            .fetch_one(&self.read)
            .await?;
        Ok((r.try_get(0)?, r.try_get(1)?))
    }

    pub async fn set_notify_settings(
        &self,
        domain: DomainId,
        users: bool,
        drills: bool,
    ) -> Result<()> {
        db::query("UPDATE domains SET notify_users = ?, notify_drills = ? WHERE id = ?")
            .bind(users)
            .bind(drills)
            .bind(domain.0)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    /// The domain's users the Continuity Service covers (enabled ones),
    /// with their contact points.
    pub async fn notice_targets(&self, domain: DomainId) -> Result<Vec<Target>> {
        let rows = db::query(
            "SELECT u.id, u.address, u.lang, c.alt_email, c.alt_email_source, c.alt_email_verified, \
             c.mobile, c.mobile_source, c.mobile_verified \
             FROM users u JOIN domains d ON d.id = u.domain_id \
             JOIN user_contacts c ON c.user_id = u.id \
             WHERE u.domain_id = ? AND NOT u.disabled AND d.continuity_enabled \
             AND (d.continuity_scope = 'all' OR EXISTS (SELECT 1 FROM continuity_users cu \
                  WHERE cu.domain_id = d.id AND cu.user_id = u.id)) \
             ORDER BY u.id",
        )
        .bind(domain.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Target {
                    user: UserId(r.try_get(0)?),
                    address: r.try_get(1)?,
                    lang: r.try_get(2)?,
                    contacts: Contacts {
                        alt_email: point(r.try_get(3)?, r.try_get(4)?, r.try_get(5)?),
                        mobile: point(r.try_get(6)?, r.try_get(7)?, r.try_get(8)?),
                    },
                })
            })
            .collect()
    }

    /// Was the user told this on this channel since `since` (the quiet
    /// period)?
    pub async fn told_since(
        &self,
        user: UserId,
        channel: Channel,
        kind: NoticeKind,
        since: i64,
    ) -> Result<bool> {
        let n: i64 = db::query_scalar(
            "SELECT count(*) FROM user_notices WHERE user_id = ? AND channel = ? AND kind = ? \
             AND created_at >= ? AND status IN ('queued', 'sent')",
        )
        .bind(user.0)
        .bind(channel.as_str())
        .bind(kind.as_str())
        .bind(since)
        .fetch_one(&self.read)
        .await?;
        Ok(n > 0)
    }

    /// SMS of one event already queued or sent (the cap).
    pub async fn sms_in_event(&self, domain: DomainId, event_at: i64) -> Result<i64> {
        Ok(db::query_scalar(
            "SELECT count(*) FROM user_notices WHERE domain_id = ? AND event_at = ? \
             AND channel = 'sms' AND status IN ('queued', 'sent')",
        )
        .bind(domain.0)
        .bind(event_at)
        .fetch_one(&self.read)
        .await?)
    }

    /// Record a notice; `None` if this event's was already recorded.
    pub async fn insert_notice(&self, n: &NewNotice<'_>) -> Result<Option<i64>> {
        let now = now_ms();
        let row = db::query(
            "INSERT INTO user_notices (domain_id, event_at, kind, user_id, channel, address, lang, \
             status, detail, message_id, next_at, created_at, done_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(n.domain.0)
        .bind(n.event_at)
        .bind(n.kind.as_str())
        .bind(n.user.0)
        .bind(n.channel.as_str())
        .bind(n.address)
        .bind(n.lang)
        .bind(n.status.as_str())
        .bind(n.detail)
        .bind(n.message)
        .bind((n.status == NoticeStatus::Queued).then_some(now))
        .bind(now)
        .bind((n.status != NoticeStatus::Queued).then_some(now))
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
    }

    /// SMS notices due, oldest first.
    pub async fn due_notices(&self, now: i64, limit: i64) -> Result<Vec<NoticeRow>> {
        let rows = db::query(sqlx::AssertSqlSafe(format!(
            "{NOTICE_COLUMNS} WHERE n.status = 'queued' AND n.next_at <= ? \
             ORDER BY n.next_at LIMIT ?"
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(notice_from_row).collect()
    }

    /// Take a due notice for one attempt (compare-and-set on its attempts:
    /// one node sends it); it waits `lease_ms` before another try.
    pub async fn claim_notice(&self, id: i64, attempts: i64, lease_ms: i64) -> Result<bool> {
        let n = db::query(
            "UPDATE user_notices SET attempts = attempts + 1, next_at = ? \
             WHERE id = ? AND attempts = ? AND status = 'queued'",
        )
        .bind(now_ms() + lease_ms)
        .bind(id)
        .bind(attempts)
        .execute(&self.read)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// A notice's outcome; `next_at` set: try again then.
    pub async fn notice_outcome(
        &self,
        id: i64,
        status: NoticeStatus,
        detail: &str,
        next_at: Option<i64>,
        message: Option<i64>,
    ) -> Result<()> {
        db::query(
            "UPDATE user_notices SET status = ?, detail = ?, next_at = ?, \
             message_id = COALESCE(?, message_id), done_at = ? WHERE id = ?",
        )
        .bind(status.as_str())
        .bind(detail)
        .bind(next_at)
        .bind(message)
        .bind((status != NoticeStatus::Queued).then_some(now_ms()))
        .bind(id)
        .execute(&self.read)
        .await?;
        Ok(())
    }

    /// The notices of a domain's last event that started (its start and,
    /// if it ended, its end), the users in address order.
    pub async fn last_event_notices(&self, domain: DomainId) -> Result<Vec<NoticeRow>> {
        let start: Option<i64> = db::query_scalar(
            "SELECT max(event_at) FROM user_notices WHERE domain_id = ? AND kind = 'start'",
        )
        .bind(domain.0)
        .fetch_one(&self.read)
        .await?;
        let start = start.unwrap_or(0);
        let rows = db::query(sqlx::AssertSqlSafe(format!(
            "{NOTICE_COLUMNS} WHERE n.domain_id = ? AND \
             ((n.kind = 'start' AND n.event_at = ?) OR (n.kind = 'end' AND n.event_at > ?)) \
             ORDER BY n.event_at, u.address, n.channel"
        )))
        .bind(domain.0)
        .bind(start)
        .bind(start)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(notice_from_row).collect()
    }

    pub async fn notice(&self, id: i64) -> Result<Option<NoticeRow>> {
        let row = db::query(sqlx::AssertSqlSafe(format!(
            "{NOTICE_COLUMNS} WHERE n.id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(notice_from_row).transpose()
    }
}

/// A start or end waiting to be told.
#[derive(Debug, Clone)]
pub struct NoticeEvent {
    pub id: i64,
    pub domain: DomainId,
    pub kind: NoticeKind,
    pub drill: bool,
    pub event_at: i64,
}

impl Store {
    pub async fn insert_notice_event(
        &self,
        domain: DomainId,
        kind: NoticeKind,
        drill: bool,
        event_at: i64,
    ) -> Result<()> {
        db::query(
            "INSERT INTO notice_events (domain_id, kind, drill, event_at) VALUES (?, ?, ?, ?)",
        )
        .bind(domain.0)
        .bind(kind.as_str())
        .bind(drill)
        .bind(event_at)
        .execute(&self.read)
        .await?;
        Ok(())
    }

    /// Take the oldest event not told yet (and not taken by another node
    /// within `lease_ms`).
    pub async fn take_notice_event(&self, lease_ms: i64) -> Result<Option<NoticeEvent>> {
        let now = now_ms();
        // looked for with a read first: an idle tick writes nothing (a
        // write would wait on another's write lock, holding a connection)
        let open: i64 = db::query_scalar(
            "SELECT count(*) FROM notice_events WHERE done_at IS NULL \
             AND (taken_at IS NULL OR taken_at < ?)",
        )
        .bind(now - lease_ms)
        .fetch_one(&self.read)
        .await?;
        if open == 0 {
            return Ok(None);
        }
        let row = db::query(
            "UPDATE notice_events SET taken_at = ? WHERE id = (SELECT id FROM notice_events \
             WHERE done_at IS NULL AND (taken_at IS NULL OR taken_at < ?) ORDER BY id LIMIT 1) \
             AND done_at IS NULL AND (taken_at IS NULL OR taken_at < ?) \
             RETURNING id, domain_id, kind, drill, event_at",
        )
        .bind(now)
        .bind(now - lease_ms)
        .bind(now - lease_ms)
        .fetch_optional(&self.read)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let kind: String = r.try_get(2)?;
        Ok(Some(NoticeEvent {
            id: r.try_get(0)?,
            domain: DomainId(r.try_get(1)?),
            kind: NoticeKind::parse(&kind)
                .ok_or_else(|| super::StoreError::Invalid("notice_events: bad kind".into()))?,
            drill: r.try_get(3)?,
            event_at: r.try_get(4)?,
        }))
    }

    pub async fn notice_event_done(&self, id: i64) -> Result<()> {
        db::query("UPDATE notice_events SET done_at = ? WHERE id = ?")
            .bind(now_ms())
            .bind(id)
            .execute(&self.read)
            .await?;
        Ok(())
    }
}
