//! Scripted IMAP conversations over an in-memory stream (see
//! [`super::test_world`]): login, sessions, LIST/STATUS/SELECT/FETCH,
//! STORE/SEARCH/COPY/MOVE/EXPUNGE, APPEND and IDLE, restarts, big FETCHes.
//! Each step sends a command and checks the responses; error paths are
//! tried on purpose.

use std::sync::Arc;

use super::test_world::*;
use super::ImapContext;
use crate::auth::Auth;
use crate::config::{Config, TlsMode};
use crate::store::mailbox::Folder;
use crate::store::testing::Scratch;

#[tokio::test]
async fn issue_9_login_is_refused_before_tls_and_checks_the_password() {
    let w = world("login", false).await;
    let mut c = connect(&w, false).await;
    let caps = c.cmd("a", "CAPABILITY").await;
    assert!(
        caps.contains("LOGINDISABLED") && !caps.contains("AUTH=PLAIN"),
        "{caps}"
    );
    let r = c.cmd("b", &format!("LOGIN alice@example.test {PW}")).await;
    assert!(r.contains("b NO"), "no LOGIN in clear text: {r}");
    let r = c
        .cmd("c", "AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB4")
        .await;
    assert!(r.contains("c NO"), "{r}");
    let r = c.cmd("d", "SELECT INBOX").await;
    assert!(r.contains("d BAD"), "{r}");

    let mut c = connect(&w, true).await;
    let caps = c.cmd("a", "CAPABILITY").await;
    assert!(
        caps.contains("AUTH=PLAIN") && caps.contains("IDLE") && caps.contains("UIDPLUS"),
        "{caps}"
    );
    let r = c.cmd("b", "LOGIN alice@example.test wrong").await;
    assert!(r.contains("b NO [AUTHENTICATIONFAILED]"), "{r}");
    // AUTHENTICATE PLAIN with a continuation
    c.send("c AUTHENTICATE PLAIN\r\n").await;
    let r = c.read_until("+").await;
    assert!(r.starts_with('+'), "{r}");
    use base64::Engine;
    let creds =
        base64::engine::general_purpose::STANDARD.encode(format!("\0alice@example.test\0{PW}"));
    c.send(&format!("{creds}\r\n")).await;
    let r = c.read_until("c ").await;
    assert!(r.contains("c OK"), "{r}");
    let r = c.cmd("d", "LOGIN alice@example.test x").await;
    assert!(r.contains("d BAD"), "already logged in: {r}");
    let r = c.cmd("z", "LOGOUT").await;
    assert!(r.contains("* BYE") && r.contains("z OK"), "{r}");
}

#[tokio::test]
async fn issue_9_only_covered_users_and_a_few_sessions_each() {
    let w = world("covered", false).await;
    // two sessions are allowed here, the third is refused
    let _one = logged_in(&w).await;
    let _two = logged_in(&w).await;
    let mut c = connect(&w, true).await;
    let r = c.cmd("l", &format!("LOGIN alice@example.test {PW}")).await;
    assert!(r.contains("l NO [LIMIT]"), "{r}");
    // the domain's Continuity Service off: nobody logs in
    w.store
        .set_continuity_enabled(w.dom, false, "test")
        .await
        .expect("off");
    let mut c = connect(&w, true).await;
    let r = c.cmd("l", &format!("LOGIN bob@example.test {PW}")).await;
    assert!(r.contains("l NO [AUTHORIZATIONFAILED]"), "{r}");
}

