//! IMAP keywords (RFC 3501 §2.3.2: `$Forwarded`, `$Junk`, a mail app's
//! tags) and `\Recent`.
//!
//! A user's keywords are named once in `user_keywords` — compared without
//! regard to ASCII case, the first spelling kept — and each is a bit of
//! `mailbox.keywords`: at most [`MAX_KEYWORDS`] per user (Cyrus allows 128
//! per mailbox). A name keeps its bit for good, so a table of names read
//! once is only ever extended, and a copy or a move between folders
//! carries the bits as they are.
//!
//! `\Recent` (RFC 3501 §2.3.2): each folder's `mailbox_counts.recent_uid`
//! is the highest UID shown to a read-write session. A session that
//! selects the folder read-write, or notices new mail in it, raises it —
//! compare and set, so two sessions never both claim one message — and
//! the messages above the old mark are recent to that session only.

use super::mailbox::Folder;
use super::{Result, Store, UserId};
use crate::store::db;

/// Keywords a user may name.
pub const MAX_KEYWORDS: usize = 64;
/// The longest keyword name, in bytes.
pub const MAX_KEYWORD_LEN: usize = 200;

/// A user's keyword names, by bit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keywords {
    names: Vec<String>,
}

/// Why keywords could not be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordRefusal {
    /// The user has [`MAX_KEYWORDS`] already.
    TooMany,
    /// Longer than [`MAX_KEYWORD_LEN`].
    TooLong,
}

impl Keywords {
    pub fn new(names: Vec<String>) -> Keywords {
        Keywords { names }
    }

    /// The bit of a keyword (ASCII case ignored).
    pub fn bit(&self, name: &str) -> Option<u32> {
        self.names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .map(|i| i as u32)
    }

    /// The names of the bits set in `bits` that this table knows.
    pub fn names(&self, bits: u64) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .enumerate()
            .filter(move |(i, _)| bits & (1u64 << i) != 0)
            .map(|(_, n)| n.as_str())
    }

    /// Every name, by bit.
    pub fn all(&self) -> &[String] {
        &self.names
    }

    /// The bits this table names.
    pub fn known(&self) -> u64 {
        match self.names.len() {
            0 => 0,
            n if n >= 64 => u64::MAX,
            n => (1u64 << n) - 1,
        }
    }

    /// May more be named?
    pub fn can_grow(&self) -> bool {
        self.names.len() < MAX_KEYWORDS
    }
}

impl Store {
    /// The user's keyword names.
    pub async fn imap_keywords(&self, user: UserId) -> Result<Keywords> {
        let rows: Vec<(i64, String)> =
            db::query_as("SELECT bit, name FROM user_keywords WHERE user_id = ? ORDER BY bit")
                .bind(user.0)
                .fetch_all(&self.read)
                .await?;
        // bits are given in order from 0; a gap (never made) would shift
        // every name after it, so names are placed by bit
        let mut names: Vec<String> = Vec::with_capacity(rows.len());
        for (bit, name) in rows {
            let bit = usize::try_from(bit).unwrap_or(usize::MAX);
            if bit >= MAX_KEYWORDS {
                continue;
            }
            while names.len() < bit {
                names.push(String::new());
            }
            names.push(name);
        }
        Ok(Keywords::new(names))
    }

