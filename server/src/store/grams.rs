//! Substring search (RFC 3501 §6.4.4: "the string is a substring of the
//! field"), answered from an index: the trigrams of each message's text —
//! every header's decoded value and its body text, as SEARCH reads them —
//! lower-cased, three characters of one run of letters and digits each,
//! each kept as a 32-bit hash (FNV-1a: stable, and a token any tokenizer
//! keeps whole; two trigrams sharing a hash only add a candidate).
//! A string's trigrams all present is necessary for it to occur, so the
//! messages holding them are candidates, checked against the text itself
//! ([`crate::imap::search`]): a search reads the messages that may match,
//! not the folder.
//!
//! - SQLite: an FTS5 table without content (`messages_grams`, one token
//!   per trigram, its hash in hex; no positions; rows deletable), rowid =
//!   message id.
//! - PostgreSQL: `messages_grams.grams`, an array of the hashes with a GIN
//!   index (containment), gone with its message.
//!
//! Mail stored before the index existed is read into it in the background
//! ([`Store::backfill_grams`], oldest first); until then a search counts
//! those messages as candidates.

use std::collections::{BTreeSet, HashSet};

use mail_parser::{HeaderValue, Message, MessageParser};

use super::db::{self, Backend};
use super::mailbox::Folder;
use super::{MessageId, Result, Store, UserId};

/// Most bytes of a message's text whose trigrams are kept (the index of a
/// huge text would be huge; what is past this is found by no search, as
/// with PostgreSQL's document).
const MAX_TEXT: usize = 256 * 1024;
/// Messages read per backfill batch.
pub const BACKFILL_BATCH: i64 = 200;