#[tokio::test]
async fn issue_9_list_status_select_and_fetch() {
    let w = world("fetch", false).await;
    deliver(&w, MSG1).await;
    deliver(&w, MSG2).await;
    let mut c = logged_in(&w).await;
    let r = c.cmd("a", "LIST \"\" *").await;
    assert!(r.contains("* LIST (\\HasNoChildren) \"/\" INBOX"), "{r}");
    assert!(r.contains("\\Sent") && r.contains("Sent\r\n"), "{r}");
    let r = c.cmd("a2", "LIST \"\" \"\"").await;
    assert!(r.contains("* LIST (\\Noselect) \"/\" \"\""), "{r}");
    let r = c
        .cmd("b", "STATUS INBOX (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)")
        .await;
    assert!(r.contains("MESSAGES 2") && r.contains("UNSEEN 2"), "{r}");
    let r = c.cmd("c", "SELECT INBOX").await;
    assert!(
        r.contains("* 2 EXISTS") && r.contains("[UIDVALIDITY ") && r.contains("c OK [READ-WRITE]"),
        "{r}"
    );
    assert!(r.contains("[UNSEEN 1]") && r.contains("* 2 RECENT"), "{r}");
    let r = c
        .cmd("d", "FETCH 1:2 (FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)")
        .await;
    assert!(
        r.contains("* 1 FETCH (FLAGS (\\Recent) RFC822.SIZE "),
        "{r}"
    );
    assert!(
        r.contains("\"Budget 2027\"") && r.contains("\"<b1@remote.test>\""),
        "{r}"
    );
    assert!(
        r.contains("((\"Xavier\" NIL \"x\" \"remote.test\"))"),
        "{r}"
    );
    let r = c.cmd("e", "FETCH 2 BODYSTRUCTURE").await;
    assert!(
        r.contains("((\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 13 0"),
        "{r}"
    );
    assert!(
        r.contains("(\"application\" \"pdf\" (\"name\" \"a.pdf\") NIL NIL \"BASE64\" 8"),
        "{r}"
    );
    assert!(r.to_ascii_lowercase().contains("\"mixed\""), "{r}");
    let r = c.cmd("f", "FETCH 2 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.7>)").await;
    assert!(r.contains("BODY[1] {13}\r\nHello readers"), "{r}");
    assert!(
        r.contains("Content-Type: application/pdf; name=a.pdf"),
        "{r}"
    );
    assert!(r.contains("Subject: Weekly news\r\n\r\n"), "{r}");
    assert!(r.contains("BODY[TEXT]<0> {7}\r\n--zz\r\nC)"), "{r}");
    // PEEK left it unseen; BODY[] reads it, and says so
    let r = c.cmd("g", "FETCH 1 BODY[]").await;
    assert!(
        r.contains("Can we meet on Monday?") && r.contains("FLAGS (\\Recent \\Seen)"),
        "{r}"
    );
    let r = c.cmd("h", "UID FETCH 1:* (FLAGS)").await;
    assert!(r.matches("FETCH (UID ").count() == 2, "{r}");
    // the webmail sees it read
    let e = w.store.imap_entries(w.alice, Folder::Inbox).await.unwrap();
    let rows = w
        .store
        .mailbox_page(w.alice, Folder::Inbox, None, 10)
        .await
        .unwrap();
    let row = w
        .store
        .imap_row(w.alice, Folder::Inbox, e[0].uid)
        .await
        .unwrap();
    assert!(rows.iter().any(|r| Some(r.id) == row && r.seen));
    // errors
    let r = c.cmd("i", "FETCH 9 FLAGS").await;
    assert!(r.contains("i BAD"), "{r}");
    let r = c.cmd("j", "FETCH 1 (BODY[9])").await;
    assert!(
        r.contains("j OK"),
        "a missing part is empty, not an error: {r}"
    );
    let r = c.cmd("k", "SELECT Nowhere").await;
    assert!(r.contains("k NO"), "{r}");
    let r = c.cmd("l", "FETCH 1 FLAGS").await;
    assert!(
        r.contains("l BAD"),
        "a failed SELECT leaves nothing selected: {r}"
    );
    let r = c.cmd("m", "BLURB").await;
    assert!(r.contains("BAD"), "{r}");
}

