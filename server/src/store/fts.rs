//! Full-text search on both backends: the words of each message (sender,
//! recipients, subject, body) and queries made of what a person typed.
//!
//! - SQLite: an FTS5 table (`unicode61 remove_diacritics 2`, prefix
//!   indexes for 2 and 3 letters), one column per part, keyed by rowid =
//!   message id; a query is an FTS5 expression of quoted prefix terms.
//! - PostgreSQL: one `tsvector` per message (configuration `continuity`:
//!   unaccented, lower-cased, no stemming), each part with its weight —
//!   sender A, recipients B, subject C, body D — and a GIN index; beside
//!   it the sender's, the recipients' and the subject's words alone, each
//!   in its own column with its own GIN index. A query is a `tsquery` of
//!   prefix terms (`'word':*`) per column: terms anywhere and in the body
//!   (weight D) ask the document, terms in a header ask that header's
//!   column. (A GIN index cannot filter by weight and PostgreSQL cannot
//!   estimate a weighted term: `'name':*A` in the document alone made it
//!   walk every message for a rare sender whose name also occurs in
//!   bodies.)
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
    /// PostgreSQL's column holding only this part's words, if any.
    fn pg_column(self) -> Option<&'static str> {
        match self {
            Part::Sender => Some("sender_words"),
            Part::Recipients => Some("recipient_words"),
            Part::Subject => Some("subject_words"),
            Part::Body => None,
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
    s: &super::Summary,
    raw: &[u8],
    grams: Option<&std::collections::BTreeSet<u32>>,
) -> Result<()> {
    let (sender, recipients, subject, body) = (&s.from, &s.to, &s.subject, &s.text);
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
                "INSERT INTO messages_fts ({PG_COLUMNS}) VALUES (?1, {}) \
                 ON CONFLICT (message_id) DO UPDATE SET {PG_UPDATE}",
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
    // and its trigrams (substring search)
    let made;
    let grams = match grams {
        Some(g) => g,
        None => {
            made = super::grams::message_grams(raw);
            &made
        }
    };
    super::grams::write_grams(tx, &[(id, grams)]).await
}

/// The columns of a row of PostgreSQL's `messages_fts`, in the order of
/// [`pg_doc`]'s values after the message id.
const PG_COLUMNS: &str = "message_id, doc, sender_words, recipient_words, subject_words";
/// A row written again takes the new values.
const PG_UPDATE: &str = "doc = EXCLUDED.doc, sender_words = EXCLUDED.sender_words, \
     recipient_words = EXCLUDED.recipient_words, subject_words = EXCLUDED.subject_words";

/// PostgreSQL's values of a message's row after its id, from four text
/// expressions (sender, recipients, subject, body; each through
/// [`words`]): the weighted document, then the sender's, the recipients'
/// and the subject's words alone.
fn pg_doc(parts: [&str; 4]) -> String {
    format!(
        "setweight(to_tsvector('continuity', {a}), 'A') || \
         setweight(to_tsvector('continuity', {b}), 'B') || \
         setweight(to_tsvector('continuity', {c}), 'C') || \
         setweight(to_tsvector('continuity', {d}), 'D'), \
         to_tsvector('continuity', {a}), to_tsvector('continuity', {b}), \
         to_tsvector('continuity', {c})",
        a = parts[0],
        b = parts[1],
        c = parts[2],
        d = parts[3]
    )
}

/// A message's words, ready for the index of `backend`.
#[derive(Debug, Clone)]
pub struct Doc {
    pub id: MessageId,
    parts: [String; 4],
    /// Its trigrams ([`super::grams`]).
    grams: std::collections::BTreeSet<u32>,
}

