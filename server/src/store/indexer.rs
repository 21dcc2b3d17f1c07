//! The full-text index, kept off the path a sender waits on.
//!
//! The commit that stores a message files it in `index_pending` (one small
//! row) instead of writing its search document: tokenizing the body and
//! updating the index cost more than the rest of the ingest together, and
//! on SQLite every commit that touches FTS5 adds a segment that must be
//! merged later. The indexer writes the documents right after, many per
//! commit: it reads the pending messages' bytes, makes their documents
//! (outside any transaction), and writes them: on SQLite as one request of
//! a writer's group commit (there is still one writer and no waiting on
//! its lock), on PostgreSQL in a transaction of its own beside the
//! writers' (the documents' words are made there, and senders must not
//! wait on that). The pending rows leave in the commit that writes their
//! documents, so a crash in between only leaves them pending: the indexer
//! of this node or any other does them at its next round.
//!
//! A search first indexes whatever is still pending, so a message is found
//! as soon as its sender had the 250.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};

use super::fts::Doc;

use super::writer::Request;
use super::{db, MessageId, Result, Store, StoreError, Summary};

/// Most messages in one batch.
const BATCH: usize = 256;
/// Most bytes of messages read for one batch (at least one message).
const BATCH_BYTES: i64 = 32 << 20;
/// After a commit that stored mail: wait this long for more before
/// indexing (one batch instead of many small ones: on SQLite each is a
/// commit of the one writer, and each FTS5 commit a segment to merge;
/// 400 ms rather than 100 took ingest from 2,350 to 2,550 msg/s). A search
/// indexes what is pending first, so nobody waits for this.
const GATHER: Duration = Duration::from_millis(400);
/// Look anyway this often (another node's mail, a round that failed).
const EVERY: Duration = Duration::from_secs(1);

type Writers = [mpsc::Sender<Request>];

/// The background indexer of a store: runs until the store is dropped.
pub(super) fn spawn(read: db::Pool, writers: Weak<Writers>, wake: Arc<Notify>) {
    tokio::spawn(async move {
        let mut failing = false;
        // at once (what a stopped node left pending), then after each wake
        loop {
            let Some(writers) = writers.upgrade() else {
                return;
            };
            match index_all(&read, &writers).await {
                Ok(_) => failing = false,
                // said once per run of failures; the rows stay pending
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "search index: pending messages not indexed yet");
                }
                Err(_) => {}
            }
            drop(writers);
            tokio::select! {
                _ = wake.notified() => tokio::time::sleep(GATHER).await,
                _ = tokio::time::sleep(EVERY) => {}
            }
        }
    });
}

/// Index everything pending, batch by batch; how many were written.
async fn index_all(read: &db::Pool, writers: &Writers) -> Result<u64> {
    let mut written = 0;
    let mut turn = 0usize;
    loop {
        let (docs, full) = next_docs(read).await?;
        if docs.is_empty() {
            return Ok(written);
        }
        let to = match read.backend() {
            // one writer holds SQLite's lock: the documents go in its commits
            db::Backend::Sqlite => To::Writer(&writers[turn % writers.len()]),
            // PostgreSQL's own transaction, beside the writers': making the
            // search documents (to_tsvector) must not hold up the commits
            // senders wait on
            db::Backend::Postgres => To::Pool(read),
        };
        written += write(to, docs).await?;
        turn += 1;
        if !full {
            return Ok(written);
        }
    }
}