#[tokio::test]
async fn issue_9_store_search_copy_move_expunge() {
    let w = world("store", false).await;
    deliver(&w, MSG1).await;
    deliver(&w, MSG2).await;
    let mut c = logged_in(&w).await;
    c.cmd("s", "SELECT INBOX").await;
    let r = c.cmd("a", "STORE 1 +FLAGS (\\Flagged \\Seen)").await;
    assert!(
        r.contains("* 1 FETCH (FLAGS (\\Recent \\Seen \\Flagged))"),
        "{r}"
    );
    let r = c.cmd("b", "STORE 1 -FLAGS.SILENT (\\Seen)").await;
    assert!(!r.contains("FETCH"), "{r}");
    let r = c.cmd("c", "SEARCH UNSEEN").await;
    assert!(r.contains("* SEARCH 1 2\r\n"), "{r}");
    let r = c.cmd("d", "SEARCH FLAGGED SUBJECT budget").await;
    assert!(r.contains("* SEARCH 1\r\n"), "{r}");
    let r = c.cmd("e", "SEARCH TEXT readers").await;
    assert!(r.contains("* SEARCH 2\r\n"), "{r}");
    let r = c.cmd("f", "SEARCH OR FROM xavier SINCE 1-Jan-2030").await;
    assert!(r.contains("* SEARCH 1\r\n"), "{r}");
    let r = c.cmd("g", "UID SEARCH ALL").await;
    let uids: Vec<u32> = w
        .store
        .imap_entries(w.alice, Folder::Inbox)
        .await
        .unwrap()
        .iter()
        .map(|e| e.uid)
        .collect();
    assert!(
        r.contains(&format!("* SEARCH {} {}\r\n", uids[0], uids[1])),
        "{r}"
    );
    let r = c.cmd("h", "SEARCH CHARSET KOI8-R ALL").await;
    assert!(r.contains("h NO [BADCHARSET"), "{r}");
    // copy to Sent, move back
    let r = c.cmd("i", "COPY 1 Sent").await;
    assert!(r.contains("i OK [COPYUID "), "{r}");
    let r = c.cmd("j", "STATUS Sent (MESSAGES)").await;
    assert!(r.contains("MESSAGES 1"), "{r}");
    let r = c.cmd("k", "MOVE 2 Sent").await;
    assert!(
        r.contains("* OK [COPYUID ") && r.contains("* 2 EXPUNGE") && r.contains("k OK"),
        "{r}"
    );
    // expunge: only \Deleted ones, deliveries untouched
    let r = c.cmd("l", "STORE 1 +FLAGS (\\Deleted)").await;
    assert!(r.contains("\\Deleted"), "{r}");
    let r = c.cmd("m", "EXPUNGE").await;
    assert!(r.contains("* 1 EXPUNGE") && r.contains("m OK"), "{r}");
    let r = c.cmd("n", "STATUS INBOX (MESSAGES)").await;
    assert!(r.contains("MESSAGES 0"), "{r}");
    let r = c.cmd("o", "EXAMINE Sent").await;
    assert!(r.contains("* 2 EXISTS") && r.contains("[READ-ONLY]"), "{r}");
    let r = c.cmd("p", "STORE 1 +FLAGS (\\Deleted)").await;
    assert!(r.contains("p NO"), "read-only: {r}");
    let r = c.cmd("q", "CLOSE").await;
    assert!(r.contains("q OK"), "{r}");
    let r = c.cmd("r", "CREATE Sent").await;
    assert!(r.contains("r NO [ALREADYEXISTS]"), "{r}");
}

#[tokio::test]
async fn issue_9_append_to_sent_once_and_idle_sees_new_mail() {
    let w = world("idle", false).await;
    let mut c = logged_in(&w).await;
    let msg = "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: appended\r\nMessage-ID: <ap1@example.test>\r\n\r\nhi\r\n";
    c.send(&format!("a APPEND Sent (\\Seen) {{{}}}\r\n", msg.len()))
        .await;
    let r = c.read_until("+").await;
    assert!(r.starts_with('+'), "{r}");
    c.send(&format!("{msg}\r\n")).await;
    let r = c.read_until("a ").await;
    assert!(r.contains("a OK [APPENDUID "), "{r}");
    // a mail app appending what submission already filed: not twice
    let r = c
        .cmd("b", &format!("APPEND Sent {{{}+}}\r\n{msg}", msg.len()))
        .await;
    assert!(r.contains("b OK [APPENDUID "), "{r}");
    assert_eq!(
        w.store
            .imap_entries(w.alice, Folder::Sent)
            .await
            .unwrap()
            .len(),
        1
    );
    let r = c.cmd("c", "APPEND Archive {2+}\r\nhi").await;
    assert!(r.contains("c NO [TRYCREATE]"), "{r}");
    // a literal past the limit is refused
    c.send("d APPEND INBOX {999999}\r\n").await;
    let r = c.read_until("d ").await;
    assert!(r.contains("d BAD"), "{r}");

    c.cmd("s", "SELECT INBOX").await;
    c.send("i IDLE\r\n").await;
    let r = c.read_until("+").await;
    assert!(r.starts_with('+'), "{r}");
    // new mail shows in the IDLE session without the client asking
    deliver(&w, MSG1).await;
    let r = c.read_until("* 1 EXISTS").await;
    assert!(r.contains("* 1 EXISTS"), "{r}");
    // a flag set in the webmail shows in the IDLE session too
    let e = w.store.imap_entries(w.alice, Folder::Inbox).await.unwrap();
    let row = w.store.imap_row(w.alice, Folder::Inbox, e[0].uid).await;
    w.store
        .set_seen(w.alice, row.unwrap().expect("the row"), true)
        .await
        .unwrap();
    let r = c.read_until("* 1 FETCH").await;
    assert!(r.contains("\\Seen"), "{r}");
    c.send("DONE\r\n").await;
    let r = c.read_until("i ").await;
    assert!(r.contains("i OK"), "{r}");
}

