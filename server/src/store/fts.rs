//! Full-text search on both backends: the words of each message (sender,
//! recipients, subject, body) and queries made of what a person typed.
//!
//! - SQLite: an FTS5 table (`unicode61 remove_diacritics 2`, prefix
//!   indexes for 2 and 3 letters), one column per part, keyed by rowid =
//!   message id; a query is an FTS5 expression of quoted prefix terms.
//! - PostgreSQL: one `tsvector` per message (configuration `continuity`:
//!   unaccented, lower-cased, no stemming), each part with its weight —
//!   sender A, recipients B, subject C, body D — and a GIN index; a query
//!   is a `tsquery` of prefix terms (`'word':*`), restricted to a weight for
//!   a part.
//!
//! On both, a word is a run of letters and digits (what FTS5's unicode61
//! reads): a typed word with punctuation in it ("a.martin@example.test")
//! is its words in that order (FTS5: a phrase; PostgreSQL: `<->`).

use super::db::{self, Backend};
use super::{MessageId, Result};

/// A part of a message a term may be restricted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Sender,
    Recipients,
    Subject,
    Body,
}

impl Part {
    fn column(self) -> &'static str {
        match self {
            Part::Sender => "sender",
            Part::Recipients => "recipients",
            Part::Subject => "subject",
            Part::Body => "body",
        }
    }
    fn weight(self) -> char {
        match self {
            Part::Sender => 'A',
            Part::Recipients => 'B',
            Part::Subject => 'C',
            Part::Body => 'D',
        }
    }
}

/// The most of a body PostgreSQL indexes (a tsvector holds at most 1 MB).
const MAX_INDEXED: usize = 256 * 1024;

