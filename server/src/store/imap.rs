//! The IMAP view of a user's mailbox (the same rows the webmail shows):
//! each folder numbers its rows itself (`mailbox.uid`, its counts row's
//! `uid_high` + 1, given by the insert trigger: strictly ascending, never
//! reused, the next one exactly the UIDNEXT told). The service's folders
//! share one UIDVALIDITY, made once and kept across restarts; each folder
//! of the user's has its own (see [`super::folders`]). Flags are columns.
//! Expunging removes mailbox rows only; deliveries go on. COPY, MOVE and
//! APPEND, which add rows, are in [`super::imap_add`].

use super::mailbox::Folder;
use super::{now_ms, MessageId, Result, Store, UserId};
use crate::store::db;

/// The flags a message carries: the system flags, and its keywords as
/// bits of the user's keyword table ([`super::keywords`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    pub seen: bool,
    pub answered: bool,
    pub flagged: bool,
    pub deleted: bool,
    pub draft: bool,
    pub keywords: u64,
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    Add,
    Remove,
    Replace,
}

impl Flags {
    pub fn apply(self, op: FlagOp, f: Flags) -> Flags {
        let pick = |now: bool, given: bool| match op {
            FlagOp::Add => now || given,
            FlagOp::Remove => now && !given,
            FlagOp::Replace => given,
        };
        Flags {
            seen: pick(self.seen, f.seen),
            answered: pick(self.answered, f.answered),
            flagged: pick(self.flagged, f.flagged),
            deleted: pick(self.deleted, f.deleted),
            draft: pick(self.draft, f.draft),
            keywords: match op {
                FlagOp::Add => self.keywords | f.keywords,
                FlagOp::Remove => self.keywords & !f.keywords,
                FlagOp::Replace => f.keywords,
            },
        }
    }
}

/// One message of a folder as IMAP sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapEntry {
    pub uid: u32,
    pub message: MessageId,
    pub flags: Flags,
    /// INTERNALDATE (ms).
    pub received_at: i64,
    pub size: u32,
    /// The modification sequence of its last change (RFC 7162).
    pub modseq: u64,
}

/// A folder as it stands, without reading its rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FolderState {
    pub total: u32,
    pub unseen: u32,
    pub deleted: u32,
    /// The highest modification sequence given in the folder.
    pub modseq: u64,
    /// Removals up to this modification sequence are forgotten: a view
    /// older than it cannot be brought up to date by changes alone.
    pub vanished_floor: u64,
}

/// What a conditional STORE did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOutcome {
    /// The entries the STORE applied to, as they are now (by UID).
    pub changed: Vec<ImapEntry>,
    /// UIDs left alone: changed after the client's modification sequence.
    pub modified: Vec<u32>,
}

/// What changed in a folder after a modification sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderChanges {
    /// The highest modification sequence these changes reach.
    pub modseq: u64,
    /// Rows that arrived or whose flags changed, by UID.
    pub changed: Vec<ImapEntry>,
    /// UIDs removed, ascending.
    pub vanished: Vec<u32>,
}

fn json_ids(uids: &[u32]) -> String {
    let mut s = String::with_capacity(uids.len() * 8 + 2);
    s.push('[');
    for (i, u) in uids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&u.to_string());
    }
    s.push(']');
    s
}

pub(super) fn entry(r: &db::Row) -> Result<ImapEntry> {
    let uid: i64 = r.try_get(0)?;
    let size: i64 = r.try_get(8)?;
    Ok(ImapEntry {
        uid: u32::try_from(uid).unwrap_or(u32::MAX),
        message: MessageId(r.try_get(1)?),
        flags: Flags {
            seen: r.try_get(2)?,
            answered: r.try_get(3)?,
            flagged: r.try_get(4)?,
            deleted: r.try_get(5)?,
            draft: r.try_get(6)?,
            keywords: r.try_get::<i64, _>(10)? as u64,
        },
        received_at: r.try_get(7)?,
        size: u32::try_from(size).unwrap_or(u32::MAX),
        modseq: r.try_get::<i64, _>(9)?.max(0) as u64,
    })
}

pub(super) const COLUMNS: &str =
    "mb.uid, mb.message_id, mb.seen, mb.answered, mb.flagged, mb.deleted, \
                       mb.draft, mb.received_at, m.size, mb.modseq, mb.keywords";

impl Store {
    /// The UIDVALIDITY of every folder (made once, kept).
    pub async fn imap_uid_validity(&self) -> Result<u32> {
        let key = self
            .server_key("imap-uidvalidity", || {
                let secs = (now_ms() / 1000).clamp(1, u32::MAX as i64) as u32;
                secs.to_be_bytes().to_vec()
            })
            .await?;
        let v = key
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
            .unwrap_or(1);
        Ok(v.max(1))
    }

