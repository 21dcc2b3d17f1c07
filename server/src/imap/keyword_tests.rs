//! Keywords and `\Recent` over IMAP, as imaptest and mail apps use them:
//! keywords named by STORE and APPEND and announced (FLAGS) before any
//! message shows them — to the session that named them and to the others;
//! carried by COPY; searched; refused past the limit. `\Recent` to the
//! first read-write session only, looked at by EXAMINE and STATUS.

use super::test_world::{deliver, logged_in, world, MSG1, MSG2};
use crate::store::keywords::MAX_KEYWORDS;
use crate::store::mailbox::Folder;

#[tokio::test]
async fn keywords_are_named_announced_stored_copied_and_searched() {
    let w = world("keywords", false).await;
    deliver(&w, MSG1).await;
    deliver(&w, MSG2).await;
    let mut a = logged_in(&w).await;
    let mut b = logged_in(&w).await;
    let r = a.cmd("s", "SELECT INBOX").await;
    assert!(
        r.contains("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n")
            && r.contains("[PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]"),
        "{r}"
    );
    b.cmd("s", "SELECT INBOX").await;
    let r = b.cmd("m", "FETCH 1 (MODSEQ)").await;
    let before = r.clone();

    // named by STORE: FLAGS first, then the message with it
    let r = a.cmd("a", "STORE 1 +FLAGS ($Forwarded Work)").await;
    let flags_at = r
        .find("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded Work)")
        .unwrap_or_else(|| panic!("{r}"));
    let fetch_at = r
        .find("* 1 FETCH (FLAGS (\\Recent $Forwarded Work))")
        .unwrap_or_else(|| panic!("{r}"));
    assert!(flags_at < fetch_at, "{r}");
    assert!(
        r.contains("$Forwarded Work \\*)]"),
        "PERMANENTFLAGS again: {r}"
    );
    // the other session learns the names before the change
    let r = b.cmd("n", "NOOP").await;
    let flags_at = r.find("* FLAGS (").unwrap_or_else(|| panic!("{r}"));
    let fetch_at = r
        .find("* 1 FETCH (FLAGS ($Forwarded Work) MODSEQ (")
        .unwrap_or_else(|| panic!("{r}"));
    assert!(flags_at < fetch_at, "{r}");
    // a keyword change is a change (CONDSTORE)
    let r = b.cmd("m2", "FETCH 1 (MODSEQ)").await;
    assert_ne!(r, before);

    // case does not name a second keyword; removing one never names it
    let r = a.cmd("b", "STORE 1 -FLAGS (work $NeverSeen)").await;
    assert!(r.contains("* 1 FETCH (FLAGS (\\Recent $Forwarded))"), "{r}");
    assert!(!r.contains("* FLAGS"), "{r}");
    let r = a.cmd("c", "STORE 2 FLAGS (\\Seen WORK)").await;
    assert!(
        r.contains("* 2 FETCH (FLAGS (\\Recent \\Seen Work))"),
        "{r}"
    );
    let r = a.cmd("d", "SEARCH KEYWORD work").await;
    assert!(r.contains("* SEARCH 2\r\n"), "{r}");
    let r = a.cmd("e", "SEARCH UNKEYWORD $Forwarded").await;
    assert!(r.contains("* SEARCH 2\r\n"), "{r}");
    let r = a.cmd("f", "SEARCH KEYWORD $NeverSeen").await;
    assert!(r.contains("* SEARCH\r\n"), "{r}");

    // COPY carries them; APPEND names them
    a.cmd("g", "CREATE Kept").await;
    a.cmd("h", "COPY 1:2 Kept").await;
    let msg = "Subject: x\r\n\r\nhello\r\n";
    a.send(&format!("i APPEND Kept ($Junk) {{{}}}\r\n", msg.len()))
        .await;
    a.read_until("+").await;
    a.send(&format!("{msg}\r\n")).await;
    let r = a.read_until("i ").await;
    assert!(r.contains("i OK [APPENDUID "), "{r}");
    let r = a.cmd("j", "SELECT Kept").await;
    assert!(r.contains("$Junk"), "{r}");
    let r = a.cmd("k", "FETCH 1:* (FLAGS)").await;
    assert!(
        r.contains("* 1 FETCH (FLAGS (\\Recent $Forwarded))")
            && r.contains("* 2 FETCH (FLAGS (\\Recent \\Seen Work))")
            && r.contains("* 3 FETCH (FLAGS (\\Recent $Junk))"),
        "{r}"
    );
    // the webmail's view of the same rows
    let rows = w.store.imap_entries(w.alice, Folder::Inbox).await.unwrap();
    assert_eq!(rows[0].flags.keywords, 1, "{rows:?}");

    // refusals: \Recent is the server's, a name too long, too many names
    let r = a.cmd("l", "STORE 1 +FLAGS (\\Recent)").await;
    assert!(r.contains("l BAD Invalid system flag"), "{r}");
    let long = "k".repeat(201);
    let r = a.cmd("m", &format!("STORE 1 +FLAGS ({long})")).await;
    assert!(r.contains("m NO [LIMIT]"), "{r}");
    let many: Vec<String> = (0..MAX_KEYWORDS).map(|i| format!("tag{i}")).collect();
    let r = a
        .cmd("n", &format!("STORE 1 +FLAGS ({})", many.join(" ")))
        .await;
    assert!(r.contains("n NO [LIMIT]"), "{r}");
    let fill: Vec<String> = (0..MAX_KEYWORDS - 3).map(|i| format!("tag{i}")).collect();
    let r = a
        .cmd("o", &format!("STORE 1 +FLAGS ({})", fill.join(" ")))
        .await;
    assert!(r.contains("o OK"), "{r}");
    assert!(
        !r.contains("\\*)]"),
        "no more may be named: no \\* in PERMANENTFLAGS: {r}"
    );
    let r = a.cmd("p", "STORE 1 +FLAGS (OneMore)").await;
    assert!(r.contains("p NO [LIMIT]"), "{r}");
    let r = a.cmd("q", "STORE 1 +FLAGS (tag5 $junk)").await;
    assert!(r.contains("q OK"), "names already known still work: {r}");
}

