//! Email Live Tracking: every delivery (one per recipient) and every refused
//! SMTP transaction, filtered, in time order, a page at a time (keyset on
//! (time, kind, id): never OFFSET), within what the viewer may see.
//!
//! Each filter has an index already in time order (see the tracking
//! migration), so a page costs the rows it shows, not the table.

use crate::store::db;
use crate::store::fts;
mod sql;

use super::{DeliveryId, DomainId, MessageId, Result, Store, StoreError, UserId};
use sql::{
    deliveries_sql, delivery_row, fetch, is_address, refusal_row, refusals_sql, scope_deliveries,
    subject_match, Bind, Source, CHUNK, DELIVERY_SELECT,
};

/// Who is looking: what they may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// An operator: everything.
    All,
    /// A domain administrator: their domains' mail and refusals.
    Domains(Vec<(DomainId, String)>),
    /// A user: their own mail.
    User(UserId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// To a protected domain's primary.
    Inbound,
    /// Out of the protected domains (bounces, alerts, relayed mail).
    Outbound,
}

/// Shown statuses. `Queued` includes deliveries in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Queued,
    Delivered,
    Delayed,
    Bounced,
    Expired,
    Rejected,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "queued" => Status::Queued,
            "delivered" => Status::Delivered,
            "delayed" => Status::Delayed,
            "bounced" => Status::Bounced,
            "expired" => Status::Expired,
            "rejected" => Status::Rejected,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Received at or after / before (Unix ms).
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub direction: Option<Direction>,
    /// An address (exact), or any other text (contained).
    pub sender: String,
    pub recipient: String,
    /// Words of the subject (prefix match, all of them).
    pub subject: String,
    pub status: Option<Status>,
    pub via_continuity: Option<bool>,
    pub domain: Option<DomainId>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
}

/// Where a page starts: after this (time, kind, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: i64,
    /// 1 for a delivery, 0 for a refusal.
    pub kind: u8,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}.{}.{}", self.at, self.kind, self.id)
    }
    pub fn parse(s: &str) -> Option<Cursor> {
        let mut it = s.split('.');
        let c = Cursor {
            at: it.next()?.parse().ok()?,
            kind: it.next()?.parse().ok().filter(|k: &u8| *k <= 1)?,
            id: it.next()?.parse().ok()?,
        };
        it.next().is_none().then_some(c)
    }
}

/// One line of Live Tracking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRow {
    /// A delivery id, or a refusal's event id.
    pub id: i64,
    pub refused: bool,
    pub message: Option<MessageId>,
    pub at: i64,
    pub inbound: bool,
    pub mail_from: String,
    pub rcpt: String,
    pub subject: String,
    /// queued, delivering, delivered, delayed, bounced, expired, rejected.
    pub status: String,
    pub via_continuity: bool,
    pub attempts: i64,
    pub last_reply: String,
    pub client_ip: String,
}

impl TrackRow {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            at: self.at,
            kind: if self.refused { 0 } else { 1 },
            id: self.id,
        }
    }
}

