//! SEARCH conversations: header keys through the trigram index, BODY and
//! TEXT through the trigram index of the messages' text (candidates,
//! checked), the rest from the messages — with the meaning each key keeps.

use super::test_world::{deliver, logged_in, world, MSG1, MSG2};
use crate::store::mailbox::Folder;

#[tokio::test]
async fn searches_go_through_the_indexes_and_keep_their_meaning() {
    let w = world("search-index", false).await;
    deliver(&w, MSG1).await;
    deliver(&w, MSG2).await;
    deliver(
        &w,
        "From: =?UTF-8?Q?Ren=C3=A9e_Dupr=C3=A9?= <renee@remote.test>\r\nTo: alice@example.test\r\n\
         Cc: Zoe <zoe@cc.test>\r\nSubject: R\u{e9}union 100%_done\r\n\r\nRendez-vous mercredi, salle Turing.\r\n",
    )
    .await;
    let mut c = logged_in(&w).await;
    c.cmd("s", "SELECT INBOX").await;
    for (cmd, want) in [
        // a substring anywhere in the header, any case (trigram index)
        ("SEARCH FROM AVIER", "* SEARCH 1\r\n"),
        ("SEARCH FROM remote.test", "* SEARCH 1 2 3\r\n"),
        ("SEARCH TO ALICE@EXAMPLE", "* SEARCH 1 2 3\r\n"),
        ("SEARCH SUBJECT dget", "* SEARCH 1\r\n"),
        // shorter than a trigram, or LIKE's wildcards: read from the columns
        ("SEARCH SUBJECT ws", "* SEARCH 2\r\n"),
        ("SEARCH SUBJECT \"100%_\"", "* SEARCH 3\r\n"),
        // a substring of the body, or of a header or the body
        ("SEARCH BODY rendez", "* SEARCH 3\r\n"),
        ("SEARCH BODY turing", "* SEARCH 3\r\n"),
        ("SEARCH TEXT monday", "* SEARCH 1\r\n"),
        ("SEARCH BODY endez-vo", "* SEARCH 3\r\n"),
        ("SEARCH BODY URIN", "* SEARCH 3\r\n"),
        ("SEARCH BODY budget", "* SEARCH\r\n"),
        ("SEARCH TEXT udge", "* SEARCH 1\r\n"),
        ("SEARCH TEXT oundary", "* SEARCH 2\r\n"),
        ("SEARCH TEXT \"union 100\"", "* SEARCH 3\r\n"),
        (
            "SEARCH CHARSET UTF-8 TEXT {8+}\r\nréunion",
            "* SEARCH 3\r\n",
        ),
        ("SEARCH TEXT reunion", "* SEARCH\r\n"),
        // Cc, and HEADER naming a kept header, through the same index
        ("SEARCH CC zoe@cc", "* SEARCH 3\r\n"),
        ("SEARCH OR TO zoe CC zoe", "* SEARCH 3\r\n"),
        ("SEARCH HEADER Subject budget", "* SEARCH 1\r\n"),
        ("SEARCH HEADER cc \"Zoe <zoe\"", "* SEARCH 3\r\n"),
        // any other header, or whether it is there at all: from the message
        ("SEARCH HEADER Content-Type mixed", "* SEARCH 2\r\n"),
        ("SEARCH HEADER content-type boundary=zz", "* SEARCH 2\r\n"),
        ("SEARCH HEADER Cc \"\"", "* SEARCH 3\r\n"),
        // combined with flags, negated, either
        ("SEARCH NOT FROM xavier", "* SEARCH 2 3\r\n"),
        ("SEARCH OR SUBJECT weekly BODY monday", "* SEARCH 1 2\r\n"),
        ("SEARCH SEEN FROM xavier", "* SEARCH\r\n"),
        // nothing a word can be made of: read from the messages
        ("SEARCH TEXT \"?\"", "* SEARCH 1\r\n"),
    ] {
        let r = c.cmd("x", cmd).await;
        assert!(r.contains(want) && r.contains("x OK"), "{cmd}: {r}");
    }
    // decoded, with Unicode case folding
    use crate::store::imap_search::{HeaderColumn, IndexedTerm};
    let hits = w
        .store
        .imap_search_indexed(
            w.alice,
            Folder::Inbox,
            &IndexedTerm::Header(HeaderColumn::From, "DUPRÉ".into()),
        )
        .await
        .unwrap()
        .expect("answered by the index");
    assert_eq!(hits.uids.len(), 1);
}

