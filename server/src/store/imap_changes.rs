//! What changed in a folder, without reading the folder: its counts and
//! highest modification sequence (kept by the store's triggers as rows
//! change), the rows changed and the UIDs removed after a modification
//! sequence (RFC 7162), and the purge of removals sessions have long
//! caught up with.

use super::imap::{entry, FolderChanges, FolderState, COLUMNS};
use super::mailbox::Folder;
use super::{Result, Store, UserId};
use crate::store::db;

impl Store {
    /// A folder's counts and highest modification sequence, as kept by the
    /// store as its rows change (one row read, however big the folder).
    pub async fn folder_state(&self, user: UserId, folder: Folder) -> Result<FolderState> {
        let r: Option<(i64, i64, i64, i64, i64)> = db::query_as(
            "SELECT total, unseen, deleted, modseq, vanished_floor FROM mailbox_counts \
             WHERE user_id = ? AND folder = ?",
        )
        .bind(user.0)
        .bind(folder)
        .fetch_optional(&self.read)
        .await?;
        let n = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
        Ok(r.map_or(
            FolderState {
                modseq: 1,
                ..Default::default()
            },
            |(t, u, d, m, f)| FolderState {
                total: n(t),
                unseen: n(u),
                deleted: n(d),
                modseq: m.max(1) as u64,
                vanished_floor: f.max(0) as u64,
            },
        ))
    }

    /// How many rows the user's folders hold in all (kept, not counted).
    pub async fn mailbox_total(&self, user: UserId) -> Result<u64> {
        let n: i64 = db::query_scalar(
            "SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) FROM mailbox_counts WHERE user_id = ?",
        )
        .bind(user.0)
        .fetch_one(&self.read)
        .await?;
        Ok(n.max(0) as u64)
    }

    /// The counts STATUS reports: (messages, unseen).
    pub async fn imap_counts(&self, user: UserId, folder: Folder) -> Result<(u32, u32)> {
        let s = self.folder_state(user, folder).await?;
        Ok((s.total, s.unseen))
    }

    /// What changed in a folder after modification sequence `since`: rows
    /// that arrived or changed flags, and UIDs removed — read through the
    /// modification sequence index, so the cost is what changed, not what
    /// the folder holds.
    pub async fn folder_changes(
        &self,
        user: UserId,
        folder: Folder,
        since: u64,
    ) -> Result<FolderChanges> {
        // the highest first: every change up to it is committed, so reading
        // up to it (and no further) is consistent
        let top = self.folder_state(user, folder).await?.modseq;
        let since = since.min(i64::MAX as u64) as i64;
        let rows = db::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM mailbox mb INDEXED BY mailbox_modseq \
             JOIN messages m ON m.id = mb.message_id \
             WHERE mb.user_id = ? AND mb.folder = ? AND mb.modseq > ? AND mb.modseq <= ? \
             ORDER BY mb.uid"
        )))
        .bind(user.0)
        .bind(folder)
        .bind(since)
        .bind(top as i64)
        .fetch_all(&self.read)
        .await?;
        let changed = rows.iter().map(entry).collect::<Result<Vec<_>>>()?;
        let vanished = self.vanished_between(user, folder, since, top).await?;
        Ok(FolderChanges {
            modseq: top,
            changed,
            vanished,
        })
    }

    /// The UIDs removed from a folder after modification sequence
    /// `since`, ascending; None when removals that old are forgotten (the
    /// caller then works from what the folder still holds).
    pub async fn folder_vanished(
        &self,
        user: UserId,
        folder: Folder,
        since: u64,
    ) -> Result<Option<Vec<u32>>> {
        if since < self.folder_state(user, folder).await?.vanished_floor {
            return Ok(None);
        }
        let since = since.min(i64::MAX as u64) as i64;
        Ok(Some(
            self.vanished_between(user, folder, since, u64::MAX).await?,
        ))
    }

    /// UIDs removed with a modification sequence in (since, up_to],
    /// ascending.
    async fn vanished_between(
        &self,
        user: UserId,
        folder: Folder,
        since: i64,
        up_to: u64,
    ) -> Result<Vec<u32>> {
        let mut out: Vec<u32> = db::query_scalar::<i64>(
            "SELECT uid FROM mailbox_vanished WHERE user_id = ? AND folder = ? \
             AND modseq > ? AND modseq <= ?",
        )
        .bind(user.0)
        .bind(folder)
        .bind(since)
        .bind(up_to.min(i64::MAX as u64) as i64)
        .fetch_all(&self.read)
        .await?
        .into_iter()
        .filter_map(|u| u32::try_from(u).ok())
        .collect();
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Forget removed UIDs older than `before` (ms): sessions have long
    /// caught up with them.
    pub async fn prune_vanished(&self, before: i64) -> Result<u64> {
        let mut tx = self.read.begin().await?;
        // what is forgotten is marked first: a view older than that is
        // read afresh rather than told too little
        db::query(
            "UPDATE mailbox_counts SET vanished_floor = \
                 (SELECT CASE WHEN MAX(v.modseq) > mailbox_counts.vanished_floor \
                  THEN MAX(v.modseq) ELSE mailbox_counts.vanished_floor END \
                  FROM mailbox_vanished v \
                  WHERE v.user_id = mailbox_counts.user_id AND v.folder = mailbox_counts.folder \
                  AND v.at < ?) \
             WHERE EXISTS (SELECT 1 FROM mailbox_vanished v \
                  WHERE v.user_id = mailbox_counts.user_id AND v.folder = mailbox_counts.folder \
                  AND v.at < ?)",
        )
        .bind(before)
        .bind(before)
        .execute(&mut tx)
        .await?;
        let n = db::query("DELETE FROM mailbox_vanished WHERE at < ?")
            .bind(before)
            .execute(&mut tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}
