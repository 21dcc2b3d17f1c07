//! A big mailbox costs what a small one does: the same requests (webmail
//! pages as the web backend makes them, IMAP commands through the real
//! session) on a mailbox of 200 and one of 20,000 messages, with the
//! database's work counted ([`crate::store::work`]) rather than timed. A
//! request that walked the folder would cost hundreds of ticks more on the
//! big one.

use super::test_world::{logged_in, world, World};
use crate::store::archive_io::Import;
use crate::store::mailbox::{Folder, SearchQuery};
use crate::store::work;

const SMALL: usize = 200;
const BIG: usize = 20_000;
/// Reads the whole folder once: the meter's proof that it sees a walk.
const FIRST_SELECT: &str = "IMAP: the first SELECT (reads the folder, keeps a snapshot)";

/// Ordinary mail, and in both mailboxes the same six messages from one
/// sender about one thing: searches for them answer the same, so they
/// must cost the same.
fn message(i: usize) -> String {
    let (sender, topic) = if i % (SMALL / 6) == 1 && i < SMALL {
        ("Quentin <quentin@planted.test>".to_string(), "xylophone")
    } else {
        (
            format!("Sender {s} <sender{s}@remote.test>", s = i % 50),
            ["harbour", "lantern", "orchard", "meadow"][i % 4],
        )
    };
    format!(
        "From: {sender}\r\nTo: alice@example.test\r\n\
         Subject: report {i} on the {topic} project\r\nDate: Tue, 01 Dec 2026 09:00:00 +0000\r\n\
         Message-ID: <scale-{i}@remote.test>\r\n\r\nWeekly figures, item {i}: {topic} is on track.\r\n"
    )
}

async fn filled(n: usize) -> World {
    let w = world(&format!("scale-{n}"), false).await;
    let all: Vec<String> = (0..n).map(message).collect();
    for chunk in all.chunks(1000) {
        let batch: Vec<Import<'_>> = chunk
            .iter()
            .map(|m| Import {
                raw: m.as_bytes(),
                received_at: None,
                source: "test",
            })
            .collect();
        w.store.import_batch(w.alice, &batch).await.expect("import");
    }
    w
}

