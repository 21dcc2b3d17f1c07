//! A folder's IMAP view kept packed (Dovecot keeps an index file and a log
//! of changes; this is the same idea in the database): SELECT reads the
//! folder's last snapshot — one row — and the changes made after it through
//! the modification sequence index, instead of every row of the folder.
//! The snapshot is written again when the changes after it grow, so a
//! SELECT never replays more than [`REWRITE_AFTER`] of them.
//!
//! A snapshot is usable while the removals after it are still remembered
//! (`mailbox_counts.vanished_floor`, raised when the purge forgets old
//! ones); else the folder is read afresh.
//!
//! The views lately read are also kept in memory ([`FolderCache`], shared
//! by the sessions of this process, bounded): a SELECT of a folder another
//! session looked at asks the database only what changed since.

use crate::store::db;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::imap::{Flags, FolderChanges, ImapEntry};
use super::mailbox::Folder;
use super::{MessageId, Result, Store, UserId};

/// Changes replayed at SELECT beyond which the snapshot is written again.
pub const REWRITE_AFTER: usize = 2_000;

/// Entries the in-memory views may hold in all (~40 bytes each).
pub const CACHED_ENTRIES: usize = 1_000_000;

/// Folder views lately read: (modification sequence, entries), the least
/// recently used dropped first beyond [`CACHED_ENTRIES`].
#[derive(Default)]
pub struct FolderCache {
    views: Mutex<HashMap<(i64, Folder), Cached>>,
}

struct Cached {
    modseq: u64,
    entries: Arc<Vec<ImapEntry>>,
    used: u64,
}

impl FolderCache {
    fn get(&self, user: UserId, folder: Folder) -> Option<(u64, Arc<Vec<ImapEntry>>)> {
        let mut v = self.views.lock().unwrap_or_else(|p| p.into_inner());
        let tick = v.values().map(|c| c.used).max().unwrap_or(0) + 1;
        let c = v.get_mut(&(user.0, folder))?;
        c.used = tick;
        Some((c.modseq, c.entries.clone()))
    }

    /// Let go of the view kept at `modseq` (a caller about to change it:
    /// in place when no session holds it either, instead of a copy).
    fn forget(&self, user: UserId, folder: Folder, modseq: u64) {
        let mut v = self.views.lock().unwrap_or_else(|p| p.into_inner());
        if v.get(&(user.0, folder)).is_some_and(|c| c.modseq == modseq) {
            v.remove(&(user.0, folder));
        }
    }

    fn put(&self, user: UserId, folder: Folder, modseq: u64, entries: Arc<Vec<ImapEntry>>) {
        let mut v = self.views.lock().unwrap_or_else(|p| p.into_inner());
        let tick = v.values().map(|c| c.used).max().unwrap_or(0) + 1;
        let newer = v.get(&(user.0, folder)).is_some_and(|c| c.modseq > modseq);
        if !newer {
            v.insert(
                (user.0, folder),
                Cached {
                    modseq,
                    entries,
                    used: tick,
                },
            );
        }
        while v.values().map(|c| c.entries.len()).sum::<usize>() > CACHED_ENTRIES && v.len() > 1 {
            let Some(oldest) = v.iter().min_by_key(|(_, c)| c.used).map(|(k, _)| *k) else {
                break;
            };
            v.remove(&oldest);
        }
    }
}

const VERSION: u8 = 2;
/// UID, flags, size, received_at, modseq, message: 4 + 1 + 4 + 8 + 8 + 8;
/// then, when the flags byte says so, the keywords (8).
const RECORD: usize = 33;
/// The flags byte's bit that says keywords follow.
const HAS_KEYWORDS: u8 = 32;

