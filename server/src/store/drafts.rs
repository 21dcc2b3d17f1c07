//! Drafts and the Sent folder of the webmail's compose.

use super::{now_ms, Result, Store, UserId};
use crate::store::db;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DraftRow {
    pub id: i64,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
    pub ref_entry: Option<i64>,
    pub mode: String,
    /// A forward's kept attachments are already among the draft's own.
    pub forward_done: bool,
}

/// One line of the drafts list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftSummary {
    pub id: i64,
    pub to: String,
    pub subject: String,
    /// The start of the text.
    pub preview: String,
    pub updated_at: i64,
    pub files: i64,
}

/// A file attached to a draft (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftFile {
    pub id: i64,
    pub name: String,
    pub content_type: String,
    pub size: i64,
}

/// Longest text kept in a draft field (the body: 1 MiB).
const FIELD_MAX: usize = 10_000;
const BODY_MAX: usize = 1 << 20;

/// A draft field as kept (at most [`FIELD_MAX`] bytes).
pub(super) fn cap_field(s: &str) -> String {
    cap(s, FIELD_MAX)
}

/// A draft's text as kept (at most [`BODY_MAX`] bytes).
pub(super) fn cap_body(s: &str) -> String {
    cap(s, BODY_MAX)
}

fn cap(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// How many messages a user sent since a time, up to a bound.
const SENT_RECENTLY: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM messages \
     WHERE sent_by = ? AND received_at > ? LIMIT ?) s";

