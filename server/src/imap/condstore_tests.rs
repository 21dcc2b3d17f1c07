//! CONDSTORE and QRESYNC conversations (RFC 7162): a flag changed in the
//! webmail shows in another session's `FETCH … (CHANGEDSINCE n)` with its
//! MODSEQ; a conditional STORE leaves alone what changed after the
//! client's sequence; a mail app coming back with `SELECT … (QRESYNC …)`
//! learns in one round trip what vanished and what changed, also after
//! the store forgot removals that old; expunges reach a QRESYNC session as
//! VANISHED.

use super::test_world::{deliver, logged_in, world, Client, MSG1, MSG2};
use crate::store::imap::{FlagOp, Flags};
use crate::store::mailbox::Folder;

const MSG3: &str = "From: carol@remote.test\r\nTo: alice@example.test\r\nSubject: Third\r\n\
Message-ID: <c3@remote.test>\r\n\r\nThe third one.\r\n";

/// The number after `key` in the text (e.g. "HIGHESTMODSEQ 7").
fn number_after(text: &str, key: &str) -> u64 {
    let at = text.find(key).unwrap_or_else(|| panic!("{key} in {text}")) + key.len();
    text[at..]
        .trim_start_matches([' ', '('])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("a number after {key} in {text}"))
}

/// The UIDs a VANISHED line names (ranges expanded).
fn vanished(text: &str, earlier: bool) -> Vec<u32> {
    let prefix = if earlier {
        "* VANISHED (EARLIER) "
    } else {
        "* VANISHED "
    };
    let Some(line) = text
        .lines()
        .find(|l| l.starts_with(prefix) && (earlier || !l.starts_with("* VANISHED (EARLIER)")))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for part in line[prefix.len()..].trim().split(',') {
        match part.split_once(':') {
            Some((a, b)) => out.extend(a.parse::<u32>().unwrap()..=b.parse::<u32>().unwrap()),
            None => out.push(part.parse().unwrap()),
        }
    }
    out
}