/// The words of `text`, separated by single spaces, at most `max` bytes.
fn words(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if out.len() + w.len() + 1 > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Index a message's words at once, in the caller's transaction (an
/// import, a store copy; mail as it arrives goes through the indexer).
pub(super) async fn index(
    tx: &mut db::Tx<'_>,
    id: MessageId,
    sender: &str,
    recipients: &str,
    subject: &str,
    body: &str,
) -> Result<()> {
    match tx.backend() {
        Backend::Sqlite => {
            db::query(
                "INSERT INTO messages_fts (rowid, sender, recipients, subject, body) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(id.0)
            .bind(sender)
            .bind(recipients)
            .bind(subject)
            .bind(body)
            .execute(&mut *tx)
            .await?;
            // and the headers' trigram index, as the indexer does
            db::query(
                "INSERT INTO messages_hdr (rowid, header_from, header_to, subject, header_cc) \
                 SELECT id, header_from, header_to, subject, header_cc FROM messages WHERE id = ?",
            )
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        }
        Backend::Postgres => {
            db::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO messages_fts (message_id, doc) VALUES (?1, {}) \
                 ON CONFLICT (message_id) DO UPDATE SET doc = EXCLUDED.doc",
                pg_doc(["?2", "?3", "?4", "?5"])
            )))
            .bind(id.0)
            .bind(words(sender, MAX_INDEXED))
            .bind(words(recipients, MAX_INDEXED))
            .bind(words(subject, MAX_INDEXED))
            .bind(words(body, MAX_INDEXED))
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// PostgreSQL's weighted document of a message from four text
/// expressions (sender, recipients, subject, body; each through
/// [`words`]).
fn pg_doc(parts: [&str; 4]) -> String {
    format!(
        "setweight(to_tsvector('continuity', {}), 'A') || \
         setweight(to_tsvector('continuity', {}), 'B') || \
         setweight(to_tsvector('continuity', {}), 'C') || \
         setweight(to_tsvector('continuity', {}), 'D')",
        parts[0], parts[1], parts[2], parts[3]
    )
}

/// A message's words, ready for the index of `backend`.
#[derive(Debug, Clone)]
pub struct Doc {
    pub id: MessageId,
    parts: [String; 4],
}

impl Doc {
    pub fn new(backend: Backend, id: MessageId, s: &super::Summary) -> Doc {
        let prepare = |t: &str| match backend {
            Backend::Sqlite => t.to_string(),
            Backend::Postgres => words(t, MAX_INDEXED),
        };
        Doc {
            id,
            parts: [
                prepare(&s.from),
                prepare(&s.to),
                prepare(&s.subject),
                prepare(&s.text),
            ],
        }
    }

    /// The document of a message whose bytes are gone: nothing to find.
    pub fn empty(id: MessageId) -> Doc {
        Doc {
            id,
            parts: Default::default(),
        }
    }
}

/// Write the documents of the messages still in `index_pending` among
/// `docs`, and take them out of it, in the caller's transaction. Returns
/// how many were written. On PostgreSQL the pending rows are locked in
/// one order first: a message another transaction is indexing is waited
/// for, then left alone.
pub(super) async fn write_pending(tx: &mut db::Tx<'_>, docs: &[Doc]) -> Result<u64> {
    if docs.is_empty() {
        return Ok(0);
    }
    let rows = vec!["(?, ?, ?, ?, ?)"; docs.len()].join(", ");
    let ids = vec!["?"; docs.len()].join(", ");
    let written = match tx.backend() {
        Backend::Sqlite => {
            // one call: the writer holds SQLite's lock, nobody else writes.
            // The headers' trigram index (IMAP SEARCH FROM/TO/SUBJECT/CC)
            // too, from the message's row as it is now (see the migration
            // header_index_by_indexer).
            let sql = format!(
                "INSERT INTO messages_fts (rowid, sender, recipients, subject, body) \
                 SELECT column1, column2, column3, column4, column5 FROM (VALUES {rows}) \
                 WHERE column1 IN (SELECT message_id FROM index_pending);\n\
                 INSERT INTO messages_hdr (rowid, header_from, header_to, subject, header_cc) \
                 SELECT id, header_from, header_to, subject, header_cc FROM messages \
                 WHERE id IN ({ids}) AND id IN (SELECT message_id FROM index_pending);\n\
                 DELETE FROM index_pending WHERE message_id IN ({ids});"
            );
            let mut q = db::query(sqlx::AssertSqlSafe(sql));
            for d in docs {
                q = q.bind(d.id.0);
                for p in &d.parts {
                    q = q.bind(p.as_str());
                }
            }
            for _ in 0..2 {
                for d in docs {
                    q = q.bind(d.id.0);
                }
            }
            // documents, header entries, rows taken out: the same count
            q.execute(&mut *tx).await?.rows_affected() / 3
        }
        Backend::Postgres => {
            let sql = format!(
                "WITH d (id, a, b, c, e) AS (VALUES {rows}), \
                 l AS (SELECT message_id FROM index_pending \
                       WHERE message_id IN (SELECT id FROM d) ORDER BY message_id FOR UPDATE), \
                 p AS (DELETE FROM index_pending x USING l WHERE x.message_id = l.message_id \
                       RETURNING x.message_id) \
                 INSERT INTO messages_fts (message_id, doc) SELECT d.id, {doc} FROM d \
                 JOIN p ON p.message_id = d.id \
                 ON CONFLICT (message_id) DO UPDATE SET doc = EXCLUDED.doc",
                doc = pg_doc(["d.a", "d.b", "d.c", "d.e"])
            );
            let mut q = db::query(sqlx::AssertSqlSafe(sql));
            for d in docs {
                q = q.bind(d.id.0);
                for p in &d.parts {
                    q = q.bind(p.as_str());
                }
            }
            q.execute(&mut *tx).await?.rows_affected()
        }
    };
    Ok(written)
}

/// `DELETE` of the index rows of the messages in `list` (ids joined by
/// commas). On PostgreSQL they also go with their message (a foreign key).
pub(super) fn forget_sql(backend: Backend, list: &str) -> String {
    match backend {
        Backend::Sqlite => format!("DELETE FROM messages_fts WHERE rowid IN ({list})"),
        Backend::Postgres => format!("DELETE FROM messages_fts WHERE message_id IN ({list})"),
    }
}

/// The index's message id column, as `alias.column` (`alias` may be the
/// table's name).
pub(super) fn id_column(backend: Backend, alias: &str) -> String {
    match backend {
        Backend::Sqlite => format!("{alias}.rowid"),
        Backend::Postgres => format!("{alias}.message_id"),
    }
}

/// The condition "the row of `alias` matches the query bound here".
pub(super) fn matches(backend: Backend, alias: &str) -> String {
    match backend {
        Backend::Sqlite => "messages_fts MATCH ?".to_string(),
        Backend::Postgres => format!("{alias}.doc @@ to_tsquery('continuity', ?)"),
    }
}

/// A query under construction: every term must hold.
#[derive(Debug, Default, Clone)]
pub struct Terms {
    /// (part, the words of one typed word)
    terms: Vec<(Option<Part>, Vec<String>)>,
}

impl Terms {
    /// Add what a person typed: each word a prefix term, in `part` or
    /// anywhere. Nothing typed is query syntax.
    pub fn add(&mut self, part: Option<Part>, input: &str) {
        for typed in input.split_whitespace() {
            let ws: Vec<String> = typed
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect();
            if !ws.is_empty() {
                self.terms.push((part, ws));
            }
        }
    }

    /// At most `n` terms.
    pub fn truncate(&mut self, n: usize) {
        self.terms.truncate(n);
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Terms anywhere are restricted to `part` (IMAP BODY).
    pub fn only_in(mut self, part: Part) -> Terms {
        for t in &mut self.terms {
            t.0.get_or_insert(part);
        }
        self
    }

    /// The query for `backend`, None when nothing was typed.
    pub fn query(&self, backend: Backend) -> Option<String> {
        if self.terms.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|(part, ws)| match backend {
                Backend::Sqlite => {
                    let term = format!("\"{}\"*", ws.join(" "));
                    match part {
                        Some(p) => format!("{} : {term}", p.column()),
                        None => term,
                    }
                }
                Backend::Postgres => {
                    let w = part.map(|p| p.weight().to_string()).unwrap_or_default();
                    let each: Vec<String> = ws.iter().map(|x| format!("'{x}':*{w}")).collect();
                    if each.len() == 1 {
                        each.concat()
                    } else {
                        format!("({})", each.join(" <-> "))
                    }
                }
            })
            .collect();
        Some(match backend {
            Backend::Sqlite => parts.join(" AND "),
            Backend::Postgres => parts.join(" & "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{words, Backend, Part, Terms};

    #[test]
    fn typed_words_become_prefix_terms_and_never_syntax() {
        let mut t = Terms::default();
        t.add(None, "facture \"NEAR\" OR* ' a.martin@example.test");
        t.add(Some(Part::Subject), "été");
        assert_eq!(
            t.query(Backend::Sqlite).as_deref(),
            Some("\"facture\"* AND \"NEAR\"* AND \"OR\"* AND \"a martin example test\"* AND subject : \"été\"*")
        );
        assert_eq!(
            t.query(Backend::Postgres).as_deref(),
            Some("'facture':* & 'NEAR':* & 'OR':* & ('a':* <-> 'martin':* <-> 'example':* <-> 'test':*) & 'été':*C")
        );
        assert_eq!(
            t.clone().only_in(Part::Body).query(Backend::Postgres).as_deref(),
            Some("'facture':*D & 'NEAR':*D & 'OR':*D & ('a':*D <-> 'martin':*D <-> 'example':*D <-> 'test':*D) & 'été':*C")
        );
        let mut none = Terms::default();
        none.add(None, " ,; ' ");
        assert_eq!(none.query(Backend::Postgres), None);
    }

    #[test]
    fn indexed_text_is_its_words_within_a_bound() {
        assert_eq!(words("Re: l'été, à Zürich!", 100), "Re l été à Zürich");
        assert_eq!(words("aaa bbb ccc", 7), "aaa bbb");
    }
}
