//! The webmail's drafts are the IMAP Drafts folder's (RFC 6154 `\Drafts`).
//!
//! Each webmail draft is shown to mail apps as a message in the Drafts
//! folder, its *mirror*: written again when a save changed what it holds
//! (the previous one removed, message and all: the archive keeps no
//! revisions), removed when the draft is sent or discarded. A message a
//! mail app put there (APPEND, COPY, MOVE) is *adopted*: it becomes a
//! webmail draft with that message as its mirror, so it opens in the
//! compose page; saved there, it is replaced like any mirror (the
//! appended message itself stays in the archive, as any APPEND).
//!
//! A mirror expunged, or moved out of Drafts, over IMAP takes its draft
//! along (`drafts.mirror` cascades: every move is a delete and an insert).

use super::archive_io::{archive_in, Archived};
use super::folders::SpecialUse;
use super::mailbox::{Folder, FolderId};
use super::{now_ms, Result, Store, Summary, UserId};
use crate::store::db;
use crate::store::drafts::DraftRow;

/// Most mail apps' drafts adopted in one listing (the rest: the next).
const ADOPT_BATCH: i64 = 100;

/// What a draft's mirror is built from: its fields and its files (by id:
/// a file's bytes never change). Equal keys, equal mirrors.
pub fn mirror_key(d: &DraftRow, files: &[i64]) -> Vec<u8> {
    let mut s = String::new();
    for f in [&d.from, &d.to, &d.cc, &d.bcc, &d.subject, &d.body, &d.mode] {
        s.push_str(&f.len().to_string());
        s.push(':');
        s.push_str(f);
    }
    for id in files {
        s.push_str(&format!("#{id}"));
    }
    crate::auth::token::sha256(s.as_bytes())
}