/// Packed entries, in UID order.
pub fn encode(entries: &[ImapEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + entries.len() * RECORD);
    out.push(VERSION);
    for e in entries {
        let f = e.flags;
        let bits = f.seen as u8
            | (f.answered as u8) << 1
            | (f.flagged as u8) << 2
            | (f.deleted as u8) << 3
            | (f.draft as u8) << 4
            | if f.keywords != 0 { HAS_KEYWORDS } else { 0 };
        out.extend_from_slice(&e.uid.to_le_bytes());
        out.push(bits);
        out.extend_from_slice(&e.size.to_le_bytes());
        out.extend_from_slice(&e.received_at.to_le_bytes());
        out.extend_from_slice(&e.modseq.to_le_bytes());
        out.extend_from_slice(&e.message.0.to_le_bytes());
        if f.keywords != 0 {
            out.extend_from_slice(&f.keywords.to_le_bytes());
        }
    }
    out
}

/// The entries back; None if the bytes are not a snapshot of this version.
pub fn decode(b: &[u8]) -> Option<Vec<ImapEntry>> {
    let (&v, mut rest) = b.split_first()?;
    if v != VERSION {
        return None;
    }
    let u32_at = |r: &[u8], i: usize| u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
    let u64_at = |r: &[u8], i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&r[i..i + 8]);
        u64::from_le_bytes(a)
    };
    let mut out = Vec::with_capacity(rest.len() / RECORD);
    while !rest.is_empty() {
        let r = rest.get(..RECORD)?;
        let bits = r[4];
        let keywords = if bits & HAS_KEYWORDS != 0 {
            let k = rest.get(RECORD..RECORD + 8)?;
            rest = &rest[RECORD + 8..];
            u64_at(k, 0)
        } else {
            rest = &rest[RECORD..];
            0
        };
        out.push(ImapEntry {
            uid: u32_at(r, 0),
            flags: Flags {
                seen: bits & 1 != 0,
                answered: bits & 2 != 0,
                flagged: bits & 4 != 0,
                deleted: bits & 8 != 0,
                draft: bits & 16 != 0,
                keywords,
            },
            size: u32_at(r, 5),
            received_at: u64_at(r, 9) as i64,
            modseq: u64_at(r, 17),
            message: MessageId(u64_at(r, 25) as i64),
        });
    }
    // UIDs strictly ascending, or it is not one of ours
    out.windows(2).all(|w| w[0].uid < w[1].uid).then_some(out)
}

/// Apply changes to entries in UID order: removals out, arrivals in at
/// their place, flag changes taken.
pub fn merge(entries: &mut Vec<ImapEntry>, changes: FolderChanges) {
    if !changes.vanished.is_empty() {
        entries.retain(|e| changes.vanished.binary_search(&e.uid).is_err());
    }
    for c in changes.changed {
        match entries.binary_search_by_key(&c.uid, |e| e.uid) {
            Ok(i) => entries[i] = c,
            Err(i) => entries.insert(i, c),
        }
    }
}

impl Store {
    /// A folder's entries by UID and the modification sequence they are
    /// true at: from the snapshot and the changes after it, or read afresh
    /// (and the snapshot written) when there is none to start from.
    pub async fn imap_folder(
        &self,
        user: UserId,
        folder: Folder,
    ) -> Result<(Arc<Vec<ImapEntry>>, u64)> {
        let floor = self.folder_state(user, folder).await?.vanished_floor;
        // a view this process holds: only what changed since
        if let Some((at, entries)) = self
            .folders
            .get(user, folder)
            .filter(|(at, _)| *at >= floor)
        {
            let changes = self.folder_changes(user, folder, at).await?;
            if changes.changed.is_empty() && changes.vanished.is_empty() {
                return Ok((entries, changes.modseq.max(at)));
            }
            let modseq = changes.modseq.max(at);
            self.folders.forget(user, folder, at);
            let mut entries = Arc::unwrap_or_clone(entries);
            merge(&mut entries, changes);
            let entries = Arc::new(entries);
            self.folders.put(user, folder, modseq, entries.clone());
            return Ok((entries, modseq));
        }
        let snap: Option<(i64, Vec<u8>)> = db::query_as(
            "SELECT modseq, entries FROM folder_snapshots WHERE user_id = ? AND folder = ?",
        )
        .bind(user.0)
        .bind(folder)
        .fetch_optional(&self.read)
        .await?;
        if let Some((at, bytes)) = snap {
            let at = at.max(0) as u64;
            if let Some(mut entries) = decode(&bytes).filter(|_| at >= floor) {
                let changes = self.folder_changes(user, folder, at).await?;
                let replayed = changes.changed.len() + changes.vanished.len();
                let modseq = changes.modseq.max(at);
                merge(&mut entries, changes);
                if replayed > REWRITE_AFTER {
                    self.write_snapshot(user, folder, modseq, &entries).await?;
                }
                let entries = Arc::new(entries);
                self.folders.put(user, folder, modseq, entries.clone());
                return Ok((entries, modseq));
            }
        }
        // afresh: the modification sequence first, so nothing after it
        // is missed (a change read twice is harmless)
        let modseq = self.folder_state(user, folder).await?.modseq;
        let entries = self.imap_entries(user, folder).await?;
        self.write_snapshot(user, folder, modseq, &entries).await?;
        let entries = Arc::new(entries);
        self.folders.put(user, folder, modseq, entries.clone());
        Ok((entries, modseq))
    }

