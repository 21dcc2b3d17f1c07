//! Importing mail into a user's archive (from mbox, Maildir, .eml) and
//! reading it back for export. Imported mail goes straight into the user's
//! mailbox and the search index: it never passed through Continuity, so it
//! has no delivery and nothing is sent to the primary. A message the user
//! already has (same Message-ID, or same content) is skipped, so an import
//! can be run again safely.

use std::collections::BTreeSet;

use super::mailbox::Folder;
use super::{now_ms, MessageId, Result, Store, Summary, UserId};
use crate::store::db;

/// One message to import.
pub struct Import<'a> {
    pub raw: &'a [u8],
    /// When it arrived, if the source says (mbox "From " line, Maildir
    /// file time); else the Date: header; else now.
    pub received_at: Option<i64>,
    /// Where it came from, for the tracking event.
    pub source: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Added(MessageId),
    /// The user already has it.
    Duplicate,
}

/// The content as compared for duplicates: an mbox separator's trailing
/// blank line is not part of the message.
pub fn normalized(raw: &[u8]) -> &[u8] {
    let mut end = raw.len();
    while end > 0 && matches!(raw[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &raw[..end]
}

/// A message written straight into a user's archive (no delivery).
pub(super) struct Archived<'a> {
    pub raw: &'a [u8],
    pub summary: &'a Summary,
    pub sha: &'a [u8],
    pub mail_from: &'a str,
    pub folder: Folder,
    pub at: i64,
    pub seen: bool,
    /// For the tracking event ("mbox", "imap append", …); none for a
    /// draft (no mail was received).
    pub source: Option<&'a str>,
    /// The user appended it themselves (IMAP APPEND): it counts against
    /// their quota for appended mail.
    pub appended_by: Option<UserId>,
    /// Its trigrams, when made beforehand ([`super::grams`]); else made
    /// here.
    pub grams: Option<&'a BTreeSet<u32>>,
}

/// Insert the message, its body, its tracking event (if any), the user's mailbox
/// row and the search row. Returns the message and the mailbox row (the
/// IMAP UID).
pub(super) async fn archive_in(
    tx: &mut db::Tx<'_>,
    user: UserId,
    a: &Archived<'_>,
) -> Result<(MessageId, i64)> {
    let (raw, summary) = (a.raw, a.summary);
    let id: i64 = db::query(
        "INSERT INTO messages (received_at, origin, mail_from, size, header_from, header_to, \
             header_cc, subject, sent_date, message_id_hdr, attachments, content_sha256, appended_by) \
             VALUES (?, 'import', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(a.at)
    .bind(a.mail_from)
    .bind(raw.len() as i64)
    .bind(&summary.from)
    .bind(&summary.to)
    .bind(&summary.cc)
    .bind(&summary.subject)
    .bind(summary.date)
    .bind(&summary.message_id)
    .bind(summary.attachments as i64)
    .bind(a.sha)
    .bind(a.appended_by.map(|u| u.0))
    .fetch_one(&mut *tx)
    .await?
    .try_get(0)?;
    db::query("INSERT INTO message_blobs (message_id, raw) VALUES (?, ?)")
        .bind(id)
        .bind(raw)
        .execute(&mut *tx)
        .await?;
    if let Some(source) = a.source {
        db::query(
            "INSERT INTO events (at, message_id, kind, detail) \
             VALUES (?, ?, 'received', json_object('origin', 'import', 'source', ?, 'size', ?))",
        )
        .bind(now_ms())
        .bind(id)
        .bind(source)
        .bind(raw.len() as i64)
        .execute(&mut *tx)
        .await?;
    }
    let entry: i64 = db::query_scalar(
        "INSERT INTO mailbox (user_id, message_id, folder, received_at, seen) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(user.0)
    .bind(id)
    .bind(a.folder)
    .bind(a.at)
    .bind(a.seen)
    .fetch_one(&mut *tx)
    .await?;
    super::fts::index(tx, MessageId(id), summary, raw, a.grams).await?;
    Ok((MessageId(id), entry))
}

/// Does `user` already have this message (same content, or the same
/// Message-ID)? Two lookups through the messages' own indexes, each
/// narrowed to the few messages sharing that hash or Message-ID, so the
/// cost does not grow with the user's mailbox.
async fn has_already(
    tx: &mut db::Tx<'_>,
    user: UserId,
    sha: &[u8],
    message_id: Option<&str>,
) -> Result<bool> {
    let by_content: Option<i64> = db::query_scalar(
        "SELECT m.id FROM messages m INDEXED BY messages_sha256 \
         WHERE m.content_sha256 = ? AND EXISTS (SELECT 1 FROM mailbox mb \
             WHERE mb.message_id = m.id AND mb.user_id = ?) LIMIT 1",
    )
    .bind(sha)
    .bind(user.0)
    .fetch_optional(&mut *tx)
    .await?;
    if by_content.is_some() {
        return Ok(true);
    }
    let Some(mid) = message_id else {
        return Ok(false);
    };
    let by_id: Option<i64> = db::query_scalar(
        "SELECT m.id FROM messages m INDEXED BY messages_msgid \
         WHERE m.message_id_hdr = ? AND EXISTS (SELECT 1 FROM mailbox mb \
             WHERE mb.message_id = m.id AND mb.user_id = ?) LIMIT 1",
    )
    .bind(mid)
    .bind(user.0)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(by_id.is_some())
}

/// A message to import made ready outside any transaction: its hash, its
/// summary and its trigrams.
type Prepared = (Vec<u8>, Summary, BTreeSet<u32>);

/// Prepare a batch on every core (parsing is most of an import's work).
fn prepare(batch: &[Import<'_>]) -> Vec<Prepared> {
    let one = |m: &Import<'_>| {
        (
            crate::auth::token::sha256(normalized(m.raw)),
            Summary::parse(m.raw),
            super::grams::message_grams(m.raw),
        )
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if cores < 2 || batch.len() < 8 {
        return batch.iter().map(one).collect();
    }
    let per = batch.len().div_ceil(cores);
    std::thread::scope(|s| {
        let parts: Vec<_> = batch
            .chunks(per)
            .map(|part| {
                (
                    part,
                    s.spawn(move || part.iter().map(one).collect::<Vec<_>>()),
                )
            })
            .collect();
        parts
            .into_iter()
            // a panic in a parser thread: that part again, here (one
            // answer per message, in order, whatever happens)
            .flat_map(|(part, h)| h.join().unwrap_or_else(|_| part.iter().map(one).collect()))
            .collect()
    })
}

impl Store {
    /// Import one message into `user`'s archive (Inbox, or Sent when it is
    /// from one of the user's addresses).
    pub async fn import_message(&self, user: UserId, m: &Import<'_>) -> Result<Imported> {
        let mut r = self.import_batch(user, std::slice::from_ref(m)).await?;
        Ok(r.pop().unwrap_or(Imported::Duplicate))
    }

    /// Import several messages in one transaction (one commit for the
    /// batch); the answer for each, in order. A message repeated within
    /// the batch is a duplicate the second time.
    pub async fn import_batch(&self, user: UserId, batch: &[Import<'_>]) -> Result<Vec<Imported>> {
        // the work that needs no lock first: hashes, summaries, trigrams
        let prepared = prepare(batch);
        let mut tx = self.read.begin().await?;
        let address: String = db::query_scalar("SELECT address FROM users WHERE id = ?")
            .bind(user.0)
            .fetch_one(&mut tx)
            .await?;
        let aliases: Vec<String> =
            db::query_scalar("SELECT address FROM user_aliases WHERE user_id = ?")
                .bind(user.0)
                .fetch_all(&mut tx)
                .await?;
        let now = now_ms();
        let mut out = Vec::with_capacity(batch.len());
        for (m, (sha, summary, grams)) in batch.iter().zip(&prepared) {
            if has_already(&mut tx, user, sha, summary.message_id.as_deref()).await? {
                out.push(Imported::Duplicate);
                continue;
            }
            let at = m
                .received_at
                .or(summary.date.map(|d| d * 1000))
                .unwrap_or(now)
                .min(now);
            let from_addr = summary.from_address();
            let folder = if from_addr == address.to_ascii_lowercase()
                || aliases.iter().any(|a| a.eq_ignore_ascii_case(&from_addr))
            {
                Folder::Sent
            } else {
                Folder::Inbox
            };
            let (id, _) = archive_in(
                &mut tx,
                user,
                &Archived {
                    raw: m.raw,
                    summary,
                    sha,
                    mail_from: &from_addr,
                    folder,
                    at,
                    seen: true,
                    source: Some(m.source),
                    appended_by: None,
                    grams: Some(grams),
                },
            )
            .await?;
            out.push(Imported::Added(id));
        }
        tx.commit().await?;
        if out.iter().any(|r| matches!(r, Imported::Added(_))) {
            self.mailbox_changed(user);
        }
        Ok(out)
    }

    /// A user's archived messages in arrival order, `batch` at a time after
    /// `after` (a mailbox id): (mailbox id, received_at, envelope sender, raw).
    pub async fn export_batch(
        &self,
        user: UserId,
        after: i64,
        batch: u32,
    ) -> Result<Vec<(i64, i64, String, Vec<u8>)>> {
        let rows = db::query(
            "SELECT mb.id, mb.received_at, m.mail_from, b.raw FROM mailbox mb \
             JOIN messages m ON m.id = mb.message_id \
             JOIN message_blobs b ON b.message_id = mb.message_id \
             WHERE mb.user_id = ? AND mb.id > ? ORDER BY mb.id LIMIT ?",
        )
        .bind(user.0)
        .bind(after)
        .bind(batch as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_prepared_in_order_on_several_threads() {
        let raws: Vec<Vec<u8>> = (0..37)
            .map(|i| format!("Subject: message {i}\r\n\r\nbody {i}\r\n").into_bytes())
            .collect();
        let batch: Vec<Import<'_>> = raws
            .iter()
            .map(|r| Import {
                raw: r,
                received_at: None,
                source: "test",
            })
            .collect();
        let prepared = prepare(&batch);
        assert_eq!(prepared.len(), batch.len());
        for (i, (sha, summary, grams)) in prepared.iter().enumerate() {
            assert_eq!(summary.subject, format!("message {i}"));
            assert_eq!(*sha, crate::auth::token::sha256(normalized(&raws[i])));
            assert_eq!(*grams, super::super::grams::message_grams(&raws[i]));
        }
    }
}