/// A mail app's draft as the compose form holds it, and its files.
pub fn draft_of_message(raw: &[u8]) -> (DraftRow, Vec<crate::compose::Attachment>) {
    use mail_parser::{Address, MessageParser};
    let Some(m) = MessageParser::default().parse(raw) else {
        return (DraftRow::default(), Vec::new());
    };
    let list = |a: Option<&Address>| -> String {
        a.map(|a| {
            a.iter()
                .filter_map(|x| {
                    let addr = x.address()?;
                    Some(match x.name().map(str::trim).filter(|n| !n.is_empty()) {
                        // a name with a comma or brackets would split or
                        // hide the address: the address alone then
                        Some(n) if !n.contains([',', ';', '<', '>', '"']) => {
                            format!("{n} <{addr}>")
                        }
                        _ => addr.to_string(),
                    })
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
    };
    let from = m
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let body = m
        .body_text(0)
        .map(|b| b.replace("\r\n", "\n").trim_end_matches('\n').to_string())
        .unwrap_or_default();
    let row = DraftRow {
        id: 0,
        from,
        to: list(m.to()),
        cc: list(m.cc()),
        bcc: list(m.bcc()),
        subject: m.subject().unwrap_or_default().to_string(),
        body,
        ref_entry: None,
        mode: "new".into(),
        forward_done: true,
    };
    (row, crate::compose::attachments_of(raw))
}

impl Store {
    /// The user's Drafts folder, made when they have none. None only at
    /// the folder limit.
    pub async fn drafts_folder(&self, user: UserId) -> Result<Option<FolderId>> {
        if let Some(id) = self.special_folder(user, SpecialUse::Drafts).await? {
            return Ok(Some(id));
        }
        let have = self.user_folders(user).await?;
        self.ensure_special(user, SpecialUse::Drafts, &have).await?;
        self.special_folder(user, SpecialUse::Drafts).await
    }

    async fn special_folder(&self, user: UserId, s: SpecialUse) -> Result<Option<FolderId>> {
        let id: Option<i64> =
            db::query_scalar("SELECT id FROM folders WHERE user_id = ? AND special_use = ?")
                .bind(user.0)
                .bind(s.key())
                .fetch_optional(&self.read)
                .await?;
        Ok(id.map(FolderId))
    }

    /// Whether a draft's mirror differs from what `key` says it holds
    /// (None: the draft is not the user's).
    pub async fn mirror_stale(&self, user: UserId, draft: i64, key: &[u8]) -> Result<Option<bool>> {
        let row: Option<(Option<i64>, Option<Vec<u8>>)> =
            db::query_as("SELECT mirror, mirror_key FROM drafts WHERE id = ? AND user_id = ?")
                .bind(draft)
                .bind(user.0)
                .fetch_optional(&self.read)
                .await?;
        Ok(row.map(|(mirror, k)| mirror.is_none() || k.as_deref() != Some(key)))
    }

    /// Keep `raw` in the Drafts folder as the draft's mirror (built from
    /// `key`), in place of the one before. Nothing when the draft is not
    /// the user's (discarded meanwhile).
    /// False when the user has no Drafts folder and cannot have one (at
    /// the folder limit): the draft stays the webmail's alone.
    pub async fn mirror_draft(
        &self,
        user: UserId,
        draft: i64,
        raw: &[u8],
        key: &[u8],
    ) -> Result<bool> {
        let Some(folder) = self.drafts_folder(user).await? else {
            return Ok(false);
        };
        let folder = Folder::User(folder);
        let summary = Summary::parse(raw);
        let sha = crate::auth::token::sha256(super::archive_io::normalized(raw));
        let grams = super::grams::message_grams(raw);
        let mut tx = self.read.begin().await?;
        // a write first: two saves of one draft take turns here
        let old: Option<(Option<i64>, bool)> = db::query_as(
            "UPDATE drafts SET mirror_key = ? WHERE id = ? AND user_id = ? \
             RETURNING mirror, mirror_own",
        )
        .bind(key)
        .bind(draft)
        .bind(user.0)
        .fetch_optional(&mut tx)
        .await?;
        let Some((old, old_own)) = old else {
            return Ok(true);
        };
        let (_, entry) = archive_in(
            &mut tx,
            user,
            &Archived {
                raw,
                summary: &summary,
                sha: &sha,
                mail_from: &summary.from_address(),
                folder,
                at: now_ms(),
                seen: true,
                source: None,
                appended_by: None,
                grams: Some(&grams),
            },
        )
        .await?;
        db::query("UPDATE mailbox SET draft = TRUE WHERE id = ?")
            .bind(entry)
            .execute(&mut tx)
            .await?;
        db::query("UPDATE drafts SET mirror = ?, mirror_own = TRUE WHERE id = ?")
            .bind(entry)
            .bind(draft)
            .execute(&mut tx)
            .await?;
        if let Some(old) = old {
            remove_mirror(&mut tx, old, old_own).await?;
        }
        tx.commit().await?;
        self.mailbox_changed(user);
        Ok(true)
    }

    /// The user's drafts no message shows in the Drafts folder yet (saved
    /// before drafts were mirrored), up to a batch.
    pub async fn unmirrored_drafts(&self, user: UserId) -> Result<Vec<i64>> {
        Ok(db::query_scalar(
            "SELECT id FROM drafts WHERE user_id = ? AND mirror IS NULL ORDER BY id LIMIT ?",
        )
        .bind(user.0)
        .bind(ADOPT_BATCH)
        .fetch_all(&self.read)
        .await?)
    }

    /// Delete one of the user's drafts, its files and its mirror. False
    /// when it is not theirs.
    pub async fn drop_draft(&self, user: UserId, id: i64) -> Result<bool> {
        let mut tx = self.read.begin().await?;
        let gone: Option<(Option<i64>, bool)> = db::query_as(
            "DELETE FROM drafts WHERE id = ? AND user_id = ? RETURNING mirror, mirror_own",
        )
        .bind(id)
        .bind(user.0)
        .fetch_optional(&mut tx)
        .await?;
        let Some((mirror, own)) = gone else {
            return Ok(false);
        };
        if let Some(m) = mirror {
            remove_mirror(&mut tx, m, own).await?;
        }
        tx.commit().await?;
        if mirror.is_some() {
            self.mailbox_changed(user);
        }
        Ok(true)
    }

    /// How many messages of the Drafts folder no draft mirrors yet (a
    /// mail app's, adopted when the drafts are listed).
    pub async fn unadopted_drafts(&self, user: UserId) -> Result<i64> {
        let Some(folder) = self.special_folder(user, SpecialUse::Drafts).await? else {
            return Ok(0);
        };
        Ok(db::query_scalar(
            "SELECT COUNT(*) FROM mailbox mb WHERE mb.user_id = ? AND mb.folder = ? \
             AND mb.deleted = FALSE AND NOT EXISTS (SELECT 1 FROM drafts d WHERE d.mirror = mb.id)",
        )
        .bind(user.0)
        .bind(Folder::User(folder))
        .fetch_one(&self.read)
        .await?)
    }

    /// Make webmail drafts of the mail apps' drafts (messages of the
    /// Drafts folder, not marked deleted, that no draft mirrors), up to a
    /// batch. Returns how many.
    pub async fn adopt_app_drafts(&self, user: UserId) -> Result<usize> {
        let Some(folder) = self.special_folder(user, SpecialUse::Drafts).await? else {
            return Ok(0);
        };
        let rows: Vec<(i64, i64, i64)> = db::query_as(
            "SELECT mb.id, mb.message_id, mb.received_at FROM mailbox mb \
             WHERE mb.user_id = ? AND mb.folder = ? AND mb.deleted = FALSE \
             AND NOT EXISTS (SELECT 1 FROM drafts d WHERE d.mirror = mb.id) \
             ORDER BY mb.id LIMIT ?",
        )
        .bind(user.0)
        .bind(Folder::User(folder))
        .bind(ADOPT_BATCH)
        .fetch_all(&self.read)
        .await?;
        let mut adopted = 0;
        for (entry, message, at) in rows {
            let raw: Option<Vec<u8>> =
                db::query_scalar("SELECT raw FROM message_blobs WHERE message_id = ?")
                    .bind(message)
                    .fetch_optional(&self.read)
                    .await?;
            let (row, files) = draft_of_message(raw.as_deref().unwrap_or_default());
            if self.adopt(user, entry, at, &row, &files).await? {
                adopted += 1;
            }
        }
        Ok(adopted)
    }

    /// One mail app's draft made a webmail draft; false when another
    /// session did it first, or the message left meanwhile.
    async fn adopt(
        &self,
        user: UserId,
        entry: i64,
        at: i64,
        d: &DraftRow,
        files: &[crate::compose::Attachment],
    ) -> Result<bool> {
        let cap = |s: &str| super::drafts::cap_field(s);
        let mut tx = self.read.begin().await?;
        let id: Option<i64> = db::query_scalar(
            "INSERT INTO drafts (user_id, from_addr, to_addrs, cc_addrs, bcc_addrs, subject, body, \
             mode, forward_done, updated_at, mirror, mirror_own) \
             SELECT ?, ?, ?, ?, ?, ?, ?, 'new', TRUE, ?, id, FALSE FROM mailbox \
             WHERE id = ? AND user_id = ? ON CONFLICT (mirror) DO NOTHING RETURNING id",
        )
        .bind(user.0)
        .bind(cap(&d.from))
        .bind(cap(&d.to))
        .bind(cap(&d.cc))
        .bind(cap(&d.bcc))
        .bind(cap(&d.subject))
        .bind(super::drafts::cap_body(&d.body))
        .bind(at)
        .bind(entry)
        .bind(user.0)
        .fetch_optional(&mut tx)
        .await?;
        let Some(id) = id else {
            return Ok(false);
        };
        let mut ids = Vec::with_capacity(files.len());
        for f in files {
            let file: i64 = db::query_scalar(
                "INSERT INTO draft_attachments (draft_id, user_id, name, content_type, size, data, \
                 created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(id)
            .bind(user.0)
            .bind(&f.name)
            .bind(&f.content_type)
            .bind(f.data.len() as i64)
            .bind(&f.data)
            .bind(now_ms())
            .fetch_one(&mut tx)
            .await?;
            ids.push(file);
        }
        // as adopted, the draft is what its message holds: opened and saved
        // unchanged, it is not written again
        let stored = DraftRow {
            from: cap(&d.from),
            to: cap(&d.to),
            cc: cap(&d.cc),
            bcc: cap(&d.bcc),
            subject: cap(&d.subject),
            body: super::drafts::cap_body(&d.body),
            mode: "new".into(),
            ..DraftRow::default()
        };
        db::query("UPDATE drafts SET mirror_key = ? WHERE id = ?")
            .bind(mirror_key(&stored, &ids))
            .bind(id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Take a mirror out of the Drafts folder; its message too when it was
/// written for the draft and nothing else shows it (a mail app may have
/// copied it to another folder).
async fn remove_mirror(tx: &mut db::Tx<'_>, entry: i64, own: bool) -> Result<()> {
    let message: Option<i64> =
        db::query_scalar("DELETE FROM mailbox WHERE id = ? RETURNING message_id")
            .bind(entry)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(message) = message.filter(|_| own) else {
        return Ok(());
    };
    let shown: Option<i64> =
        db::query_scalar("SELECT id FROM mailbox WHERE message_id = ? LIMIT 1")
            .bind(message)
            .fetch_optional(&mut *tx)
            .await?;
    if shown.is_some() {
        return Ok(());
    }
    db::query(sqlx::AssertSqlSafe(super::fts::forget_sql(
        tx.backend(),
        &message.to_string(),
    )))
    .execute(&mut *tx)
    .await?;
    db::query("DELETE FROM messages WHERE id = ?")
        .bind(message)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