/// Where the documents are written.
#[derive(Clone, Copy)]
enum To<'a> {
    Writer(&'a mpsc::Sender<Request>),
    Pool(&'a db::Pool),
}

/// Write `docs`. A batch refused is written document by
/// document, and a document refused twice is left out (an empty document:
/// the message is no longer pending, its words are not found), so that one
/// message never holds up the index of all the others.
async fn write(writer: To<'_>, docs: Vec<Doc>) -> Result<u64> {
    match send(writer, docs.clone()).await {
        Ok(n) => return Ok(n),
        // the writer or the commit failed: nothing to learn about the
        // documents; next round
        Err(e @ StoreError::Unavailable) => return Err(e),
        Err(_) => {}
    }
    let mut written = 0;
    for d in docs {
        let id = d.id;
        let mut tries = 0;
        written += loop {
            match send(writer, vec![d.clone()]).await {
                Ok(n) => break n,
                Err(e @ StoreError::Unavailable) => return Err(e),
                Err(e) if tries == 1 => {
                    tracing::warn!(message = id.0, error = %e,
                        "search index: this message's words are left out");
                    break send(writer, vec![Doc::empty(id)]).await?;
                }
                Err(_) => tries += 1,
            }
        };
    }
    Ok(written)
}

async fn send(to: To<'_>, docs: Vec<Doc>) -> Result<u64> {
    match to {
        To::Writer(writer) => {
            let (tx, rx) = oneshot::channel();
            writer
                .send(Request::Index(docs, tx))
                .await
                .map_err(|_| StoreError::Unavailable)?;
            rx.await.map_err(|_| StoreError::Unavailable)?
        }
        To::Pool(pool) => {
            let mut tx = pool.begin().await.map_err(|_| StoreError::Unavailable)?;
            let n = super::fts::write_pending(&mut tx, &docs).await?;
            tx.commit().await?;
            Ok(n)
        }
    }
}

/// The documents of the next pending messages, and whether the batch was
/// full (more may be pending).
async fn next_docs(read: &db::Pool) -> Result<(Vec<Doc>, bool)> {
    let pending: Vec<(i64, i64)> = db::query_as(
        "SELECT p.message_id, m.size FROM index_pending p \
         JOIN messages m ON m.id = p.message_id ORDER BY p.message_id LIMIT ?",
    )
    .bind(BATCH as i64)
    .fetch_all(read)
    .await?;
    // more may be pending: the batch was full, or cut short by its bytes
    let mut full = pending.len() == BATCH;
    let mut ids = Vec::with_capacity(pending.len());
    let mut bytes = 0;
    for (id, size) in pending {
        if !ids.is_empty() && bytes + size > BATCH_BYTES {
            full = true;
            break;
        }
        bytes += size;
        ids.push(id);
    }
    if ids.is_empty() {
        return Ok((Vec::new(), false));
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let blobs: Vec<(i64, Vec<u8>)> = db::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT message_id, raw FROM message_blobs WHERE message_id IN ({list})"
    )))
    .fetch_all(read)
    .await?;
    let backend = read.backend();
    // parsing is CPU work: off the async workers
    let docs = tokio::task::spawn_blocking(move || {
        let mut by_id: std::collections::HashMap<i64, Vec<u8>> = blobs.into_iter().collect();
        ids.iter()
            .map(|&id| match by_id.remove(&id) {
                Some(raw) => Doc::new(backend, MessageId(id), &Summary::parse(&raw), &raw),
                None => Doc::empty(MessageId(id)),
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| StoreError::Invalid(format!("search index: {e}")))?;
    Ok((docs, full))
}

impl Store {
    /// Index every message still pending (a search calls this first, so
    /// that what was stored is found). Returns how many were indexed.
    pub async fn index_pending(&self) -> Result<u64> {
        index_all(&self.read, &self.writers).await
    }

    /// Before a search: [`Store::index_pending`], and if that fails, the
    /// search goes on with the index as it is (said in the log).
    pub async fn index_before_search(&self) {
        if let Err(e) = self.index_pending().await {
            tracing::warn!(error = %e, "search index: searching without what is still pending");
        }
    }

    /// How many messages wait for their search document.
    pub async fn index_backlog(&self) -> Result<u64> {
        let n: i64 = db::query_scalar("SELECT COUNT(*) FROM index_pending")
            .fetch_one(&self.read)
            .await?;
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::super::mailbox::SearchQuery;
    use super::super::testing::{self, Scratch};
    use super::super::UserId;
    use super::*;

    async fn with_user(dir: &std::path::Path) -> (Store, UserId) {
        let (store, alice, _) = testing::with_alice(dir).await;
        (store, alice)
    }

    async fn deliver(store: &Store, user: UserId, subject: &str, body: &str) -> MessageId {
        let domain = testing::domain_of(store, "alice@example.test").await;
        store
            .ingest(testing::message_to_alice(subject, body, domain, Some(user)))
            .await
            .expect("ingest")
    }

    async fn found(store: &Store, user: UserId, words: &str) -> usize {
        let q = SearchQuery {
            text: words.into(),
            ..Default::default()
        };
        store
            .search(user, &q, None, 500)
            .await
            .expect("search")
            .len()
    }

    #[tokio::test]
    async fn mail_is_indexed_after_its_commit_without_anyone_searching() {
        let dir = Scratch::new("indexer-bg");
        let (store, user) = with_user(dir.path()).await;
        for i in 0..5 {
            deliver(&store, user, &format!("note {i}"), "quarterly zeppelin").await;
        }
        let mut waited = 0;
        while store.index_backlog().await.expect("backlog") > 0 {
            assert!(waited < 100, "the indexer never caught up");
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += 1;
        }
        assert_eq!(found(&store, user, "zeppelin").await, 5);
    }

    #[tokio::test]
    async fn a_search_finds_what_was_stored_just_before_however_much() {
        let dir = Scratch::new("indexer-search");
        let (store, user) = with_user(dir.path()).await;
        // more than a batch, then at once a search for the last one
        let n = BATCH + 20;
        let sends = (0..n).map(|i| {
            let store = store.clone();
            async move {
                let body = if i == n - 1 {
                    "the last aardvark"
                } else {
                    "filler"
                };
                deliver(&store, user, &format!("m{i}"), body).await
            }
        });
        futures_util::future::join_all(sends).await;
        assert_eq!(found(&store, user, "aardvark").await, 1);
        assert_eq!(found(&store, user, "filler").await, n - 1);
        assert_eq!(store.index_backlog().await.expect("backlog"), 0);
    }

    #[tokio::test]
    async fn a_message_whose_document_is_refused_holds_up_nothing() {
        let dir = Scratch::new("indexer-poison");
        let (store, user) = with_user(dir.path()).await;
        // the database refuses the document of any message with this word
        let poison = match store.backend() {
            db::Backend::Sqlite => {
                "CREATE TRIGGER poison BEFORE DELETE ON index_pending \
                 WHEN (SELECT body FROM messages_fts WHERE rowid = OLD.message_id) LIKE '%nightshade%' \
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;"
            }
            db::Backend::Postgres => {
                "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
                 IF NEW.doc @@ to_tsquery('continuity', 'nightshade') THEN \
                 RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER poison BEFORE INSERT ON messages_fts \
                 FOR EACH ROW EXECUTE FUNCTION poison();"
            }
        };
        db::raw(poison, &store.read).await.expect("trigger");
        deliver(&store, user, "one", "alpha").await;
        deliver(&store, user, "two", "nightshade beta").await;
        deliver(&store, user, "three", "alpha").await;
        let mut waited = 0;
        while store.index_backlog().await.expect("backlog") > 0 {
            assert!(waited < 100, "one refused document held up the index");
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += 1;
        }
        // the others are found; the refused one is stored, its words left out
        assert_eq!(found(&store, user, "alpha").await, 2);
        assert_eq!(found(&store, user, "beta").await, 0);
        let page = store
            .mailbox_page(user, super::super::mailbox::Folder::Inbox, None, 10)
            .await
            .expect("inbox");
        assert_eq!(page.len(), 3);
    }

    #[tokio::test]
    async fn a_document_lost_between_two_commits_is_written_after_a_restart() {
        let dir = Scratch::new("indexer-restart");
        let (store, user) = with_user(dir.path()).await;
        let id = deliver(&store, user, "hello", "platypus").await;
        assert_eq!(found(&store, user, "platypus").await, 1);
        // a crash after the ingest's commit and before the indexer's: the
        // message is pending and has no document
        let forget = super::super::fts::forget_sql(store.backend(), &id.0.to_string());
        db::query(sqlx::AssertSqlSafe(forget))
            .execute(&store.read)
            .await
            .expect("forget");
        if store.backend() == db::Backend::Sqlite {
            db::query(
                "INSERT INTO messages_hdr (messages_hdr, rowid, header_from, header_to, subject, \
                 header_cc) SELECT 'delete', id, header_from, header_to, subject, header_cc \
                 FROM messages WHERE id = ?",
            )
            .bind(id.0)
            .execute(&store.read)
            .await
            .expect("forget the headers");
        }
        db::query("INSERT INTO index_pending (message_id) VALUES (?)")
            .bind(id.0)
            .execute(&store.read)
            .await
            .expect("pending");
        drop(store);
        let again = testing::open(dir.path()).await.expect("reopen");
        let mut waited = 0;
        while again.index_backlog().await.expect("backlog") > 0 {
            assert!(waited < 100, "the indexer of the restarted store never ran");
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += 1;
        }
        assert_eq!(found(&again, user, "platypus").await, 1);
        // indexed once: a second round finds nothing to do
        assert_eq!(again.index_pending().await.expect("index"), 0);
    }

    #[tokio::test]
    async fn pending_messages_deleted_or_changed_leave_the_header_index_sound() {
        let dir = Scratch::new("indexer-hdr");
        let (store, user) = with_user(dir.path()).await;
        if store.backend() != db::Backend::Sqlite {
            return; // PostgreSQL's trigram indexes are the table's own
        }
        let hdr_count = |word: &'static str| {
            let store = store.clone();
            async move {
                let n: i64 =
                    db::query_scalar("SELECT COUNT(*) FROM messages_hdr WHERE subject LIKE ?")
                        .bind(format!("%{word}%"))
                        .fetch_one(&store.read)
                        .await
                        .expect("count");
                n
            }
        };
        // searched at once by its subject: found (the search indexes first)
        deliver(&store, user, "wombat report", "x").await;
        store.index_before_search().await;
        assert_eq!(hdr_count("wombat").await, 1);
        // the indexer held back (the messages stay pending) while one
        // pending message is deleted and another's Cc changes
        db::raw(
            "CREATE TRIGGER hold BEFORE DELETE ON index_pending \
             WHEN EXISTS (SELECT 1 FROM messages WHERE id = OLD.message_id) \
             BEGIN SELECT RAISE(ABORT, 'held'); END;",
            &store.read,
        )
        .await
        .expect("hold");
        let gone = deliver(&store, user, "kestrel one", "x").await;
        let kept = deliver(&store, user, "kestrel two", "x").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(store.index_backlog().await.expect("backlog"), 2);
        db::query("DELETE FROM messages WHERE id = ?")
            .bind(gone.0)
            .execute(&store.read)
            .await
            .expect("delete a pending message");
        db::query("UPDATE messages SET header_cc = 'someone@example.test' WHERE id = ?")
            .bind(kept.0)
            .execute(&store.read)
            .await
            .expect("change a pending message");
        db::raw("DROP TRIGGER hold", &store.read)
            .await
            .expect("release");
        store.index_before_search().await;
        assert_eq!(store.index_backlog().await.expect("backlog"), 0);
        // the index holds what the table holds, no more, no less
        db::raw(
            "INSERT INTO messages_hdr (messages_hdr, rank) VALUES ('integrity-check', 1)",
            &store.read,
        )
        .await
        .expect("the header index is sound");
        assert_eq!(hdr_count("kestrel").await, 1);
        assert_eq!(hdr_count("wombat").await, 1);
    }
}