#[tokio::test]
async fn issue_9_uidvalidity_and_uids_survive_a_restart() {
    let scratch = Scratch::new("imap-restart");
    let dir = scratch.path().to_path_buf();
    let store = crate::store::testing::open(&dir).await.expect("store");
    let dom = store
        .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
        .await
        .unwrap()
        .id;
    let alice = store
        .add_user("alice@example.test", "", &[], "local")
        .await
        .unwrap()
        .id;
    let w = World {
        ctx: ImapContext::new(
            store.clone(),
            Arc::new(
                Auth::new(store.clone(), &Config::load(None, Vec::new()).unwrap().web)
                    .await
                    .unwrap(),
            ),
            "imap.test",
            &Config::load(None, Vec::new()).unwrap().imap,
            None,
        ),
        store: store.clone(),
        alice,
        dom,
        _dir: None,
    };
    deliver(&w, MSG1).await;
    let validity = store.imap_uid_validity().await.unwrap();
    let next = store.imap_uid_next(alice, Folder::Inbox).await.unwrap();
    let uids: Vec<u32> = store
        .imap_entries(alice, Folder::Inbox)
        .await
        .unwrap()
        .iter()
        .map(|e| e.uid)
        .collect();
    store.flush().await.unwrap();
    drop(w);
    drop(store);
    let again = crate::store::testing::open(&dir).await.expect("reopened");
    assert_eq!(again.imap_uid_validity().await.unwrap(), validity);
    assert_eq!(
        again.imap_uid_next(alice, Folder::Inbox).await.unwrap(),
        next
    );
    let after: Vec<u32> = again
        .imap_entries(alice, Folder::Inbox)
        .await
        .unwrap()
        .iter()
        .map(|e| e.uid)
        .collect();
    assert_eq!(after, uids);
    // an expunged UID is never given again
    let raw = MSG2.as_bytes();
    let uid = again
        .imap_append(alice, Folder::Inbox, raw, Default::default(), None)
        .await
        .unwrap();
    assert!(uid >= next, "{uid} < {next}");
    again
        .imap_store_flags(
            alice,
            Folder::Inbox,
            &[uid],
            crate::store::imap::FlagOp::Add,
            crate::store::imap::Flags {
                deleted: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        again
            .imap_expunge(alice, Folder::Inbox, None)
            .await
            .unwrap(),
        [uid]
    );
    let other = again
        .imap_append(
            alice,
            Folder::Inbox,
            b"Subject: x\r\n\r\ny\r\n",
            Default::default(),
            None,
        )
        .await
        .unwrap();
    assert!(other > uid);
}

#[tokio::test]
async fn issue_9_a_big_fetch_goes_out_in_batches_before_a_pipelined_command() {
    let w = world("batches", false).await;
    for i in 0..450 {
        deliver(&w, &MSG1.replace("Budget 2027", &format!("Budget {i}"))).await;
    }
    let mut c = logged_in(&w).await;
    c.cmd("s", "SELECT INBOX").await;
    // three batches of FETCH, then the NOOP sent in the same write
    c.send("f FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\nn NOOP\r\n")
        .await;
    let r = c.read_until("n ").await;
    assert_eq!(r.matches(" FETCH (").count(), 450, "every message once");
    let done = r.find("f OK").expect("FETCH completed");
    let noop = r.find("n OK").expect("NOOP completed");
    assert!(done < noop, "in order");
    assert!(r[..done].contains("* 450 FETCH") && r.contains("Subject: Budget 449\r\n"));
    assert!(
        !r[done..].contains(" FETCH ("),
        "nothing after the tagged OK but the NOOP"
    );
}