impl Store {
    /// A page of Live Tracking: up to `limit` rows after `after`.
    pub async fn tracking(
        &self,
        scope: &Scope,
        f: &Filter,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<TrackRow>> {
        if let Scope::Domains(list) = scope {
            if list.is_empty() {
                return Ok(Vec::new());
            }
            if let Some(d) = f.domain {
                if !list.iter().any(|(id, _)| *id == d) {
                    return Err(StoreError::NotFound(format!("domain {d}")));
                }
            }
        }
        if !f.subject.trim().is_empty() {
            // the subject filter reads the search index: bring it up to date
            self.index_before_search().await;
        }
        let limit = limit.clamp(1, 1000);
        let asc = f.oldest_first;
        let mut rows = Vec::new();
        if f.status != Some(Status::Rejected) {
            rows.extend(self.deliveries_page(scope, f, after, limit, asc).await?);
        }
        let refusals_apply = matches!(f.status, None | Some(Status::Rejected))
            && f.direction != Some(Direction::Outbound)
            && f.via_continuity != Some(true)
            && f.subject.trim().is_empty()
            && !matches!(scope, Scope::User(_));
        if refusals_apply {
            // the domains whose refusals the viewer may see (None: all)
            let domains: Option<Vec<String>> = match (scope, f.domain) {
                (Scope::Domains(list), d) => Some(
                    list.iter()
                        .filter(|(id, _)| d.is_none_or(|d| d == *id))
                        .map(|(_, n)| n.clone())
                        .collect(),
                ),
                (_, Some(d)) => Some(
                    db::query_scalar("SELECT name FROM domains WHERE id = ?")
                        .bind(d.0)
                        .fetch_optional(&self.read)
                        .await?
                        .into_iter()
                        .collect(),
                ),
                _ => None,
            };
            match domains {
                None => {
                    let (sql, binds) = refusals_sql(f, None, after, limit, asc);
                    rows.extend(fetch(self, sql, binds, refusal_row).await?);
                }
                Some(names) => {
                    for name in names {
                        let (sql, binds) = refusals_sql(f, Some(&name), after, limit, asc);
                        rows.extend(fetch(self, sql, binds, refusal_row).await?);
                    }
                }
            }
        }
        // merge the two sides in the page's order
        rows.sort_by(|a, b| {
            let ka = (a.at, !a.refused, a.id);
            let kb = (b.at, !b.refused, b.id);
            if asc {
                ka.cmp(&kb)
            } else {
                kb.cmp(&ka)
            }
        });
        rows.truncate(limit as usize);
        Ok(rows)
    }

    async fn deliveries_page(
        &self,
        scope: &Scope,
        f: &Filter,
        after: Option<Cursor>,
        limit: u32,
        asc: bool,
    ) -> Result<Vec<TrackRow>> {
        let source = match subject_match(&f.subject, self.backend()) {
            // across every domain (an operator): the full-text index drives;
            // within a scope, the scope's own rows do (each probed against
            // the index), so a tenant's search never walks others' matches
            Some(m) if matches!(scope, Scope::All) => Some(Source::Subject(m)),
            Some(_) => None,
            None if is_address(f.sender.trim()) => {
                Some(Source::Sender(f.sender.trim().to_ascii_lowercase()))
            }
            None => None,
        };
        if let Some(source) = source {
            return self.driven(scope, f, after, limit, asc, source).await;
        }
        // several domains: one walk of each domain's index, merged
        if let (Scope::Domains(list), None) = (scope, f.domain) {
            if list.len() > 1 {
                let mut rows = Vec::new();
                for (d, _) in list {
                    let one = Filter {
                        domain: Some(*d),
                        ..f.clone()
                    };
                    let (sql, binds) =
                        deliveries_sql(self.backend(), scope, &one, after, limit, asc, None);
                    rows.extend(fetch(self, sql, binds, delivery_row).await?);
                }
                return Ok(rows);
            }
        }
        let (sql, binds) = deliveries_sql(self.backend(), scope, f, after, limit, asc, None);
        fetch(self, sql, binds, delivery_row).await
    }

    /// Deliveries of the messages a source names, chunk by chunk in time
    /// order, until the page is full or the source is exhausted.
    async fn driven(
        &self,
        scope: &Scope,
        f: &Filter,
        after: Option<Cursor>,
        limit: u32,
        asc: bool,
        source: Source,
    ) -> Result<Vec<TrackRow>> {
        let (lt, le, dir) = if asc {
            (">", ">=", "ASC")
        } else {
            ("<", "<=", "DESC")
        };
        // (time, id) of the last message seen; inclusive for the first chunk
        let mut bound: Option<(i64, i64)> = None;
        let mut first = true;
        let start_at = after.map(|c| c.at).or(if asc { f.since } else { f.until });
        let mut rows = Vec::new();
        loop {
            let chunk: Vec<(i64, i64)> = match &source {
                Source::Subject(m) => {
                    let rowid = fts::id_column(self.backend(), "messages_fts");
                    // message ids grow with arrival time: the index's own order
                    let (cond, b) = match (bound, first, start_at) {
                        (Some((_, id)), _, _) => (format!("AND {rowid} {lt} ?"), Some(id)),
                        (None, true, Some(at)) => (
                            format!(
                                "AND {rowid} {le} COALESCE((SELECT {} FROM messages WHERE received_at {le} ?), {})",
                                if asc { "MIN(id)" } else { "MAX(id)" },
                                if asc { "9223372036854775807" } else { "0" }
                            ),
                            Some(at),
                        ),
                        _ => (String::new(), None),
                    };
                    let matches = m.condition("messages_fts");
                    let sql = format!(
                        "SELECT {rowid}, (SELECT received_at FROM messages m WHERE m.id = {rowid}) \
                         FROM messages_fts WHERE {matches} {cond} \
                         ORDER BY {rowid} {dir} LIMIT {CHUNK}"
                    );
                    let mut q = db::query_as(sqlx::AssertSqlSafe(sql));
                    for v in m.values() {
                        q = q.bind(v.to_string());
                    }
                    if let Some(b) = b {
                        q = q.bind(b);
                    }
                    q.fetch_all(&self.read).await?
                }
                Source::Sender(addr) => {
                    let (cond, binds): (String, Vec<i64>) = match (bound, start_at) {
                        (Some((at, id)), _) => (
                            format!("AND (received_at {lt} ? OR (received_at = ? AND id {lt} ?))"),
                            vec![at, at, id],
                        ),
                        (None, Some(at)) => (format!("AND received_at {le} ?"), vec![at]),
                        (None, None) => (String::new(), vec![]),
                    };
                    let sql = format!(
                        "SELECT id, received_at FROM messages INDEXED BY messages_sender \
                         WHERE lower(mail_from) = ? {cond} \
                         ORDER BY received_at {dir}, id {dir} LIMIT {CHUNK}"
                    );
                    let mut q = db::query_as(sqlx::AssertSqlSafe(sql)).bind(addr.as_str());
                    for b in binds {
                        q = q.bind(b);
                    }
                    q.fetch_all(&self.read).await?
                }
            };
            first = false;
            let Some(last) = chunk.last().copied() else {
                break;
            };
            bound = Some((last.1, last.0));
            let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
            let want = limit - rows.len() as u32;
            let (sql, binds) =
                deliveries_sql(self.backend(), scope, f, after, want, asc, Some(&ids));
            rows.extend(fetch(self, sql, binds, delivery_row).await?);
            let past_window = if asc {
                f.until.is_some_and(|u| last.1 >= u)
            } else {
                f.since.is_some_and(|s| last.1 < s)
            };
            if rows.len() >= limit as usize || (chunk.len() as i64) < CHUNK || past_window {
                break;
            }
        }
        Ok(rows)
    }

    /// One delivery as Live Tracking shows it, if the scope may see it.
    pub async fn tracked_delivery(
        &self,
        scope: &Scope,
        id: DeliveryId,
    ) -> Result<Option<TrackRow>> {
        let (mut sql, mut binds) = (String::from(DELIVERY_SELECT), Vec::new());
        sql.push_str(" WHERE d.id = ?");
        binds.push(Bind::Int(id.0));
        scope_deliveries(&mut sql, &mut binds, scope);
        Ok(fetch(self, sql, binds, delivery_row)
            .await?
            .into_iter()
            .next())
    }

    /// May the scope see this message (one of its deliveries)?
    pub async fn may_see_message(&self, scope: &Scope, m: MessageId) -> Result<bool> {
        let (mut sql, mut binds) = (
            String::from("SELECT d.id FROM deliveries d WHERE d.message_id = ?"),
            vec![Bind::Int(m.0)],
        );
        scope_deliveries(&mut sql, &mut binds, scope);
        sql.push_str(" LIMIT 1");
        let mut q = db::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                Bind::Int(i) => q.bind(i),
                Bind::Bool(b) => q.bind(b),
                Bind::Text(t) => q.bind(t),
            };
        }
        Ok(q.fetch_optional(&self.read).await?.is_some())
    }

    /// Deliver a message to its primary again from the archive (an
    /// administrator's request): a final delivery goes back to the queue.
    pub async fn redeliver(&self, id: DeliveryId, by: &str) -> Result<()> {
        let now = super::now_ms();
        let mut tx = self.read.begin().await?;
        let row: Option<(i64, String, bool)> = db::query_as(
            "SELECT d.message_id, d.status, EXISTS (SELECT 1 FROM message_blobs b \
             WHERE b.message_id = d.message_id) FROM deliveries d WHERE d.id = ?",
        )
        .bind(id.0)
        .fetch_optional(&mut tx)
        .await?;
        let Some((message, status, has_body)) = row else {
            return Err(StoreError::NotFound(format!("delivery {}", id.0)));
        };
        if !has_body {
            return Err(StoreError::Invalid(
                "the message is no longer in the archive".into(),
            ));
        }
        if !matches!(status.as_str(), "delivered" | "bounced" | "expired") {
            return Err(StoreError::Invalid(format!(
                "the message is still {status}: it will be delivered anyway"
            )));
        }
        db::query(
            "UPDATE deliveries SET status = 'queued', next_attempt_at = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(now)
        .bind(now)
        .bind(id.0)
        .execute(&mut tx)
        .await?;
        db::query(
            "INSERT INTO events (at, message_id, delivery_id, kind, detail) \
             VALUES (?, ?, ?, 'requeued', json_object('by', ?, 'was', ?))",
        )
        .bind(now)
        .bind(message)
        .bind(id.0)
        .bind(by)
        .bind(&status)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        self.queue_wake.notify_one();
        Ok(())
    }
}