    /// The UID the next message of `folder` will get: one more than the
    /// highest given in it (kept in its counts row in the same transaction
    /// as each insert), so UIDNEXT changes only when mail is added to
    /// this folder (RFC 3501 §2.3.1.1). PostgreSQL takes each UID under
    /// its folder's lock: a UID taken but not committed yet is at or above
    /// the UIDNEXT told, and UIDNEXT never goes down.
    pub async fn imap_uid_next(&self, user: UserId, folder: Folder) -> Result<u32> {
        let last: Option<i64> = db::query_scalar(
            "SELECT uid_high FROM mailbox_counts WHERE user_id = ? AND folder = ?",
        )
        .bind(user.0)
        .bind(folder)
        .fetch_optional(&self.read)
        .await?;
        Ok(u32::try_from(last.unwrap_or(0) + 1).unwrap_or(u32::MAX))
    }

    /// A folder's messages, by UID: every row (SELECT reads a snapshot
    /// instead, see [`Store::imap_folder`]). Flags come packed in one
    /// column: decoding is most of the cost of a big folder.
    pub async fn imap_entries(&self, user: UserId, folder: Folder) -> Result<Vec<ImapEntry>> {
        let rows: Vec<(i64, i64, i64, i64, i64, i64, i64)> = db::query_as(
            "SELECT mb.uid, mb.message_id, \
                    CAST(CASE WHEN mb.seen THEN 1 ELSE 0 END + CASE WHEN mb.answered THEN 2 ELSE 0 END \
                    + CASE WHEN mb.flagged THEN 4 ELSE 0 END + CASE WHEN mb.deleted THEN 8 ELSE 0 END \
                    + CASE WHEN mb.draft THEN 16 ELSE 0 END AS BIGINT), \
                    mb.received_at, m.size, mb.modseq, mb.keywords \
             FROM mailbox mb INDEXED BY mailbox_uids \
             JOIN messages m ON m.id = mb.message_id \
             WHERE mb.user_id = ? AND mb.folder = ? ORDER BY mb.uid",
        )
        .bind(user.0)
        .bind(folder)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(uid, message, bits, received_at, size, modseq, keywords)| ImapEntry {
                    uid: u32::try_from(uid).unwrap_or(u32::MAX),
                    message: MessageId(message),
                    flags: Flags {
                        seen: bits & 1 != 0,
                        answered: bits & 2 != 0,
                        flagged: bits & 4 != 0,
                        deleted: bits & 8 != 0,
                        draft: bits & 16 != 0,
                        keywords: keywords as u64,
                    },
                    received_at,
                    size: u32::try_from(size.max(0)).unwrap_or(u32::MAX),
                    modseq: modseq.max(0) as u64,
                },
            )
            .collect())
    }

    /// The mailbox row (the webmail's id for it) of a folder's UID.
    pub async fn imap_row(&self, user: UserId, folder: Folder, uid: u32) -> Result<Option<i64>> {
        Ok(
            db::query_scalar("SELECT id FROM mailbox WHERE user_id = ? AND folder = ? AND uid = ?")
                .bind(user.0)
                .bind(folder)
                .bind(uid as i64)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    /// The raw messages of several of the folder's entries (one query):
    /// (UID, raw), in UID order; entries gone are missing.
    pub async fn imap_raws(
        &self,
        user: UserId,
        folder: Folder,
        uids: &[u32],
    ) -> Result<Vec<(u32, Vec<u8>)>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = db::query(
            "SELECT mb.uid, b.raw FROM mailbox mb INDEXED BY mailbox_uids \
             JOIN message_blobs b ON b.message_id = mb.message_id \
             WHERE mb.user_id = ? AND mb.folder = ? AND mb.uid IN (SELECT value FROM json_each(?)) \
             ORDER BY mb.uid",
        )
        .bind(user.0)
        .bind(folder)
        .bind(json_ids(uids))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let uid: i64 = r.try_get(0)?;
                Ok((u32::try_from(uid).unwrap_or(u32::MAX), r.try_get(1)?))
            })
            .collect()
    }

    /// Change flags of these entries; returns them as they are now.
    pub async fn imap_store_flags(
        &self,
        user: UserId,
        folder: Folder,
        uids: &[u32],
        op: FlagOp,
        flags: Flags,
    ) -> Result<Vec<ImapEntry>> {
        Ok(self
            .imap_store_flags_if(user, folder, uids, op, flags, None)
            .await?
            .changed)
    }

    /// Change flags of these entries, only those whose modification
    /// sequence is at most `unchanged_since` when given (RFC 7162 §3.1.3
    /// UNCHANGEDSINCE: the test and the change in one transaction).
    pub async fn imap_store_flags_if(
        &self,
        user: UserId,
        folder: Folder,
        uids: &[u32],
        op: FlagOp,
        flags: Flags,
        unchanged_since: Option<u64>,
    ) -> Result<StoreOutcome> {
        if uids.is_empty() {
            return Ok(StoreOutcome::default());
        }
        let set = |col: &str, given: bool| match (op, given) {
            (FlagOp::Add, true) => format!("{col} = TRUE"),
            (FlagOp::Remove, true) => format!("{col} = FALSE"),
            (FlagOp::Replace, g) => format!("{col} = {}", if g { "TRUE" } else { "FALSE" }),
            _ => format!("{col} = {col}"),
        };
        let keywords = match op {
            FlagOp::Add => "keywords | ?",
            FlagOp::Remove => "keywords & ~?",
            FlagOp::Replace => "?",
        };
        let sql = format!(
            "UPDATE mailbox INDEXED BY mailbox_uids SET {}, {}, {}, {}, {}, keywords = {keywords} \
             WHERE user_id = ? AND folder = ? \
             AND uid IN (SELECT value FROM json_each(?)) AND modseq <= ?",
            set("seen", flags.seen),
            set("answered", flags.answered),
            set("flagged", flags.flagged),
            set("deleted", flags.deleted),
            set("draft", flags.draft),
        );
        let ids = json_ids(uids);
        let limit = unchanged_since.map_or(i64::MAX, |n| n.min(i64::MAX as u64) as i64);
        let mut tx = self.read.begin().await?;
        let mut modified: Vec<u32> = match unchanged_since {
            Some(_) => db::query_scalar::<i64>(
                "SELECT uid FROM mailbox INDEXED BY mailbox_uids WHERE user_id = ? AND folder = ? \
                 AND uid IN (SELECT value FROM json_each(?)) AND modseq > ?",
            )
            .bind(user.0)
            .bind(folder)
            .bind(&ids)
            .bind(limit)
            .fetch_all(&mut tx)
            .await?
            .into_iter()
            .filter_map(|u| u32::try_from(u).ok())
            .collect(),
            None => Vec::new(),
        };
        modified.sort_unstable();
        db::query(sqlx::AssertSqlSafe(sql))
            .bind(flags.keywords as i64)
            .bind(user.0)
            .bind(folder)
            .bind(&ids)
            .bind(limit)
            .execute(&mut tx)
            .await?;
        let rows = db::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM mailbox mb INDEXED BY mailbox_uids \
             JOIN messages m ON m.id = mb.message_id \
             WHERE mb.user_id = ? AND mb.folder = ? AND mb.uid IN (SELECT value FROM json_each(?)) \
             ORDER BY mb.uid"
        )))
        .bind(user.0)
        .bind(folder)
        .bind(&ids)
        .fetch_all(&mut tx)
        .await?;
        tx.commit().await?;
        self.mailbox_changed(user);
        let changed = rows
            .iter()
            .map(entry)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|e| modified.binary_search(&e.uid).is_err())
            .collect();
        Ok(StoreOutcome { changed, modified })
    }

    /// Remove the entries marked \Deleted (only those in `only`, if given);
    /// returns their UIDs. Deliveries are never touched.
    pub async fn imap_expunge(
        &self,
        user: UserId,
        folder: Folder,
        only: Option<&[u32]>,
    ) -> Result<Vec<u32>> {
        let removed: Vec<i64> = match only {
            Some(uids) => {
                db::query_scalar(
                    "DELETE FROM mailbox INDEXED BY mailbox_uids \
                     WHERE user_id = ? AND folder = ? AND deleted = TRUE AND uid IN (SELECT value FROM json_each(?)) RETURNING uid",
                )
                .bind(user.0)
                .bind(folder)
                .bind(json_ids(uids))
                .fetch_all(&self.read)
                .await?
            }
            None => db::query_scalar(
                "DELETE FROM mailbox WHERE user_id = ? AND folder = ? AND deleted = TRUE RETURNING uid",
            )
            .bind(user.0)
            .bind(folder)
            .fetch_all(&self.read)
            .await?,
        };
        if !removed.is_empty() {
            self.mailbox_changed(user);
        }
        let mut out: Vec<u32> = removed
            .into_iter()
            .filter_map(|u| u32::try_from(u).ok())
            .collect();
        out.sort_unstable();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_operations() {
        let now = Flags {
            seen: true,
            flagged: true,
            ..Default::default()
        };
        let given = Flags {
            flagged: true,
            deleted: true,
            ..Default::default()
        };
        assert_eq!(
            now.apply(FlagOp::Add, given),
            Flags {
                seen: true,
                flagged: true,
                deleted: true,
                ..Default::default()
            }
        );
        assert_eq!(
            now.apply(FlagOp::Remove, given),
            Flags {
                seen: true,
                ..Default::default()
            }
        );
        assert_eq!(now.apply(FlagOp::Replace, given), given);
        assert_eq!(json_ids(&[3, 1, 20]), "[3,1,20]");
        assert_eq!(json_ids(&[]), "[]");
    }
}