    /// The bits of these keywords, naming the ones the user has not named
    /// yet; with the user's table as it is afterwards.
    pub async fn imap_keyword_bits(
        &self,
        user: UserId,
        wanted: &[&str],
    ) -> Result<std::result::Result<(u64, Keywords), KeywordRefusal>> {
        if wanted.iter().any(|w| w.len() > MAX_KEYWORD_LEN) {
            return Ok(Err(KeywordRefusal::TooLong));
        }
        // another session (or node) may take the same free bit at the same
        // moment: its insert wins, this one reads again
        for _ in 0..(MAX_KEYWORDS + 4) {
            let table = self.imap_keywords(user).await?;
            let missing = wanted.iter().find(|w| table.bit(w).is_none());
            let Some(name) = missing else {
                let bits = wanted
                    .iter()
                    .filter_map(|w| table.bit(w))
                    .fold(0u64, |b, i| b | (1u64 << i));
                return Ok(Ok((bits, table)));
            };
            if !table.can_grow() {
                return Ok(Err(KeywordRefusal::TooMany));
            }
            db::query(
                "INSERT INTO user_keywords (user_id, bit, name, folded) VALUES (?, ?, ?, ?) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(user.0)
            .bind(table.all().len() as i64)
            .bind(*name)
            .bind(name.to_ascii_lowercase())
            .execute(&self.read)
            .await?;
        }
        Err(super::StoreError::Invalid(
            "keywords kept changing while being named".into(),
        ))
    }

    /// The highest UID of a folder shown to a read-write session.
    pub async fn imap_recent_mark(&self, user: UserId, folder: Folder) -> Result<u32> {
        let mark: Option<i64> = db::query_scalar(
            "SELECT recent_uid FROM mailbox_counts WHERE user_id = ? AND folder = ?",
        )
        .bind(user.0)
        .bind(folder)
        .fetch_optional(&self.read)
        .await?;
        Ok(u32::try_from(mark.unwrap_or(0)).unwrap_or(u32::MAX))
    }

    /// Claim the folder's messages up to UID `upto` as shown: returns the
    /// mark before, so the UIDs above it (up to `upto`) are recent to the
    /// caller alone.
    pub async fn imap_claim_recent(&self, user: UserId, folder: Folder, upto: u32) -> Result<u32> {
        loop {
            let before = self.imap_recent_mark(user, folder).await?;
            if before >= upto {
                return Ok(before);
            }
            let done = db::query(
                "UPDATE mailbox_counts SET recent_uid = ? \
                 WHERE user_id = ? AND folder = ? AND recent_uid = ?",
            )
            .bind(i64::from(upto))
            .bind(user.0)
            .bind(folder)
            .bind(i64::from(before))
            .execute(&self.read)
            .await?
            .rows_affected();
            // no counts row: the folder never had mail (nothing to claim)
            if done == 1 || !self.has_counts(user, folder).await? {
                return Ok(before);
            }
        }
    }

    async fn has_counts(&self, user: UserId, folder: Folder) -> Result<bool> {
        Ok(
            db::query_scalar::<i64>(
                "SELECT 1 FROM mailbox_counts WHERE user_id = ? AND folder = ?",
            )
            .bind(user.0)
            .bind(folder)
            .fetch_optional(&self.read)
            .await?
            .is_some(),
        )
    }

    /// How many of the folder's messages are recent to the next session
    /// (STATUS RECENT).
    pub async fn imap_recent_count(&self, user: UserId, folder: Folder) -> Result<u32> {
        let n: i64 = db::query_scalar(
            "SELECT COUNT(*) FROM mailbox WHERE user_id = ? AND folder = ? AND uid > \
             COALESCE((SELECT recent_uid FROM mailbox_counts WHERE user_id = ? AND folder = ?), 0)",
        )
        .bind(user.0)
        .bind(folder)
        .bind(user.0)
        .bind(folder)
        .fetch_one(&self.read)
        .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_by_bit() {
        let k = Keywords::new(vec!["$Forwarded".into(), "$Junk".into(), "Work".into()]);
        assert_eq!(k.bit("$forwarded"), Some(0));
        assert_eq!(k.bit("WORK"), Some(2));
        assert_eq!(k.bit("$Label1"), None);
        assert_eq!(k.names(0b101).collect::<Vec<_>>(), ["$Forwarded", "Work"]);
        // a bit this table does not know yet is left out
        assert_eq!(k.names(1 << 9).count(), 0);
        assert_eq!(k.known(), 0b111);
        assert_eq!(Keywords::default().known(), 0);
        let full = Keywords::new((0..64).map(|i| format!("k{i}")).collect());
        assert_eq!(full.known(), u64::MAX);
        assert!(!full.can_grow());
        assert_eq!(full.names(1 << 63).collect::<Vec<_>>(), ["k63"]);
    }
}
