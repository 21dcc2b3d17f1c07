//! IMAP SEARCH through the indexes: which entries of a folder a header or
//! text criterion matches, read from the index rather than from every
//! message.
//!
//! - FROM, TO and SUBJECT keep RFC 3501's meaning (the header contains the
//!   string, case-insensitive) over the header as the store summarises it
//!   ("Name <address>, …", decoded): the trigram index `messages_hdr`
//!   narrows to the messages holding the string's trigrams, and the text
//!   itself is checked here. A string of fewer than three characters (no
//!   trigram to look up) reads the folder's header columns instead — still
//!   no message body.
//! - BODY and TEXT keep RFC 3501's meaning too (the string is a substring
//!   of the body, or of the header or body): the trigram index
//!   ([`super::grams`]) names the messages that may hold the string, and
//!   those are read and checked ([`Answer::exact`] false). A string
//!   without three letters or digits in a row cannot be looked up: the
//!   folder's messages are read.

use crate::store::db;
use std::collections::HashSet;

use super::mailbox::Folder;
use super::{Result, Store, UserId};

/// A search criterion the indexes answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexedTerm {
    /// The header contains the string (any case).
    Header(HeaderColumn, String),
    /// The body contains the string.
    Body(String),
    /// A header or the body contains the string.
    Text(String),
}

/// What an index said of a criterion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// The UIDs it holds for (exact), or may hold for (candidates).
    pub uids: HashSet<u32>,
    /// Exact: the UIDs are the answer; else each is checked against the
    /// message, and the others do not match.
    pub exact: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderColumn {
    From,
    To,
    Cc,
    Subject,
}

impl HeaderColumn {
    fn column(self) -> &'static str {
        match self {
            HeaderColumn::From => "header_from",
            HeaderColumn::To => "header_to",
            HeaderColumn::Cc => "header_cc",
            HeaderColumn::Subject => "subject",
        }
    }

    /// The column a HEADER search names (RFC 3501 §6.4.4), if one is kept.
    pub fn of_header(name: &str) -> Option<HeaderColumn> {
        match name.to_ascii_lowercase().as_str() {
            "from" => Some(HeaderColumn::From),
            "to" => Some(HeaderColumn::To),
            "cc" => Some(HeaderColumn::Cc),
            "subject" => Some(HeaderColumn::Subject),
            _ => None,
        }
    }
}

/// Messages filled in per batch by [`Store::backfill_cc`].
pub const BACKFILL_BATCH: i64 = 500;

/// The string a LIKE pattern looks for, or None when the trigram index
/// cannot be asked (too short, or LIKE's own wildcards in it).
fn like_pattern(needle: &str) -> Option<String> {
    if needle.chars().count() < 3 || needle.contains(['%', '_', '\\']) {
        return None;
    }
    Some(format!("%{needle}%"))
}