#[tokio::test]
async fn recent_belongs_to_the_first_read_write_session() {
    let w = world("recent", false).await;
    deliver(&w, MSG1).await;
    deliver(&w, MSG2).await;
    let mut a = logged_in(&w).await;
    let mut b = logged_in(&w).await;
    // EXAMINE and STATUS look without taking
    let r = a.cmd("a", "EXAMINE INBOX").await;
    assert!(r.contains("* 2 RECENT"), "{r}");
    let r = a.cmd("b", "SEARCH RECENT").await;
    assert!(r.contains("* SEARCH 1 2\r\n"), "{r}");
    a.cmd("c", "CLOSE").await;
    let r = a.cmd("d", "STATUS INBOX (RECENT MESSAGES)").await;
    assert!(r.contains("RECENT 2"), "{r}");
    // the first SELECT takes them; the next session sees none
    let r = a.cmd("e", "SELECT INBOX").await;
    assert!(r.contains("* 2 RECENT"), "{r}");
    let r = b.cmd("f", "SELECT INBOX").await;
    assert!(r.contains("* 0 RECENT"), "{r}");
    let r = b.cmd("g", "STATUS INBOX (RECENT)").await;
    assert!(r.contains("RECENT 0"), "{r}");
    let r = b.cmd("h", "SEARCH OLD").await;
    assert!(r.contains("* SEARCH 1 2\r\n"), "{r}");
    let r = a.cmd("i", "SEARCH NEW").await;
    assert!(r.contains("* SEARCH 1 2\r\n"), "{r}");

    // new mail: recent to the session that notices it first, told with
    // EXISTS
    deliver(&w, &MSG1.replace("<b1@", "<b3@")).await;
    let r = b.cmd("j", "NOOP").await;
    assert!(r.contains("* 3 EXISTS\r\n* 1 RECENT\r\n"), "{r}");
    let r = a.cmd("k", "NOOP").await;
    assert!(r.contains("* 3 EXISTS\r\n* 2 RECENT\r\n"), "{r}");
    let r = b.cmd("l", "FETCH 3 (FLAGS)").await;
    assert!(r.contains("* 3 FETCH (FLAGS (\\Recent))"), "{r}");
    let r = a.cmd("m", "FETCH 3 (FLAGS)").await;
    assert!(r.contains("* 3 FETCH (FLAGS ())"), "{r}");
}
