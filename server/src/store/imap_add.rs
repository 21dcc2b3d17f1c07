//! Mail added to a folder over IMAP: COPY (RFC 3501 §6.4.7), MOVE within
//! one folder (RFC 6851) and APPEND (archived, searchable, never
//! delivered). Each new row takes its UID in its folder from the insert
//! trigger ([`super::imap`]).

use super::archive_io::{archive_in, Archived};
use super::imap::Flags;
use super::mailbox::Folder;
use super::{now_ms, Result, Store, Summary, UserId};
use crate::store::db;

/// The UID the insert trigger gave mailbox row `id` (SQLite's RETURNING
/// shows the row as inserted, before the trigger numbered it).
async fn uid_of(tx: &mut db::Tx<'_>, id: i64) -> Result<u32> {
    let uid: i64 = db::query_scalar("SELECT uid FROM mailbox WHERE id = ?")
        .bind(id)
        .fetch_one(tx)
        .await?;
    Ok(u32::try_from(uid).unwrap_or(u32::MAX))
}

impl Store {
    /// Copy entries into another folder (with their flags); returns
    /// (source UID, new UID) pairs. A message already there is not copied
    /// twice.
    pub async fn imap_copy(
        &self,
        user: UserId,
        from: Folder,
        uids: &[u32],
        to: Folder,
    ) -> Result<Vec<(u32, u32)>> {
        let mut tx = self.read.begin().await?;
        let mut out = Vec::new();
        for &uid in uids {
            let new: Option<i64> = db::query_scalar(
                "INSERT INTO mailbox (user_id, message_id, folder, received_at, seen, \
                 during_outage, flagged, answered, deleted, draft, keywords, trashed_from) \
                 SELECT user_id, message_id, ?, received_at, seen, during_outage, flagged, answered, \
                 deleted, draft, keywords, CASE WHEN ? = 'trash' THEN folder END \
                 FROM mailbox s WHERE user_id = ? AND folder = ? AND uid = ? \
                 AND NOT EXISTS (SELECT 1 FROM mailbox t WHERE t.user_id = s.user_id \
                                 AND t.message_id = s.message_id AND t.folder = ?) \
                 ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(to)
            .bind(to)
            .bind(user.0)
            .bind(from)
            .bind(uid as i64)
            .bind(to)
            .fetch_optional(&mut tx)
            .await?;
            if let Some(id) = new {
                out.push((uid, uid_of(&mut tx, id).await?));
            }
        }
        tx.commit().await?;
        if !out.is_empty() {
            self.mailbox_changed(user);
        }
        Ok(out)
    }

    /// MOVE within one folder (RFC 6851): each entry is removed and made
    /// again with its flags, under a new UID; returns (old, new) pairs.
    pub async fn imap_move_within(
        &self,
        user: UserId,
        folder: Folder,
        uids: &[u32],
    ) -> Result<Vec<(u32, u32)>> {
        let mut tx = self.read.begin().await?;
        let mut out = Vec::new();
        for &uid in uids {
            let row = db::query(
                "DELETE FROM mailbox WHERE user_id = ? AND folder = ? AND uid = ? \
                 RETURNING message_id, received_at, seen, during_outage, flagged, answered, \
                 deleted, draft, trashed_from, keywords",
            )
            .bind(user.0)
            .bind(folder)
            .bind(uid as i64)
            .fetch_optional(&mut tx)
            .await?;
            let Some(r) = row else {
                continue;
            };
            let message: i64 = r.try_get(0)?;
            let at: i64 = r.try_get(1)?;
            let flag = |i: usize| r.try_get::<bool, _>(i);
            let (seen, outage, flagged, answered, deleted, draft) =
                (flag(2)?, flag(3)?, flag(4)?, flag(5)?, flag(6)?, flag(7)?);
            let from: Option<String> = r.try_get(8)?;
            let keywords: i64 = r.try_get(9)?;
            let new: i64 = db::query_scalar(
                "INSERT INTO mailbox (user_id, message_id, folder, received_at, seen, \
                 during_outage, flagged, answered, deleted, draft, trashed_from, keywords) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(user.0)
            .bind(message)
            .bind(folder)
            .bind(at)
            .bind(seen)
            .bind(outage)
            .bind(flagged)
            .bind(answered)
            .bind(deleted)
            .bind(draft)
            .bind(from)
            .bind(keywords)
            .fetch_one(&mut tx)
            .await?;
            out.push((uid, uid_of(&mut tx, new).await?));
        }
        tx.commit().await?;
        if !out.is_empty() {
            self.mailbox_changed(user);
        }
        Ok(out)
    }

    /// APPEND: keep `raw` in the user's folder (archived, searchable, never
    /// delivered). A message with the same Message-ID already in that
    /// folder is not kept twice (a mail app appends to Sent what it just
    /// submitted, and submission filed it already): its UID is returned.
    pub async fn imap_append(
        &self,
        user: UserId,
        folder: Folder,
        raw: &[u8],
        flags: Flags,
        internal_date: Option<i64>,
    ) -> Result<u32> {
        let summary = Summary::parse(raw);
        let sha = crate::auth::token::sha256(super::archive_io::normalized(raw));
        let mut tx = self.read.begin().await?;
        let existing: Option<i64> = match &summary.message_id {
            Some(mid) => {
                db::query_scalar(
                    // through the Message-ID's index: the few messages
                    // with that id, not the folder's rows
                    // (CROSS JOIN: else SQLite walks the user's rows)
                    "SELECT mb.uid FROM messages m INDEXED BY messages_msgid \
                     CROSS JOIN mailbox mb ON mb.message_id = m.id \
                     WHERE m.message_id_hdr = ? AND mb.user_id = ? AND mb.folder = ? LIMIT 1",
                )
                .bind(mid)
                .bind(user.0)
                .bind(folder)
                .fetch_optional(&mut tx)
                .await?
            }
            None => None,
        };
        if let Some(uid) = existing {
            tx.commit().await?;
            return Ok(u32::try_from(uid).unwrap_or(u32::MAX));
        }
        let from = summary.from_address();
        let now = now_ms();
        let (_, id) = archive_in(
            &mut tx,
            user,
            &Archived {
                raw,
                summary: &summary,
                sha: &sha,
                mail_from: &from,
                folder,
                at: internal_date.unwrap_or(now).min(now),
                seen: flags.seen,
                source: Some("imap append"),
                appended_by: Some(user),
                grams: None,
            },
        )
        .await?;
        db::query(
            "UPDATE mailbox SET answered = ?, flagged = ?, deleted = ?, draft = ?, keywords = ? \
             WHERE id = ?",
        )
        .bind(flags.answered)
        .bind(flags.flagged)
        .bind(flags.deleted)
        .bind(flags.draft)
        .bind(flags.keywords as i64)
        .bind(id)
        .execute(&mut tx)
        .await?;
        let uid = uid_of(&mut tx, id).await?;
        tx.commit().await?;
        self.mailbox_changed(user);
        Ok(uid)
    }

    /// What the user appended over IMAP and the archive still holds:
    /// (messages, bytes) — their quota for appended mail counts this.
    pub async fn appended_usage(&self, user: UserId) -> Result<(i64, i64)> {
        Ok(db::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM messages WHERE appended_by = ?",
        )
        .bind(user.0)
        .fetch_one(&self.read)
        .await?)
    }
}