impl Store {
    /// The UIDs of `folder` whose `term` holds. None when the index cannot
    /// answer it (a TEXT or BODY string without a word in it): the caller
    /// reads the messages.
    pub async fn imap_search_indexed(
        &self,
        user: UserId,
        folder: Folder,
        term: &IndexedTerm,
    ) -> Result<Option<Answer>> {
        let uid = |v: i64| u32::try_from(v).ok();
        match term {
            IndexedTerm::Header(col, needle) => {
                if *col == HeaderColumn::Cc && self.cc_unknown().await? {
                    // mail stored before Cc was kept, not read yet
                    return Ok(None);
                }
                let needle = needle.to_lowercase();
                let c = col.column();
                if self.backend() == db::Backend::Sqlite {
                    // the headers' trigram index is the indexer's too
                    self.index_before_search().await;
                }
                let rows: Vec<(i64, Option<String>)> = match like_pattern(&needle) {
                    Some(pattern) => {
                        let sql = match self.backend() {
                            // CROSS JOIN: the index drives (else SQLite
                            // walks the folder and asks the index per row)
                            db::Backend::Sqlite => format!(
                                "SELECT mb.uid, m.{c} FROM messages_hdr h \
                                 CROSS JOIN mailbox mb ON mb.message_id = h.rowid \
                                 CROSS JOIN messages m ON m.id = h.rowid \
                                 WHERE h.{c} LIKE ? AND mb.user_id = ? AND mb.folder = ?"
                            ),
                            // the column's trigram index (LIKE is ILIKE there)
                            db::Backend::Postgres => format!(
                                "SELECT mb.uid, m.{c} FROM messages m \
                                 JOIN mailbox mb ON mb.message_id = m.id \
                                 WHERE m.{c} LIKE ? AND mb.user_id = ? AND mb.folder = ?"
                            ),
                        };
                        db::query_as(sqlx::AssertSqlSafe(sql))
                            .bind(pattern)
                            .bind(user.0)
                            .bind(folder)
                            .fetch_all(&self.read)
                            .await?
                    }
                    None => {
                        db::query_as(sqlx::AssertSqlSafe(format!(
                            "SELECT mb.uid, m.{c} FROM mailbox mb \
                             JOIN messages m ON m.id = mb.message_id \
                             WHERE mb.user_id = ? AND mb.folder = ?"
                        )))
                        .bind(user.0)
                        .bind(folder)
                        .fetch_all(&self.read)
                        .await?
                    }
                };
                // the index finds the trigrams; the string itself is
                // checked here, with Unicode case folding
                Ok(Some(Answer {
                    uids: rows
                        .into_iter()
                        .filter(|(_, text)| {
                            text.as_deref()
                                .is_some_and(|t| t.to_lowercase().contains(&needle))
                        })
                        .filter_map(|(id, _)| uid(id))
                        .collect(),
                    exact: true,
                }))
            }
            IndexedTerm::Body(needle) | IndexedTerm::Text(needle) => {
                let grams = super::grams::grams(needle);
                if grams.is_empty() {
                    return Ok(None);
                }
                // what is still pending is indexed first
                self.index_before_search().await;
                Ok(Some(Answer {
                    uids: self.grams_candidates(user, folder, &grams).await?,
                    exact: false,
                }))
            }
        }
    }
}

impl Store {
    /// Is there mail whose Cc header has not been read yet?
    async fn cc_unknown(&self) -> Result<bool> {
        Ok(
            db::query_scalar::<i64>("SELECT id FROM messages WHERE header_cc IS NULL LIMIT 1")
                .fetch_optional(&self.read)
                .await?
                .is_some(),
        )
    }

    /// Read the Cc header of up to [`BACKFILL_BATCH`] messages stored
    /// before it was kept (from their stored bytes, header only); returns
    /// how many were filled in (0: none left).
    pub async fn backfill_cc(&self) -> Result<u64> {
        let rows: Vec<(i64, Option<Vec<u8>>)> = db::query_as(
            "SELECT m.id, b.raw FROM messages m INDEXED BY messages_cc_unknown \
             LEFT JOIN message_blobs b ON b.message_id = m.id \
             WHERE m.header_cc IS NULL ORDER BY m.id LIMIT ?",
        )
        .bind(BACKFILL_BATCH)
        .fetch_all(&self.read)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let filled: Vec<(i64, String)> = tokio::task::spawn_blocking(move || {
            rows.into_iter()
                .map(|(id, raw)| (id, super::Summary::cc_of(&raw.unwrap_or_default())))
                .collect()
        })
        .await
        .unwrap_or_default();
        let mut tx = self.read.begin().await?;
        for (id, cc) in &filled {
            db::query("UPDATE messages SET header_cc = ? WHERE id = ? AND header_cc IS NULL")
                .bind(cc)
                .bind(id)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(filled.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_only_when_the_index_can_answer() {
        assert_eq!(like_pattern("bob").as_deref(), Some("%bob%"));
        assert_eq!(like_pattern("ré"), None);
        assert_eq!(like_pattern("50%_off"), None);
        assert_eq!(like_pattern("dé€").as_deref(), Some("%dé€%"));
    }
}
