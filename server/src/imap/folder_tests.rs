//! The user's own folders over IMAP, as mail apps use them: CREATE with
//! levels, LIST with `%` and `*` and the children attributes, Drafts, Junk
//! and Archive made on demand (SPECIAL-USE), RENAME keeping UIDs and
//! UIDVALIDITY and taking children along, RENAME INBOX, DELETE, SUBSCRIBE
//! and LSUB, names in modified UTF-7 — and every refusal with its code.

use super::test_world::{deliver, logged_in, world, MSG1, MSG2};
use crate::store::mailbox::Folder;

/// The number after `key` (a status item or a response code) in `r`.
fn number_after(r: &str, key: &str) -> u32 {
    let at = r.find(key).unwrap_or_else(|| panic!("{key} in {r}")) + key.len();
    r[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

fn uidvalidity(r: &str) -> u32 {
    number_after(r, "UIDVALIDITY ")
}

#[tokio::test]
async fn folders_are_made_listed_renamed_and_deleted() {
    let w = world("folders", false).await;
    deliver(&w, MSG1).await;
    deliver(&w, MSG2).await;
    let mut c = logged_in(&w).await;

    // the first LIST makes the folders mail apps look for
    let r = c.cmd("a", "LIST \"\" *").await;
    for line in [
        "* LIST (\\HasNoChildren) \"/\" INBOX\r\n",
        "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n",
        "* LIST (\\HasNoChildren \\Trash) \"/\" Trash\r\n",
        "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts\r\n",
        "* LIST (\\HasNoChildren \\Junk) \"/\" Junk\r\n",
        "* LIST (\\HasNoChildren \\Archive) \"/\" Archive\r\n",
    ] {
        assert!(r.contains(line), "{line} in {r}");
    }

    // levels: the missing parent is made, and says it has children
    let r = c.cmd("b", "CREATE Projects/2026/Q1").await;
    assert!(r.contains("b OK"), "{r}");
    let r = c.cmd("c", "LIST \"\" %").await;
    assert!(r.contains("(\\HasChildren) \"/\" Projects\r\n"), "{r}");
    assert!(!r.contains("Projects/2026"), "% stops at a level: {r}");
    let r = c.cmd("d", "LIST Projects *").await;
    assert!(
        r.contains("(\\HasChildren) \"/\" Projects/2026\r\n")
            && r.contains("(\\HasNoChildren) \"/\" Projects/2026/Q1\r\n")
            && !r.contains("INBOX"),
        "{r}"
    );
    // a trailing separator only says more levels may come
    let r = c.cmd("e", "CREATE Clients/").await;
    assert!(r.contains("e OK"), "{r}");
    let r = c.cmd("e2", "LIST \"\" Clients").await;
    assert!(r.contains("\"/\" Clients\r\n"), "{r}");

    // refusals, each with its code
    for (cmd, code) in [
        ("CREATE Projects", "[ALREADYEXISTS]"),
        ("CREATE inbox", "[ALREADYEXISTS]"),
        ("CREATE Sent", "[ALREADYEXISTS]"),
        ("CREATE a//b", "[CANNOT]"),
        ("CREATE \"a*b\"", "[CANNOT]"),
        ("CREATE &AMk", "[CANNOT]"),
        ("DELETE Projects", "[INUSE]"),
        ("DELETE Nowhere", "[NONEXISTENT]"),
        ("DELETE INBOX", "[CANNOT]"),
        ("DELETE Trash", "[CANNOT]"),
        ("RENAME Nowhere Else", "[NONEXISTENT]"),
        ("RENAME Projects Clients", "[ALREADYEXISTS]"),
        ("RENAME Projects Projects/Old", "[CANNOT]"),
        ("RENAME Sent Outbox", "[CANNOT]"),
        ("RENAME Clients INBOX", "[ALREADYEXISTS]"),
        ("SELECT Nowhere", "[NONEXISTENT]"),
        ("STATUS Nowhere (MESSAGES)", "[NONEXISTENT]"),
    ] {
        let r = c.cmd("x", cmd).await;
        assert!(r.contains(&format!("x NO {code}")), "{cmd}: {r}");
    }

    // mail moved into a folder keeps its flags there, under a new UID
    c.cmd("f", "SELECT INBOX").await;
    c.cmd("g", "STORE 1 +FLAGS.SILENT (\\Flagged)").await;
    let r = c.cmd("h", "MOVE 1 Projects/2026/Q1").await;
    assert!(r.contains("[COPYUID ") && r.contains("* 1 EXPUNGE"), "{r}");
    let r = c.cmd("i", "SELECT Projects/2026/Q1").await;
    assert!(r.contains("* 1 EXISTS") && r.contains("* 1 RECENT"), "{r}");
    let validity = uidvalidity(&r);
    let r = c.cmd("j", "FETCH 1 (UID FLAGS)").await;
    assert!(r.contains("(\\Recent \\Flagged)"), "{r}");
    let uid_before = r.clone();

    // a rename keeps the messages, their UIDs and the UIDVALIDITY, and
    // takes the children along
    c.cmd("k", "SELECT INBOX").await;
    let r = c.cmd("l", "RENAME Projects Work/Projects").await;
    assert!(r.contains("l OK"), "{r}");
    let r = c.cmd("m", "LIST \"\" *").await;
    assert!(
        r.contains("\"/\" Work\r\n")
            && r.contains("\"/\" Work/Projects/2026/Q1\r\n")
            && !r.contains("\" Projects"),
        "{r}"
    );
    let r = c.cmd("n", "SELECT Work/Projects/2026/Q1").await;
    assert_eq!(uidvalidity(&r), validity);
    let r = c.cmd("o", "FETCH 1 (UID FLAGS)").await;
    // the same UID and flags; \Recent was the first session's only
    assert_eq!(
        r.lines().next().map(|l| l.to_string()),
        uid_before
            .lines()
            .next()
            .map(|l| l.replace("\\Recent ", "")),
        "same UID and flags"
    );

    // deleting the leaf, then its parents; the archive keeps the message
    c.cmd("p", "SELECT INBOX").await;
    let r = c.cmd("q", "DELETE Work/Projects/2026/Q1").await;
    assert!(r.contains("q OK"), "{r}");
    for (t, name) in [
        ("r", "Work/Projects/2026"),
        ("s", "Work/Projects"),
        ("t", "Work"),
    ] {
        let r = c.cmd(t, &format!("DELETE {name}")).await;
        assert!(r.contains(&format!("{t} OK")), "{r}");
    }
    let r = c.cmd("u", "LIST \"\" *").await;
    assert!(!r.contains("Work"), "{r}");
    let archived: i64 = crate::store::db::query_scalar("SELECT COUNT(*) FROM messages")
        .fetch_one(&w.store.read)
        .await
        .unwrap();
    assert_eq!(archived, 2, "the archive keeps every message");

    // the same name again is a new folder: a new UIDVALIDITY
    c.cmd("v", "CREATE Work").await;
    let r = c.cmd("w", "SELECT Work").await;
    assert!(r.contains("* 0 EXISTS"), "{r}");
    assert!(uidvalidity(&r) > validity, "{r}");
}

#[tokio::test]
async fn inbox_renamed_moves_its_mail_and_stays() {
    let w = world("rename-inbox", false).await;
    deliver(&w, MSG1).await;
    deliver(&w, MSG2).await;
    let mut c = logged_in(&w).await;
    let r = c.cmd("a", "RENAME INBOX \"Old mail\"").await;
    assert!(r.contains("a OK"), "{r}");
    let r = c.cmd("b", "STATUS INBOX (MESSAGES)").await;
    assert!(r.contains("MESSAGES 0"), "{r}");
    let r = c
        .cmd("c", "STATUS \"Old mail\" (MESSAGES UIDVALIDITY)")
        .await;
    assert!(r.contains("MESSAGES 2"), "{r}");
    // new mail still arrives in INBOX
    deliver(&w, MSG1.replace("<b1@", "<b3@").as_str()).await;
    let r = c.cmd("d", "STATUS INBOX (MESSAGES)").await;
    assert!(r.contains("MESSAGES 1"), "{r}");
}

#[tokio::test]
async fn subscriptions_and_lsub() {
    let w = world("subscribe", false).await;
    let mut c = logged_in(&w).await;
    c.cmd("a", "CREATE Lists/rust").await;
    c.cmd("b", "CREATE Lists/debian").await;
    let r = c.cmd("c", "SUBSCRIBE Lists/rust").await;
    assert!(r.contains("c OK"), "{r}");
    // a name that does not exist may be subscribed (RFC 3501 §6.3.6)
    let r = c.cmd("d", "SUBSCRIBE Later").await;
    assert!(r.contains("d OK"), "{r}");
    let r = c.cmd("e", "LSUB \"\" *").await;
    assert!(
        r.contains("* LSUB () \"/\" INBOX\r\n")
            && r.contains("* LSUB (\\Sent) \"/\" Sent\r\n")
            && r.contains("\"/\" Lists/rust\r\n")
            && r.contains("\"/\" Later\r\n")
            && !r.contains("debian"),
        "{r}"
    );
    // "%" shows the unsubscribed level above a subscribed name \Noselect
    let r = c.cmd("f", "LSUB \"\" %").await;
    assert!(r.contains("* LSUB (\\Noselect) \"/\" Lists\r\n"), "{r}");
    assert!(!r.contains("Lists/rust"), "{r}");
    let r = c.cmd("g", "UNSUBSCRIBE Lists/rust").await;
    assert!(r.contains("g OK"), "{r}");
    let r = c.cmd("h", "LSUB \"\" *").await;
    assert!(!r.contains("Lists"), "{r}");
}

#[tokio::test]
async fn names_in_modified_utf7() {
    let w = world("mutf7", false).await;
    let mut c = logged_in(&w).await;
    // "Réunions & Comptes" as a mail app sends it
    let r = c.cmd("a", "CREATE \"R&AOk-unions &- Comptes\"").await;
    assert!(r.contains("a OK"), "{r}");
    let folders = w.store.user_folders(w.alice).await.unwrap();
    assert!(
        folders.iter().any(|f| f.name == "Réunions & Comptes"),
        "kept in UTF-8: {folders:?}"
    );
    let r = c.cmd("b", "LIST \"\" R*").await;
    assert!(r.contains("\"/\" \"R&AOk-unions &- Comptes\"\r\n"), "{r}");
    let r = c.cmd("c", "SELECT \"R&AOk-unions &- Comptes\"").await;
    assert!(r.contains("c OK"), "{r}");
    // unencoded 8-bit names are not modified UTF-7
    let r = c.cmd("d", "CREATE \"R\u{e9}union\"").await;
    assert!(!r.contains("d OK"), "{r}");
}

#[tokio::test]
async fn appended_and_copied_mail_reach_user_folders() {
    let w = world("folder-append", false).await;
    deliver(&w, MSG1).await;
    let mut c = logged_in(&w).await;
    c.cmd("a", "LIST \"\" *").await;
    let r = c.cmd("b", "STATUS Drafts (UIDVALIDITY)").await;
    let validity = uidvalidity(&r);
    let msg = "From: alice@example.test\r\nSubject: draft\r\n\r\nhello\r\n";
    c.send(&format!("c APPEND Drafts (\\Draft) {{{}}}\r\n", msg.len()))
        .await;
    c.read_until("+").await;
    c.send(&format!("{msg}\r\n")).await;
    let r = c.read_until("c ").await;
    assert!(
        r.contains(&format!("c OK [APPENDUID {validity} ")),
        "APPENDUID carries the folder's own UIDVALIDITY: {r}"
    );
    c.cmd("d", "SELECT INBOX").await;
    let r = c.cmd("e", "COPY 1 Archive").await;
    assert!(r.contains("[COPYUID "), "{r}");
    let r = c.cmd("f", "COPY 1 Nowhere").await;
    assert!(r.contains("f NO [TRYCREATE]"), "{r}");
    let archive = w
        .store
        .user_folder_named(w.alice, "Archive")
        .await
        .unwrap()
        .unwrap();
    let rows = w
        .store
        .imap_entries(w.alice, Folder::User(archive.id))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    // the webmail's INBOX still has it: a copy, not a move
    let counts = w.store.folder_counts(w.alice).await.unwrap();
    assert_eq!(counts.inbox, 1);
}

fn uidnext(r: &str) -> u32 {
    number_after(r, "UIDNEXT ")
}

/// Each folder numbers its own messages from 1: UIDNEXT changes only
/// when mail is added to that folder, and the next message gets exactly
/// the UIDNEXT told (RFC 3501 §2.3.1.1) — by delivery, APPEND, COPY and
/// MOVE, also into a folder just made; a MOVE within a folder gives the
/// messages new UIDs (RFC 6851).
#[tokio::test]
async fn uidnext_is_the_folders_own_and_exactly_the_next_uid() {
    let w = world("uidnext", false).await;
    deliver(&w, MSG1).await;
    let mut c = logged_in(&w).await;
    c.cmd("a", "CREATE Other").await;
    let r = c.cmd("a2", "STATUS Other (UIDNEXT)").await;
    assert_eq!(uidnext(&r), 1, "a new folder starts at 1: {r}");
    let before = uidnext(&c.cmd("b", "STATUS INBOX (UIDNEXT)").await);
    let msg = "From: alice@example.test\r\nSubject: elsewhere\r\n\r\nhello\r\n";
    c.send(&format!("c APPEND Other {{{}}}\r\n", msg.len()))
        .await;
    c.read_until("+").await;
    c.send(&format!("{msg}\r\n")).await;
    let r = c.read_until("c ").await;
    assert!(r.contains(" 1] APPEND completed"), "APPENDUID 1: {r}");
    let r = c.cmd("d", "STATUS INBOX (UIDNEXT)").await;
    assert_eq!(uidnext(&r), before, "mail added elsewhere: {r}");
    deliver(&w, MSG2).await;
    let r = c.cmd("e", "STATUS INBOX (UIDNEXT)").await;
    assert_eq!(uidnext(&r), before + 1, "mail added here: {r}");

    let r = c.cmd("f", "SELECT INBOX").await;
    let next = number_after(&r, "[UIDNEXT ");
    let r = c.cmd("g", "UID FETCH 1:* (UID)").await;
    assert!(r.contains(&format!("(UID {})", next - 1)), "{r}");
    let r2 = c.cmd("h", "MOVE 1 INBOX").await;
    assert!(
        r2.contains(&format!(" {next}] Moved"))
            && r2.contains("* 1 EXPUNGE")
            && r2.contains(" EXISTS"),
        "the moved message takes the UIDNEXT told: {r2}"
    );
    let r3 = c.cmd("i", "UID FETCH 1:* (UID)").await;
    assert_ne!(r, r3, "new UIDs");
    assert_eq!(r3.matches("FETCH (UID").count(), 2, "{r3}");

    // into a folder just made, and into one with mail
    c.cmd("j", "CREATE Fresh").await;
    let r = c.cmd("k", "COPY 1 Fresh").await;
    assert!(r.contains(" 1] COPY completed"), "{r}");
    let r = c.cmd("l", "STATUS Other (UIDNEXT)").await;
    assert_eq!(uidnext(&r), 2, "{r}");
    let r = c.cmd("m", "MOVE 2 Other").await;
    assert!(r.contains(" 2] Moved"), "{r}");
}

/// UTF8=ACCEPT (RFC 6855): once enabled, names go both ways in UTF-8; a
/// session that did not enable it still sees modified UTF-7; SEARCH takes
/// no CHARSET any more.
#[tokio::test]
async fn utf8_accept_names_folders_in_utf8() {
    let w = world("utf8", false).await;
    deliver(&w, MSG1).await;
    let mut a = logged_in(&w).await;
    let mut b = logged_in(&w).await;
    let r = a.cmd("c", "CAPABILITY").await;
    assert!(r.contains(" UTF8=ACCEPT"), "{r}");
    // before: an 8-bit name is not modified UTF-7
    let r = a.cmd("d", "CREATE \"Réunions\"").await;
    assert!(r.contains("d NO [CANNOT]"), "{r}");
    let r = a.cmd("e", "ENABLE UTF8=ACCEPT").await;
    assert!(r.contains("* ENABLED UTF8=ACCEPT"), "{r}");
    let r = a.cmd("f", "CREATE \"Réunions/Été\"").await;
    assert!(r.contains("f OK"), "{r}");
    let r = a.cmd("g", "LIST \"\" \"R*\"").await;
    assert!(r.contains("Réunions/Été"), "{r}");
    // "&" is a character like any other now
    let r = a.cmd("h", "CREATE \"Q&A\"").await;
    assert!(r.contains("h OK"), "{r}");
    let r = a.cmd("i", "COPY 1 \"Réunions/Été\"").await;
    assert!(r.contains("i BAD Select a mailbox first"), "{r}");
    a.cmd("j", "SELECT INBOX").await;
    let r = a.cmd("k", "COPY 1 \"Réunions/Été\"").await;
    assert!(r.contains("k OK [COPYUID "), "{r}");
    let r = a.cmd("l", "STATUS \"Réunions/Été\" (MESSAGES)").await;
    assert!(r.contains("MESSAGES 1"), "{r}");
    let r = a.cmd("m", "SEARCH CHARSET UTF-8 ALL").await;
    assert!(r.contains("m BAD"), "{r}");
    // the other session: the same folders in modified UTF-7
    let r = b.cmd("n", "LIST \"\" *").await;
    assert!(
        r.contains("\"/\" R&AOk-unions/&AMk-t&AOk-\r\n") && r.contains("\"/\" Q&-A\r\n"),
        "{r}"
    );
}

/// The webmail's drafts are the Drafts folder's: a session on Drafts sees
/// a webmail draft arrive as a `\Draft` message; a mail app replacing it
/// (APPEND the new version, expunge the old, as Thunderbird does) leaves
/// the webmail with the new version only.
#[tokio::test]
async fn webmail_drafts_are_seen_and_replaced_over_imap() {
    use crate::store::drafts::DraftRow;
    let w = world("folder-drafts", false).await;
    let mut c = logged_in(&w).await;
    c.cmd("a", "LIST \"\" *").await;
    let r = c.cmd("b", "SELECT Drafts").await;
    assert!(r.contains("* 0 EXISTS"), "{r}");
    let row = DraftRow {
        from: "alice@example.test".into(),
        to: "bob@example.test".into(),
        subject: "Plan".into(),
        body: "to finish".into(),
        mode: "new".into(),
        ..DraftRow::default()
    };
    let id = w.store.save_draft(w.alice, &row).await.unwrap();
    let d = crate::compose::Draft {
        from: row.from.clone(),
        to: row.to.clone(),
        subject: row.subject.clone(),
        body: row.body.clone(),
        ..Default::default()
    };
    let raw = crate::compose::build_draft(&d, "Alice", "mx.example.test");
    let key = crate::store::draft_mirror::mirror_key(&row, &[]);
    assert!(w.store.mirror_draft(w.alice, id, &raw, &key).await.unwrap());
    let r = c.cmd("c", "NOOP").await;
    assert!(r.contains("* 1 EXISTS"), "{r}");
    let r = c
        .cmd(
            "d",
            "UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
        )
        .await;
    assert!(r.contains("\\Draft") && r.contains("Subject: Plan"), "{r}");

    // the mail app saves its version and expunges the one it opened
    let msg =
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: Plan v2\r\n\r\nfinished\r\n";
    c.send(&format!(
        "e APPEND Drafts (\\Draft \\Seen) {{{}}}\r\n",
        msg.len()
    ))
    .await;
    c.read_until("+").await;
    c.send(&format!("{msg}\r\n")).await;
    let r = c.read_until("e ").await;
    assert!(r.contains("e OK"), "{r}");
    let r = c.cmd("f", "STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert!(r.contains("f OK"), "{r}");
    let r = c.cmd("g", "EXPUNGE").await;
    assert!(r.contains("* 1 EXPUNGE"), "{r}");
    let list = w.store.drafts(w.alice, 10).await.unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].subject, "Plan v2");
    let d = w.store.draft(w.alice, list[0].id).await.unwrap().unwrap();
    assert_eq!(
        (d.subject.as_str(), d.body.as_str()),
        ("Plan v2", "finished")
    );
}