    async fn write_snapshot(
        &self,
        user: UserId,
        folder: Folder,
        modseq: u64,
        entries: &[ImapEntry],
    ) -> Result<()> {
        // never replace a newer snapshot with an older one
        db::query(
            "INSERT INTO folder_snapshots (user_id, folder, modseq, entries) VALUES (?, ?, ?, ?) \
             ON CONFLICT (user_id, folder) DO UPDATE \
             SET modseq = excluded.modseq, entries = excluded.entries \
             WHERE excluded.modseq > folder_snapshots.modseq",
        )
        .bind(user.0)
        .bind(folder)
        .bind(modseq.min(i64::MAX as u64) as i64)
        .bind(encode(entries))
        .execute(&self.read)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(uid: u32, seen: bool, modseq: u64) -> ImapEntry {
        ImapEntry {
            uid,
            message: MessageId(i64::from(uid) * 7),
            flags: Flags {
                seen,
                draft: uid.is_multiple_of(2),
                ..Default::default()
            },
            received_at: 1_764_806_400_000 + i64::from(uid),
            size: uid % 1000 * 100,
            modseq,
        }
    }

    #[test]
    fn snapshots_round_trip_and_refuse_what_is_not_one() {
        let mut tagged = e(9, false, 12);
        tagged.flags.keywords = 1 << 63 | 5;
        let v = vec![
            e(3, true, 4),
            tagged.clone(),
            e(4_000_000_000, true, u64::MAX),
        ];
        let packed = encode(&v);
        // keywords take room only where there are some
        assert_eq!(packed.len(), 1 + 3 * RECORD + 8);
        assert_eq!(decode(&packed), Some(v));
        assert_eq!(decode(&encode(&[])), Some(vec![]));
        assert_eq!(decode(b""), None);
        assert_eq!(decode(&[1]), None, "the version before keywords");
        let mut cut = encode(&[tagged]);
        cut.pop();
        assert_eq!(decode(&cut), None, "keywords cut short");
        let mut bad = encode(&[e(9, true, 1), e(3, true, 1)]);
        assert_eq!(decode(&bad), None, "UIDs out of order");
        bad.pop();
        assert_eq!(decode(&bad), None, "a cut record");
    }

    #[test]
    fn changes_merge_in_uid_order() {
        let mut v = vec![e(1, false, 1), e(5, false, 2), e(9, false, 3)];
        merge(
            &mut v,
            FolderChanges {
                modseq: 9,
                changed: vec![e(5, true, 7), e(12, false, 8), e(7, false, 9)],
                vanished: vec![1],
            },
        );
        let got: Vec<(u32, bool)> = v.iter().map(|e| (e.uid, e.flags.seen)).collect();
        assert_eq!(got, [(5, true), (7, false), (9, false), (12, false)]);
    }
}