impl Doc {
    pub fn new(backend: Backend, id: MessageId, s: &super::Summary, raw: &[u8]) -> Doc {
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
            grams: super::grams::message_grams(raw),
        }
    }

    /// The document of a message whose bytes are gone: nothing to find.
    pub fn empty(id: MessageId) -> Doc {
        Doc {
            id,
            parts: Default::default(),
            grams: Default::default(),
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
    // the trigrams first, while the messages are still pending (a message
    // another node has indexed meanwhile is written the same again)
    let grams: Vec<(MessageId, &std::collections::BTreeSet<u32>)> =
        docs.iter().map(|d| (d.id, &d.grams)).collect();
    super::grams::write_grams(tx, &grams).await?;
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
                 INSERT INTO messages_fts ({PG_COLUMNS}) SELECT d.id, {doc} FROM d \
                 JOIN p ON p.message_id = d.id \
                 ON CONFLICT (message_id) DO UPDATE SET {PG_UPDATE}",
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
        Backend::Sqlite => format!(
            "DELETE FROM messages_fts WHERE rowid IN ({list}); \
             DELETE FROM messages_grams WHERE rowid IN ({list})"
        ),
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

/// A full-text query ready for a statement: [`Match::condition`] with
/// [`Match::values`] bound in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    backend: Backend,
    /// (PostgreSQL's column, its `tsquery`); SQLite: one FTS5 expression,
    /// its column unused.
    queries: Vec<(&'static str, String)>,
}

impl Match {
    /// The condition "the row of `alias` (the index table or its alias)
    /// matches".
    pub fn condition(&self, alias: &str) -> String {
        match self.backend {
            Backend::Sqlite => "messages_fts MATCH ?".to_string(),
            Backend::Postgres => self
                .queries
                .iter()
                .map(|(column, _)| format!("{alias}.{column} @@ to_tsquery('continuity', ?)"))
                .collect::<Vec<_>>()
                .join(" AND "),
        }
    }

    /// The values of [`Match::condition`]'s placeholders, in order.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.queries.iter().map(|(_, q)| q.as_str())
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
    pub fn query(&self, backend: Backend) -> Option<Match> {
        if self.terms.is_empty() {
            return None;
        }
        let queries = match backend {
            Backend::Sqlite => {
                let parts: Vec<String> = self
                    .terms
                    .iter()
                    .map(|(part, ws)| {
                        let term = format!("\"{}\"*", ws.join(" "));
                        match part {
                            Some(p) => format!("{} : {term}", p.column()),
                            None => term,
                        }
                    })
                    .collect();
                vec![("", parts.join(" AND "))]
            }
            Backend::Postgres => {
                // one tsquery per column, in a fixed order of columns
                let mut by_column: Vec<(&'static str, Vec<String>)> = Vec::new();
                for (part, ws) in &self.terms {
                    let (column, weight) = match part.and_then(|p| p.pg_column().map(|c| (p, c))) {
                        Some((_, column)) => (column, String::new()),
                        None => (
                            "doc",
                            part.map(|p| p.weight().to_string()).unwrap_or_default(),
                        ),
                    };
                    let each: Vec<String> = ws.iter().map(|x| format!("'{x}':*{weight}")).collect();
                    let term = if each.len() == 1 {
                        each.concat()
                    } else {
                        format!("({})", each.join(" <-> "))
                    };
                    match by_column.iter_mut().find(|(c, _)| *c == column) {
                        Some((_, terms)) => terms.push(term),
                        None => by_column.push((column, vec![term])),
                    }
                }
                by_column.sort_by_key(|(c, _)| PG_ORDER.iter().position(|x| x == c));
                by_column
                    .into_iter()
                    .map(|(c, terms)| (c, terms.join(" & ")))
                    .collect()
            }
        };
        Some(Match { backend, queries })
    }
}

/// The order of PostgreSQL's columns in a [`Match`].
const PG_ORDER: [&str; 4] = ["doc", "sender_words", "recipient_words", "subject_words"];

#[cfg(test)]
mod tests {
    use super::{words, Backend, Part, Terms};

    #[test]
    fn typed_words_become_prefix_terms_and_never_syntax() {
        let mut t = Terms::default();
        t.add(None, "facture \"NEAR\" OR* ' a.martin@example.test");
        t.add(Some(Part::Subject), "été");
        let sqlite = t.query(Backend::Sqlite).unwrap();
        assert_eq!(sqlite.condition("f"), "messages_fts MATCH ?");
        assert_eq!(
            sqlite.values().collect::<Vec<_>>(),
            ["\"facture\"* AND \"NEAR\"* AND \"OR\"* AND \"a martin example test\"* AND subject : \"été\"*"]
        );
        let pg = t.query(Backend::Postgres).unwrap();
        assert_eq!(
            pg.condition("f"),
            "f.doc @@ to_tsquery('continuity', ?) AND f.subject_words @@ to_tsquery('continuity', ?)"
        );
        assert_eq!(
            pg.values().collect::<Vec<_>>(),
            [
                "'facture':* & 'NEAR':* & 'OR':* & ('a':* <-> 'martin':* <-> 'example':* <-> 'test':*)",
                "'été':*"
            ]
        );
        let body = t
            .clone()
            .only_in(Part::Body)
            .query(Backend::Postgres)
            .unwrap();
        assert_eq!(
            body.values().collect::<Vec<_>>(),
            [
                "'facture':*D & 'NEAR':*D & 'OR':*D & ('a':*D <-> 'martin':*D <-> 'example':*D <-> 'test':*D)",
                "'été':*"
            ]
        );
        // headers ask their own columns, in one order whatever was typed first
        let mut h = Terms::default();
        h.add(Some(Part::Subject), "devis");
        h.add(Some(Part::Sender), "a.martin@example.test");
        h.add(Some(Part::Recipients), "paul");
        h.add(Some(Part::Subject), "mars");
        let pg = h.query(Backend::Postgres).unwrap();
        assert_eq!(
            pg.condition("messages_fts"),
            "messages_fts.sender_words @@ to_tsquery('continuity', ?) \
             AND messages_fts.recipient_words @@ to_tsquery('continuity', ?) \
             AND messages_fts.subject_words @@ to_tsquery('continuity', ?)"
        );
        assert_eq!(
            pg.values().collect::<Vec<_>>(),
            [
                "('a':* <-> 'martin':* <-> 'example':* <-> 'test':*)",
                "'paul':*",
                "'devis':* & 'mars':*"
            ]
        );
        let mut none = Terms::default();
        none.add(None, " ,; ' ");
        assert!(none.query(Backend::Postgres).is_none());
    }

    /// PostgreSQL: a database indexed before the headers had columns of
    /// their own gets them filled from its messages' headers, word by word
    /// as the indexer splits them, unaccented; a message indexed without
    /// its bytes stays empty. (SQLite's FTS5 table has had a column per
    /// part from the start: nothing to migrate there.)
    #[tokio::test]
    async fn the_header_columns_migration_fills_what_was_indexed_before() {
        use sqlx::{Connection, Executor};
        let scratch = crate::store::testing::Scratch::new("fts-migration");
        let crate::store::StoreUrl::Postgres(url) = crate::store::testing::url(scratch.path())
        else {
            return;
        };
        let mut db = sqlx::PgConnection::connect(&url).await.expect("db");
        let migrator = sqlx::migrate!("../migrations/postgres");
        let header_words = 20261211000001;
        for m in migrator.iter().filter(|m| m.version < header_words) {
            db.execute(sqlx::raw_sql(m.sql.clone()))
                .await
                .expect("earlier migration");
        }
        db.execute(sqlx::raw_sql(
            "INSERT INTO messages (id, received_at, origin, mail_from, size, header_from, \
               header_to, subject) VALUES \
               (1, 1, 'smtp', 'x@remote.test', 10, 'Émile Martin <e.martin@remote.test>', \
                'Zoé <zoe@example.test>, paul@example.test', 'Re: l''été à Zürich'), \
               (2, 1, 'smtp', 'x@remote.test', 10, 'Gone <gone@remote.test>', 'a@example.test', 'lost'); \
             INSERT INTO messages_fts (message_id, doc) VALUES \
               (1, setweight(to_tsvector('continuity', 'Émile Martin e martin remote test'), 'A')), \
               (2, '');",
        ))
        .await
        .expect("rows indexed before");
        let m = migrator
            .iter()
            .find(|m| m.version == header_words)
            .expect("the migration");
        db.execute(sqlx::raw_sql(m.sql.clone()))
            .await
            .expect("header words migration");
        let found = |column: &str| {
            format!(
                "SELECT coalesce(string_agg(message_id::text, ',' ORDER BY message_id), '') \
                 FROM messages_fts WHERE {column} @@ to_tsquery('continuity', $1)"
            )
        };
        for (column, query, ids) in [
            ("sender_words", "'emile':*", "1"),
            ("sender_words", "'e':* <-> 'martin':* <-> 'remote':*", "1"),
            ("sender_words", "'zoe':*", ""),
            ("recipient_words", "'zoe':*", "1"),
            ("recipient_words", "'paul':* <-> 'example':*", "1"),
            ("subject_words", "'ete':* & 'zurich':*", "1"),
            ("subject_words", "'lost':*", ""),
            ("sender_words", "'gone':*", ""),
        ] {
            let got: String = sqlx::query_scalar(sqlx::AssertSqlSafe(found(column)))
                .bind(query)
                .fetch_one(&mut db)
                .await
                .expect("search");
            assert_eq!(got, ids, "{column} @@ {query}");
        }
    }

    #[test]
    fn indexed_text_is_its_words_within_a_bound() {
        assert_eq!(words("Re: l'été, à Zürich!", 100), "Re l été à Zürich");
        assert_eq!(words("aaa bbb ccc", 7), "aaa bbb");
    }
}