/// FNV-1a, 32 bits, of three characters.
fn hash(w: &[char]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut buf = [0u8; 4];
    for c in w {
        for b in c.encode_utf8(&mut buf).as_bytes() {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// The trigrams of `text` (lower-cased), as hashes, without repeats.
pub fn grams(text: &str) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    let lower = text.to_lowercase();
    let mut run: Vec<char> = Vec::new();
    for c in lower.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() {
            run.push(c);
            continue;
        }
        for w in run.windows(3) {
            out.insert(hash(w));
        }
        run.clear();
    }
    out
}

/// Hashes as `backend`'s index is given them: space-separated, in hex
/// for SQLite's tokens, in decimal for PostgreSQL's array.
pub fn tokens(backend: Backend, grams: &BTreeSet<u32>) -> String {
    grams
        .iter()
        .map(|g| match backend {
            Backend::Sqlite => format!("{g:x}"),
            Backend::Postgres => g.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text of a message SEARCH TEXT reads: every header's value, then
/// the body text; at most [`MAX_TEXT`] bytes.
pub fn message_text(m: &Message<'_>) -> String {
    let mut out = String::new();
    for h in m.headers() {
        out.push_str(&header_text(h.value()));
        out.push('\n');
    }
    out.push_str(&body_text(m));
    if out.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// A message's trigrams.
pub fn message_grams(raw: &[u8]) -> BTreeSet<u32> {
    match MessageParser::default().parse(raw) {
        Some(m) => grams(&message_text(&m)),
        None => BTreeSet::new(),
    }
}

/// A header's value as SEARCH reads it: decoded, addresses as
/// "Name <address>, …".
pub fn header_text(v: &HeaderValue<'_>) -> String {
    match v {
        HeaderValue::Address(a) => a
            .iter()
            .map(|x| {
                format!(
                    "{} <{}>",
                    x.name.as_deref().unwrap_or(""),
                    x.address.as_deref().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(l) => l.join(" "),
        HeaderValue::DateTime(d) => d.to_rfc822(),
        // "multipart/mixed; boundary=…", as the header reads
        HeaderValue::ContentType(c) => {
            let mut t = c.ctype().to_string();
            if let Some(sub) = c.subtype() {
                t.push('/');
                t.push_str(sub);
            }
            for a in c.attributes().unwrap_or_default() {
                t.push_str(&format!("; {}={}", a.name, a.value));
            }
            t
        }
        HeaderValue::Received(_) | HeaderValue::Empty => String::new(),
    }
}

/// A message's text as SEARCH BODY reads it: its text parts (its HTML
/// parts when it has none), decoded.
pub fn body_text(m: &Message<'_>) -> String {
    let mut out = String::new();
    for i in 0..m.text_body.len() {
        if let Some(t) = m.body_text(i) {
            out.push_str(&t);
            out.push('\n');
        }
    }
    if out.is_empty() {
        for i in 0..m.html_body.len() {
            if let Some(t) = m.body_html(i) {
                out.push_str(&t);
            }
        }
    }
    out
}

impl Store {
    /// The UIDs of `folder` whose message may hold every trigram of
    /// `needle` (not empty): found in the index, or not read into it yet.
    pub async fn grams_candidates(
        &self,
        user: UserId,
        folder: Folder,
        needle: &BTreeSet<u32>,
    ) -> Result<HashSet<u32>> {
        let backend = self.backend();
        let sql = match backend {
            // the index drives, then each message's rows in the folder
            Backend::Sqlite => {
                "SELECT mb.uid FROM messages_grams g CROSS JOIN mailbox mb ON mb.message_id = g.rowid \
                 WHERE messages_grams MATCH ? AND mb.user_id = ? AND mb.folder = ?"
            }
            Backend::Postgres => {
                "SELECT mb.uid FROM messages_grams g JOIN mailbox mb ON mb.message_id = g.message_id \
                 WHERE g.grams @> string_to_array(?, ' ')::bigint[] \
                 AND mb.user_id = ? AND mb.folder = ?"
            }
        };
        let query = match backend {
            Backend::Sqlite => tokens(backend, needle).replace(' ', " AND "),
            Backend::Postgres => tokens(backend, needle),
        };
        let mut uids: Vec<i64> = db::query_scalar(sql)
            .bind(query)
            .bind(user.0)
            .bind(folder)
            .fetch_all(&self.read)
            .await?;
        let (next, last): (i64, i64) = db::query_as("SELECT next_id, last_id FROM grams_backfill")
            .fetch_one(&self.read)
            .await?;
        if next <= last {
            uids.extend(
                db::query_scalar::<i64>(
                    "SELECT uid FROM mailbox WHERE user_id = ? AND folder = ? \
                     AND message_id BETWEEN ? AND ?",
                )
                .bind(user.0)
                .bind(folder)
                .bind(next)
                .bind(last)
                .fetch_all(&self.read)
                .await?,
            );
        }
        Ok(uids
            .into_iter()
            .filter_map(|u| u32::try_from(u).ok())
            .collect())
    }

    /// Read the trigrams of up to [`BACKFILL_BATCH`] messages stored
    /// before the index existed; returns how many (0: none left).
    pub async fn backfill_grams(&self) -> Result<u64> {
        let (next, last): (i64, i64) = db::query_as("SELECT next_id, last_id FROM grams_backfill")
            .fetch_one(&self.read)
            .await?;
        if next > last {
            return Ok(0);
        }
        let rows: Vec<(i64, Vec<u8>)> = db::query_as(
            "SELECT message_id, raw FROM message_blobs \
             WHERE message_id >= ? AND message_id <= ? ORDER BY message_id LIMIT ?",
        )
        .bind(next)
        .bind(last)
        .bind(BACKFILL_BATCH)
        .fetch_all(&self.read)
        .await?;
        let upto = match rows.last() {
            Some((id, _)) if rows.len() as i64 == BACKFILL_BATCH => *id,
            _ => last,
        };
        let docs: Vec<(i64, BTreeSet<u32>)> = tokio::task::spawn_blocking(move || {
            rows.into_iter()
                .map(|(id, raw)| (id, message_grams(&raw)))
                .collect()
        })
        .await
        .unwrap_or_default();
        let n = docs.len() as u64;
        let mut tx = self.read.begin().await?;
        let list: Vec<(MessageId, &BTreeSet<u32>)> =
            docs.iter().map(|(id, g)| (MessageId(*id), g)).collect();
        write_grams(&mut tx, &list).await?;
        db::query("UPDATE grams_backfill SET next_id = ?")
            .bind(upto + 1)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(n.max(1))
    }
}

/// Keep the trigrams of messages, replacing what was kept (a message
/// gone meanwhile is left out).
pub(super) async fn write_grams(
    tx: &mut db::Tx<'_>,
    docs: &[(MessageId, &BTreeSet<u32>)],
) -> Result<()> {
    if docs.is_empty() {
        return Ok(());
    }
    let backend = tx.backend();
    let rows = vec!["(?, ?)"; docs.len()].join(", ");
    let sql = match backend {
        Backend::Sqlite => format!(
            "INSERT OR REPLACE INTO messages_grams (rowid, grams) \
             SELECT column1, column2 FROM (VALUES {rows}) \
             WHERE column1 IN (SELECT id FROM messages)"
        ),
        Backend::Postgres => format!(
            "INSERT INTO messages_grams (message_id, grams) \
             SELECT v.id, string_to_array(v.g, ' ')::bigint[] \
             FROM (VALUES {rows}) AS v (id, g) JOIN messages m ON m.id = v.id::bigint \
             ON CONFLICT (message_id) DO UPDATE SET grams = EXCLUDED.grams"
        ),
    };
    let mut q = db::query(sqlx::AssertSqlSafe(sql));
    for (id, g) in docs {
        q = q.bind(id.0).bind(tokens(backend, g));
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigrams_of_runs_of_letters_and_digits() {
        let h = |s: &str| hash(&s.chars().collect::<Vec<_>>());
        let g = grams("Zoë ASDFG, a1b");
        let want: BTreeSet<u32> = ["a1b", "asd", "dfg", "sdf", "zoë"].map(h).into();
        assert_eq!(g, want);
        assert_eq!(h("abc"), 0x1a47_e90b, "FNV-1a, stable");
        assert!(grams("ab").is_empty(), "too short: no trigram");
        // a substring's trigrams are the text's
        let hay = grams("qwertyuiop asdfghjkl");
        assert!(grams("wertyuio").is_subset(&hay));
        assert!(grams("TYU").is_subset(&hay));
        assert!(!grams("poa").is_subset(&hay), "not across words");
    }

    #[test]
    fn a_message_text_is_its_headers_and_its_body() {
        let raw = b"From: Zoe <zoe@example.test>\r\nX-Header: qwertyuiop\r\n\
Subject: =?utf-8?q?R=C3=A9union?=\r\n\r\nasdfghjkl\r\n";
        let g = tokens(Backend::Sqlite, &message_grams(raw));
        for want in ["wer", "réu", "zoe", "sdf", "exa"] {
            let t = tokens(Backend::Sqlite, &grams(want));
            assert!(g.split(' ').any(|x| x == t), "{want} in {g}");
        }
    }
}