async fn uids(c: &mut Client) -> Vec<u32> {
    let r = c.cmd("u", "UID SEARCH ALL").await;
    let line = r.lines().find(|l| l.starts_with("* SEARCH")).unwrap();
    line["* SEARCH".len()..]
        .split_whitespace()
        .map(|u| u.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn issue_16_condstore_flags_changed_elsewhere_and_conditional_store() {
    let w = world("condstore", false).await;
    deliver(&w, MSG1).await;
    deliver(&w, MSG2).await;
    let mut a = logged_in(&w).await;
    let r = a.cmd("c", "CAPABILITY").await;
    assert!(
        r.contains("CONDSTORE") && r.contains("QRESYNC") && r.contains("ENABLE"),
        "{r}"
    );
    let r = a.cmd("e", "ENABLE CONDSTORE").await;
    assert!(r.contains("* ENABLED CONDSTORE\r\n"), "{r}");
    let r = a.cmd("e2", "ENABLE CONDSTORE").await;
    assert!(r.contains("* ENABLED\r\n"), "once enabled, not again: {r}");
    let r = a.cmd("s", "SELECT INBOX").await;
    let n = number_after(&r, "HIGHESTMODSEQ");
    let uid = uids(&mut a).await;

    // the webmail reads the first message
    assert!(w
        .store
        .set_seen(w.alice, i64::from(uid[0]), true)
        .await
        .unwrap());
    let mut b = logged_in(&w).await;
    b.cmd("s", "SELECT INBOX").await;
    let r = b
        .cmd("f", &format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {n})"))
        .await;
    assert!(r.contains("* 1 FETCH (FLAGS (\\Seen) MODSEQ ("), "{r}");
    assert!(!r.contains("* 2 FETCH"), "only what changed: {r}");
    let m1 = number_after(&r, "MODSEQ");
    assert!(m1 > n, "{m1} > {n}");
    // the session that selected before learns it with the new MODSEQ
    let r = a.cmd("n", "NOOP").await;
    assert!(
        r.contains(&format!(
            "* 1 FETCH (FLAGS (\\Recent \\Seen) MODSEQ ({m1}))"
        )),
        "{r}"
    );

    // a conditional STORE: the message changed after n is left alone
    let r = a
        .cmd(
            "st",
            &format!("STORE 1:2 (UNCHANGEDSINCE {n}) +FLAGS (\\Flagged)"),
        )
        .await;
    assert!(r.contains("st OK [MODIFIED 1]"), "{r}");
    assert!(
        r.contains("* 2 FETCH (FLAGS (\\Recent \\Flagged) MODSEQ ("),
        "{r}"
    );
    let now = w.store.imap_entries(w.alice, Folder::Inbox).await.unwrap();
    assert!(!now[0].flags.flagged && now[1].flags.flagged, "{now:?}");
    // .SILENT still tells the new MODSEQ; UID STORE names UIDs
    let r = a
        .cmd(
            "st2",
            &format!(
                "UID STORE {} (UNCHANGEDSINCE {m1}) +FLAGS.SILENT (\\Answered)",
                uid[0]
            ),
        )
        .await;
    assert!(
        r.contains(&format!("* 1 FETCH (UID {} MODSEQ (", uid[0])) && !r.contains("FLAGS"),
        "{r}"
    );
    let r = a
        .cmd(
            "st3",
            &format!(
                "UID STORE {} (UNCHANGEDSINCE 1) -FLAGS (\\Answered)",
                uid[0]
            ),
        )
        .await;
    assert!(r.contains(&format!("st3 OK [MODIFIED {}]", uid[0])), "{r}");

    // SEARCH MODSEQ: what changed since, with the highest of them
    let r = a.cmd("se", &format!("SEARCH MODSEQ {}", n + 1)).await;
    let top = w
        .store
        .folder_state(w.alice, Folder::Inbox)
        .await
        .unwrap()
        .modseq;
    assert!(r.contains(&format!("* SEARCH 1 2 (MODSEQ {top})")), "{r}");
    let r = a.cmd("se2", &format!("SEARCH MODSEQ {}", top + 1)).await;
    assert!(r.contains("* SEARCH\r\n"), "{r}");
    let r = a.cmd("f2", "FETCH 2 (MODSEQ)").await;
    assert!(r.contains("* 2 FETCH (MODSEQ ("), "{r}");
    let r = a.cmd("st", "STATUS Sent (HIGHESTMODSEQ MESSAGES)").await;
    assert!(
        r.contains("HIGHESTMODSEQ ") && r.contains("MESSAGES 0"),
        "{r}"
    );
    // another SELECT closes the first mailbox with CLOSED
    let r = a.cmd("s2", "SELECT Sent").await;
    assert!(r.contains("* OK [CLOSED]"), "{r}");
}

#[tokio::test]
async fn issue_16_qresync_a_mail_app_resyncs_in_one_round_trip() {
    let w = world("qresync", false).await;
    deliver(&w, MSG1).await;
    deliver(&w, MSG2).await;
    deliver(&w, MSG3).await;
    let mut a = logged_in(&w).await;
    // QRESYNC without ENABLE is refused
    let r = a.cmd("x", "SELECT INBOX (QRESYNC (1 1))").await;
    assert!(r.contains("x BAD"), "{r}");
    let r = a.cmd("e", "ENABLE QRESYNC").await;
    assert!(r.contains("* ENABLED QRESYNC"), "{r}");
    let r = a.cmd("s", "SELECT INBOX").await;
    let validity = number_after(&r, "UIDVALIDITY");
    let n = number_after(&r, "HIGHESTMODSEQ");
    let uid = uids(&mut a).await;
    a.cmd("o", "LOGOUT").await;

    // while the app is away: the webmail reads the first, trashes the second
    w.store
        .set_seen(w.alice, i64::from(uid[0]), true)
        .await
        .unwrap();
    w.store
        .move_entry(w.alice, i64::from(uid[1]), Folder::Trash)
        .await
        .unwrap();

    let mut b = logged_in(&w).await;
    b.cmd("e", "ENABLE QRESYNC").await;
    let known = format!("{}:{}", uid[0], uid[2]);
    let r = b
        .cmd(
            "s",
            &format!("SELECT INBOX (QRESYNC ({validity} {n} {known}))"),
        )
        .await;
    assert_eq!(vanished(&r, true), [uid[1]], "{r}");
    assert!(
        r.contains(&format!(
            "* 1 FETCH (UID {} FLAGS (\\Seen) MODSEQ (",
            uid[0]
        )),
        "{r}"
    );
    assert!(!r.contains("* 2 FETCH"), "unchanged: {r}");
    // a stale UIDVALIDITY: nothing but the plain SELECT
    let r = b
        .cmd(
            "s2",
            &format!("SELECT INBOX (QRESYNC ({} {n}))", validity + 1),
        )
        .await;
    assert!(!r.contains("VANISHED") && !r.contains("FETCH"), "{r}");
    // the same through UID FETCH … (CHANGEDSINCE n VANISHED)
    let r = b
        .cmd(
            "f",
            &format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {n} VANISHED)"),
        )
        .await;
    assert_eq!(vanished(&r, true), [uid[1]], "{r}");
    assert!(
        r.contains(&format!("FETCH (UID {} FLAGS (\\Seen) MODSEQ", uid[0])),
        "{r}"
    );
    let r = b
        .cmd(
            "f2",
            &format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {n} VANISHED)"),
        )
        .await;
    assert!(r.contains("f2 BAD"), "VANISHED needs UID FETCH: {r}");

    // an expunge elsewhere reaches the QRESYNC session as VANISHED
    w.store
        .imap_store_flags(
            w.alice,
            Folder::Inbox,
            &[uid[2]],
            FlagOp::Add,
            Flags {
                deleted: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    w.store
        .imap_expunge(w.alice, Folder::Inbox, None)
        .await
        .unwrap();
    let r = b.cmd("n", "NOOP").await;
    assert_eq!(vanished(&r, false), [uid[2]], "{r}");
    assert!(!r.contains("EXPUNGE"), "{r}");

    // removals forgotten (older than the store keeps them): the app
    // still learns every UID it knew that is gone
    w.store
        .prune_vanished(crate::store::now_ms() + 1)
        .await
        .unwrap();
    let mut c = logged_in(&w).await;
    c.cmd("e", "ENABLE QRESYNC").await;
    let r = c
        .cmd(
            "s",
            &format!("SELECT INBOX (QRESYNC ({validity} {n} {known}))"),
        )
        .await;
    let gone = vanished(&r, true);
    assert!(
        gone.contains(&uid[1]) && gone.contains(&uid[2]) && !gone.contains(&uid[0]),
        "{r}"
    );
    let r = c
        .cmd(
            "f",
            &format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {n} VANISHED)"),
        )
        .await;
    let gone = vanished(&r, true);
    assert!(
        gone.contains(&uid[1]) && gone.contains(&uid[2]) && !gone.contains(&uid[0]),
        "{r}"
    );
}