impl Store {
    /// Save a draft (a new one when `d.id` is 0, else that one if it is the
    /// user's). Returns its id.
    pub async fn save_draft(&self, user: UserId, d: &DraftRow) -> Result<i64> {
        let mode = match d.mode.as_str() {
            "reply" | "replyall" | "forward" => d.mode.as_str(),
            _ => "new",
        };
        let now = now_ms();
        let f = |s: &str| cap(s, FIELD_MAX);
        if d.id > 0 {
            let n = db::query(
                "UPDATE drafts SET from_addr = ?, to_addrs = ?, cc_addrs = ?, bcc_addrs = ?, \
                 subject = ?, body = ?, ref_entry = ?, mode = ?, updated_at = ? \
                 WHERE id = ? AND user_id = ?",
            )
            .bind(f(&d.from))
            .bind(f(&d.to))
            .bind(f(&d.cc))
            .bind(f(&d.bcc))
            .bind(f(&d.subject))
            .bind(cap(&d.body, BODY_MAX))
            .bind(d.ref_entry)
            .bind(mode)
            .bind(now)
            .bind(d.id)
            .bind(user.0)
            .execute(&self.read)
            .await?
            .rows_affected();
            if n == 1 {
                return Ok(d.id);
            }
        }
        let id: i64 = db::query(
            "INSERT INTO drafts (user_id, from_addr, to_addrs, cc_addrs, bcc_addrs, subject, \
             body, ref_entry, mode, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(user.0)
        .bind(f(&d.from))
        .bind(f(&d.to))
        .bind(f(&d.cc))
        .bind(f(&d.bcc))
        .bind(f(&d.subject))
        .bind(cap(&d.body, BODY_MAX))
        .bind(d.ref_entry)
        .bind(mode)
        .bind(now)
        .fetch_one(&self.read)
        .await?
        .try_get(0)?;
        Ok(id)
    }

    /// One of the user's drafts.
    pub async fn draft(&self, user: UserId, id: i64) -> Result<Option<DraftRow>> {
        let r = db::query(
            "SELECT id, from_addr, to_addrs, cc_addrs, bcc_addrs, subject, body, ref_entry, mode, \
             forward_done FROM drafts WHERE id = ? AND user_id = ?",
        )
        .bind(id)
        .bind(user.0)
        .fetch_optional(&self.read)
        .await?;
        r.map(|r| {
            Ok(DraftRow {
                id: r.try_get(0)?,
                from: r.try_get(1)?,
                to: r.try_get(2)?,
                cc: r.try_get(3)?,
                bcc: r.try_get(4)?,
                subject: r.try_get(5)?,
                body: r.try_get(6)?,
                ref_entry: r.try_get(7)?,
                mode: r.try_get(8)?,
                forward_done: r.try_get(9)?,
            })
        })
        .transpose()
    }

    /// The user's drafts, the last changed first (at most `limit`): the
    /// mail apps' drafts among them (adopted first, see
    /// [`super::draft_mirror`]).
    pub async fn drafts(&self, user: UserId, limit: u32) -> Result<Vec<DraftSummary>> {
        if let Err(e) = self.adopt_app_drafts(user).await {
            // listed again next time; what the webmail has is still shown
            tracing::warn!(error = %e, user = %user, "cannot adopt the mail apps' drafts");
        }
        let rows = db::query(
            "SELECT d.id, d.to_addrs, d.subject, substr(d.body, 1, 200), d.updated_at, \
             (SELECT COUNT(*) FROM draft_attachments a WHERE a.draft_id = d.id) \
             FROM drafts d WHERE d.user_id = ? ORDER BY d.updated_at DESC, d.id DESC LIMIT ?",
        )
        .bind(user.0)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get(3)?;
                Ok(DraftSummary {
                    id: r.try_get(0)?,
                    to: r.try_get(1)?,
                    subject: r.try_get(2)?,
                    preview: body.split_whitespace().collect::<Vec<_>>().join(" "),
                    updated_at: r.try_get(4)?,
                    files: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// How many drafts the user has (the mail apps' not yet adopted
    /// among them).
    pub async fn draft_count(&self, user: UserId) -> Result<i64> {
        let own: i64 = db::query_scalar("SELECT COUNT(*) FROM drafts WHERE user_id = ?")
            .bind(user.0)
            .fetch_one(&self.read)
            .await?;
        Ok(own + self.unadopted_drafts(user).await?)
    }

    /// What the user's drafts hold: (drafts, bytes of their files) — the
    /// webmail's quota for drafts counts this.
    pub async fn draft_usage(&self, user: UserId) -> Result<(i64, i64)> {
        Ok(db::query_as(
            "SELECT (SELECT COUNT(*) FROM drafts WHERE user_id = ?1), \
                    (SELECT CAST(COALESCE(SUM(a.size), 0) AS BIGINT) FROM drafts d \
                     JOIN draft_attachments a ON a.draft_id = d.id WHERE d.user_id = ?1)",
        )
        .bind(user.0)
        .fetch_one(&self.read)
        .await?)
    }

    /// Delete one of the user's drafts (with its files and its message
    /// in the Drafts folder). False when it is not theirs.
    pub async fn discard_draft(&self, user: UserId, id: i64) -> Result<bool> {
        self.drop_draft(user, id).await
    }

    /// Attach a file to one of the user's drafts. Returns its id, or `None`
    /// when the draft is not theirs.
    pub async fn add_draft_file(
        &self,
        user: UserId,
        draft: i64,
        name: &str,
        content_type: &str,
        data: &[u8],
    ) -> Result<Option<i64>> {
        let id: Option<i64> = db::query_scalar(
            "INSERT INTO draft_attachments (draft_id, user_id, name, content_type, size, data, created_at) \
             SELECT id, user_id, ?, ?, ?, ?, ? FROM drafts WHERE id = ? AND user_id = ? RETURNING id",
        )
        .bind(name)
        .bind(content_type)
        .bind(data.len() as i64)
        .bind(data)
        .bind(now_ms())
        .bind(draft)
        .bind(user.0)
        .fetch_optional(&self.read)
        .await?;
        Ok(id)
    }

    /// The files of one of the user's drafts, in the order attached.
    pub async fn draft_files(&self, user: UserId, draft: i64) -> Result<Vec<DraftFile>> {
        Ok(self
            .draft_rows(user, draft, false)
            .await?
            .into_iter()
            .map(|(f, _)| f)
            .collect())
    }

    /// The files of one of the user's drafts with their bytes.
    pub async fn draft_file_data(
        &self,
        user: UserId,
        draft: i64,
    ) -> Result<Vec<(DraftFile, Vec<u8>)>> {
        self.draft_rows(user, draft, true).await
    }

    async fn draft_rows(
        &self,
        user: UserId,
        draft: i64,
        data: bool,
    ) -> Result<Vec<(DraftFile, Vec<u8>)>> {
        let rows = db::query(if data {
            "SELECT id, name, content_type, size, data FROM draft_attachments \
             WHERE draft_id = ? AND user_id = ? ORDER BY id"
        } else {
            "SELECT id, name, content_type, size FROM draft_attachments \
             WHERE draft_id = ? AND user_id = ? ORDER BY id"
        })
        .bind(draft)
        .bind(user.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    DraftFile {
                        id: r.try_get(0)?,
                        name: r.try_get(1)?,
                        content_type: r.try_get(2)?,
                        size: r.try_get(3)?,
                    },
                    if data { r.try_get(4)? } else { Vec::new() },
                ))
            })
            .collect()
    }

    /// Remove a file from one of the user's drafts; false if not theirs.
    pub async fn remove_draft_file(&self, user: UserId, draft: i64, file: i64) -> Result<bool> {
        let n = db::query(
            "DELETE FROM draft_attachments WHERE id = ? AND draft_id = ? AND user_id = ?",
        )
        .bind(file)
        .bind(draft)
        .bind(user.0)
        .execute(&self.read)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// A forward's kept attachments have been copied into the draft.
    pub async fn mark_forward_done(&self, user: UserId, draft: i64) -> Result<()> {
        db::query("UPDATE drafts SET forward_done = TRUE WHERE id = ? AND user_id = ?")
            .bind(draft)
            .bind(user.0)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    /// The sending account, and how many messages it sent (webmail and
    /// submission) in the last `window_ms` counted up to `at_most` (the
    /// limit: counting further would cost a step per message sent) — in one
    /// query, what every send checks. Counted on the messages themselves,
    /// so deleting them from Sent or the trash frees nothing.
    pub async fn sender(
        &self,
        user: UserId,
        window_ms: i64,
        at_most: i64,
    ) -> Result<Option<(super::accounts::Account, i64)>> {
        let row = db::query(sqlx::AssertSqlSafe(format!(
            "{}, ({SENT_RECENTLY}) {} WHERE u.id = ?",
            super::accounts::ACCOUNT_COLUMNS,
            super::accounts::ACCOUNT_FROM
        )))
        .bind(user.0)
        .bind(now_ms() - window_ms)
        .bind(at_most)
        .bind(user.0)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref()
            .map(|r| Ok((super::accounts::account_from_row(r)?, r.try_get(12)?)))
            .transpose()
    }

    /// Addresses the user corresponds with (the senders of their recent
    /// mail and the recipients of what they sent, most frequent first) and
    /// their colleagues, for the compose form's suggestions.
    pub async fn contacts(&self, user: UserId, limit: usize) -> Result<Vec<String>> {
        let rows: Vec<(String, String)> = db::query_as(
            "SELECT mb.folder, CASE mb.folder WHEN 'sent' THEN m.header_to ELSE m.header_from END \
             FROM mailbox mb JOIN messages m ON m.id = mb.message_id \
             WHERE mb.user_id = ? ORDER BY mb.received_at DESC LIMIT 1000",
        )
        .bind(user.0)
        .fetch_all(&self.read)
        .await?;
        let mut count: std::collections::HashMap<String, usize> = Default::default();
        for (_, list) in &rows {
            for part in list.split(',') {
                let part = part.trim();
                let addr = match (part.rfind('<'), part.rfind('>')) {
                    (Some(a), Some(b)) if a < b => &part[a + 1..b],
                    _ => part,
                };
                let addr = addr.trim().to_ascii_lowercase();
                if crate::compose::valid_address(&addr) {
                    *count.entry(addr).or_default() += 1;
                }
            }
        }
        let mut out: Vec<(String, usize)> = count.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut out: Vec<String> = out.into_iter().map(|(a, _)| a).collect();
        let colleagues: Vec<String> = db::query_scalar(
            "SELECT address FROM users WHERE disabled = FALSE AND id != ? \
             AND domain_id = (SELECT domain_id FROM users WHERE id = ?) ORDER BY address LIMIT 500",
        )
        .bind(user.0)
        .bind(user.0)
        .fetch_all(&self.read)
        .await?;
        for c in colleagues {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        let own = self.own_addresses(user).await?;
        out.retain(|a| !own.iter().any(|o| o.eq_ignore_ascii_case(a)));
        out.truncate(limit);
        Ok(out)
    }

    /// The user's address and aliases (who they may send as).
    pub async fn own_addresses(&self, user: UserId) -> Result<Vec<String>> {
        let mut out: Vec<String> = db::query_scalar("SELECT address FROM users WHERE id = ?")
            .bind(user.0)
            .fetch_all(&self.read)
            .await?;
        let aliases: Vec<String> =
            db::query_scalar("SELECT address FROM user_aliases WHERE user_id = ? ORDER BY address")
                .bind(user.0)
                .fetch_all(&self.read)
                .await?;
        out.extend(aliases);
        Ok(out)
    }
}