/// The database's work since the last mark, by request.
struct Meter {
    mark: u64,
    out: Vec<(&'static str, u64)>,
}

impl Meter {
    fn reset(&mut self) {
        self.mark = work::ticks();
    }
    fn took(&mut self, what: &'static str) {
        let now = work::ticks();
        self.out.push((what, now - self.mark));
        self.mark = now;
    }
}

/// The work each request costs, by name.
async fn costs(w: &World) -> Vec<(&'static str, u64)> {
    let mut m = Meter {
        mark: work::ticks(),
        out: Vec::new(),
    };
    let s = &w.store;
    // the webmail: counts beside the folders, the inbox page, a message
    s.folder_counts(w.alice).await.expect("counts");
    let page = s
        .mailbox_page(w.alice, Folder::Inbox, None, 50)
        .await
        .expect("page");
    m.took("webmail: counts and the inbox page");
    let last = page.last().expect("a page");
    s.mailbox_page(
        w.alice,
        Folder::Inbox,
        Some((last.received_at, last.id)),
        50,
    )
    .await
    .expect("next page");
    m.took("webmail: the next page");
    let id = page[7].id;
    s.mailbox_entry(w.alice, id).await.expect("entry");
    s.entry_raw(w.alice, id).await.expect("raw");
    s.set_seen(w.alice, id, true).await.expect("seen");
    m.took("webmail: a message");
    let q = SearchQuery {
        from: "quentin".into(),
        subject: "xylophone".into(),
        ..Default::default()
    };
    s.search(w.alice, &q, None, 50).await.expect("search");
    m.took("webmail: a search by sender and subject");
    // a word's first letters, as typed: "re" begins words of every message
    let q = SearchQuery {
        text: "re".into(),
        ..Default::default()
    };
    let found = s.search(w.alice, &q, None, 50).await.expect("search");
    assert_eq!(found.len(), 50);
    m.took("webmail: a search for two letters");

    // IMAP: the first SELECT reads the folder once and keeps a snapshot;
    // from then on a SELECT reads the snapshot and what changed since
    let mut c = logged_in(w).await;
    m.reset();
    c.cmd("a", "SELECT INBOX").await;
    m.took(FIRST_SELECT);
    c.cmd("b", "STORE 3 +FLAGS (\\Flagged)").await;
    c.cmd("c", "CLOSE").await;
    m.reset();
    let r = c.cmd("d", "SELECT INBOX").await;
    assert!(r.contains("d OK"), "{r}");
    m.took("IMAP: SELECT");
    c.cmd("e", "NOOP").await;
    m.took("IMAP: NOOP");
    let r = c.cmd("f", "FETCH 1:50 (FLAGS RFC822.SIZE ENVELOPE)").await;
    assert!(r.contains("f OK"), "{r}");
    m.took("IMAP: FETCH of 50");
    c.cmd("g", "FETCH 9 BODY.PEEK[]").await;
    m.took("IMAP: a whole message");
    c.cmd("h", "STORE 9 +FLAGS (\\Seen)").await;
    m.took("IMAP: STORE");
    let r = c
        .cmd("i", "SEARCH FROM tin@planted SUBJECT xylophone")
        .await;
    let hits = r.lines().next().unwrap_or("").split(' ').count() - 2;
    assert!(hits >= 6 && r.contains("i OK"), "{r}");
    m.took("IMAP: SEARCH FROM and SUBJECT");
    c.cmd("j", "EXPUNGE").await;
    m.took("IMAP: EXPUNGE (nothing deleted)");
    c.cmd("k", "STATUS Sent (MESSAGES UNSEEN)").await;
    m.took("IMAP: STATUS");
    let msg = "From: alice@example.test\r\nTo: bob@remote.test\r\nSubject: kept\r\n\
               Message-ID: <appended-once@example.test>\r\n\r\nA copy of what I sent.\r\n";
    c.send(&format!("l APPEND Sent {{{}+}}\r\n{msg}\r\n", msg.len()))
        .await;
    let r = c.read_until("l ").await;
    assert!(r.contains("l OK [APPENDUID"), "{r}");
    m.took("IMAP: APPEND");
    m.out
}

#[tokio::test]
async fn one_request_costs_the_same_on_200_and_on_20000_messages() {
    if std::env::var_os("CONTINUITY_TEST_POSTGRES").is_some() {
        // the work meter counts SQLite's virtual-machine steps; PostgreSQL's
        // plans for the same requests are measured by scripts/bench-cluster
        return;
    }
    let small = filled(SMALL).await;
    let big = filled(BIG).await;
    let a = costs(&small).await;
    let b = costs(&big).await;
    let mut report = String::new();
    for ((what, x), (_, y)) in a.iter().zip(&b) {
        report.push_str(&format!("{what}: {x} ticks with {SMALL}, {y} with {BIG}\n"));
    }
    for ((what, x), (_, y)) in a.iter().zip(&b) {
        if *what == FIRST_SELECT {
            // a walk of the big folder is ~20,000 rows: thousands of ticks
            assert!(*y > 20 * x.max(&10), "the meter misses a walk:\n{report}");
            continue;
        }
        assert!(*y <= 2 * x + 40, "{what} grows with the mailbox:\n{report}");
    }
    eprintln!("{report}");
}

#[tokio::test]
async fn a_snapshot_and_the_changes_after_it_are_the_folder_as_it_is() {
    let w = filled(30).await;
    let s = &w.store;
    let truth = || async {
        let e = s.imap_entries(w.alice, Folder::Inbox).await.expect("rows");
        e.iter().map(|e| (e.uid, e.flags)).collect::<Vec<_>>()
    };
    let view = || async {
        let (e, _) = s.imap_folder(w.alice, Folder::Inbox).await.expect("folder");
        e.iter().map(|e| (e.uid, e.flags)).collect::<Vec<_>>()
    };
    // the first read writes the snapshot
    assert_eq!(view().await, truth().await);
    // then: a message read in the webmail, two expunged, one arrived
    let uids: Vec<u32> = truth().await.iter().map(|e| e.0).collect();
    s.set_seen(w.alice, i64::from(uids[4]), false)
        .await
        .expect("unseen");
    let deleted = crate::store::imap::Flags {
        deleted: true,
        ..Default::default()
    };
    s.imap_store_flags(
        w.alice,
        Folder::Inbox,
        &uids[10..12],
        crate::store::imap::FlagOp::Add,
        deleted,
    )
    .await
    .expect("flag");
    s.imap_expunge(w.alice, Folder::Inbox, None)
        .await
        .expect("expunge");
    let raw = message(999);
    s.import_message(
        w.alice,
        &Import {
            raw: raw.as_bytes(),
            received_at: None,
            source: "test",
        },
    )
    .await
    .expect("one more");
    let now = truth().await;
    assert_eq!(now.len(), 29);
    assert_eq!(view().await, now);
    // the counts kept beside agree with the rows
    let c = s.folder_state(w.alice, Folder::Inbox).await.expect("state");
    assert_eq!(c.total, 29);
    assert_eq!(c.unseen, 1);
    assert_eq!(c.deleted, 0);
    // removals forgotten by the purge: the snapshot is too old to be
    // brought up to date, the folder is read afresh (and still right)
    let before = s.folder_state(w.alice, Folder::Inbox).await.expect("state");
    assert_eq!(
        s.prune_vanished(crate::store::now_ms() + 1000)
            .await
            .expect("prune"),
        2
    );
    let after = s.folder_state(w.alice, Folder::Inbox).await.expect("state");
    assert!(after.vanished_floor > 0 && after.vanished_floor <= before.modseq);
    assert_eq!(view().await, now);
}

/// The work meter does not see inside FTS5 (its blocks are read as blobs,
/// not by statements): that a search for a word's first two or three
/// letters reads one list, newest first, rather than merging the lists of
/// every word that begins so, rests on the index keeping those prefixes.
#[tokio::test]
async fn the_full_text_index_keeps_two_and_three_letter_prefixes() {
    let w = world("fts-prefix", false).await;
    if w.store.backend() == crate::store::db::Backend::Postgres {
        // GIN answers a prefix term by walking its sorted keys from the
        // prefix on: there is no prefix setting to check
        return;
    }
    let sql: String =
        crate::store::db::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'messages_fts'")
            .fetch_one(&w.store.read)
            .await
            .expect("the index");
    assert!(sql.contains("prefix = '2 3'"), "{sql}");
}