/// Mail stored before the trigram index: found all the same (a candidate
/// of every substring search) until the server has read it into the
/// index in the background.
#[tokio::test]
async fn mail_stored_before_the_substring_index_is_found_then_read_into_it() {
    use crate::store::imap_search::IndexedTerm;
    let w = world("search-grams", false).await;
    deliver(&w, MSG1).await;
    deliver(&w, MSG2).await;
    let mut c = logged_in(&w).await;
    c.cmd("s", "SELECT INBOX").await;
    c.cmd("a", "SEARCH TEXT meet").await;
    // read again over what the indexer wrote: replaced, not doubled
    crate::store::db::raw(
        "UPDATE grams_backfill SET next_id = 1, last_id = (SELECT MAX(id) FROM messages)",
        &w.store.read,
    )
    .await
    .unwrap();
    assert!(w.store.backfill_grams().await.unwrap() > 0);
    assert_eq!(w.store.backfill_grams().await.unwrap(), 0);
    // as an older version left it: no trigrams, everything still to read
    crate::store::db::raw(
        "DELETE FROM messages_grams; UPDATE grams_backfill SET next_id = 1, \
         last_id = (SELECT MAX(id) FROM messages)",
        &w.store.read,
    )
    .await
    .unwrap();
    let term = IndexedTerm::Text("eet on".into());
    let asked = w
        .store
        .imap_search_indexed(w.alice, Folder::Inbox, &term)
        .await
        .unwrap()
        .expect("candidates");
    assert!(!asked.exact);
    assert_eq!(asked.uids.len(), 2, "both still to read: candidates");
    let r = c.cmd("b", "SEARCH TEXT \"eet on\"").await;
    assert!(r.contains("* SEARCH 1\r\n"), "{r}");
    assert!(w.store.backfill_grams().await.unwrap() > 0);
    assert_eq!(w.store.backfill_grams().await.unwrap(), 0);
    let asked = w
        .store
        .imap_search_indexed(w.alice, Folder::Inbox, &term)
        .await
        .unwrap()
        .expect("candidates");
    assert_eq!(asked.uids.len(), 1, "from the index now");
    let r = c.cmd("c", "SEARCH TEXT \"eet on\"").await;
    assert!(r.contains("* SEARCH 1\r\n"), "{r}");
}

#[tokio::test]
async fn cc_of_mail_stored_before_it_was_kept_is_read_then_indexed() {
    use crate::store::imap_search::{HeaderColumn, IndexedTerm};
    let w = world("search-cc", false).await;
    deliver(&w, MSG1).await;
    deliver(
        &w,
        "From: renee@remote.test\r\nTo: alice@example.test\r\nCc: Zoe <zoe@cc.test>\r\n\
         Subject: hello\r\n\r\nhi\r\n",
    )
    .await;
    let cc = IndexedTerm::Header(HeaderColumn::Cc, "zoe@cc".into());
    // as an older version stored it: no Cc column yet
    crate::store::db::query("UPDATE messages SET header_cc = NULL")
        .execute(&w.store.read)
        .await
        .unwrap();
    let asked = w
        .store
        .imap_search_indexed(w.alice, Folder::Inbox, &cc)
        .await
        .unwrap();
    assert!(asked.is_none(), "not the index while some Cc is unknown");
    let mut c = logged_in(&w).await;
    c.cmd("s", "SELECT INBOX").await;
    let r = c.cmd("a", "SEARCH CC zoe@cc").await;
    assert!(r.contains("* SEARCH 2\r\n"), "read from the messages: {r}");
    // the server reads them in the background, a batch at a time
    assert_eq!(w.store.backfill_cc().await.unwrap(), 2);
    assert_eq!(w.store.backfill_cc().await.unwrap(), 0);
    let hits = w
        .store
        .imap_search_indexed(w.alice, Folder::Inbox, &cc)
        .await
        .unwrap()
        .expect("answered by the index");
    assert_eq!(hits.uids.len(), 1);
    let r = c.cmd("b", "SEARCH CC zoe@cc").await;
    assert!(r.contains("* SEARCH 2\r\n"), "{r}");
}