/// What Live Tracking shows of a message itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    pub subject: String,
    pub header_from: String,
    pub mail_from: String,
    pub received_at: i64,
    pub client_ip: String,
    pub helo: String,
    pub tls: bool,
    pub size: i64,
    /// The body is still in the archive.
    pub archived: bool,
}

impl Store {
    pub async fn message_info(&self, m: MessageId) -> Result<Option<MessageInfo>> {
        let r = db::query(
            "SELECT subject, header_from, mail_from, received_at, COALESCE(client_ip, ''), \
             COALESCE(helo, ''), tls, size, \
             EXISTS (SELECT 1 FROM message_blobs b WHERE b.message_id = m.id) \
             FROM messages m WHERE id = ?",
        )
        .bind(m.0)
        .fetch_optional(&self.read)
        .await?;
        r.map(|r| {
            Ok(MessageInfo {
                subject: r.try_get(0)?,
                header_from: r.try_get(1)?,
                mail_from: r.try_get(2)?,
                received_at: r.try_get(3)?,
                client_ip: r.try_get(4)?,
                helo: r.try_get(5)?,
                tls: r.try_get(6)?,
                size: r.try_get(7)?,
                archived: r.try_get(8)?,
            })
        })
        .transpose()
    }

    /// A message's deliveries the scope may see.
    pub async fn message_deliveries(&self, scope: &Scope, m: MessageId) -> Result<Vec<TrackRow>> {
        let (mut sql, mut binds) = (String::from(DELIVERY_SELECT), Vec::new());
        sql.push_str(" WHERE d.message_id = ?");
        binds.push(Bind::Int(m.0));
        scope_deliveries(&mut sql, &mut binds, scope);
        sql.push_str(" ORDER BY d.id");
        fetch(self, sql, binds, delivery_row).await
    }
}
