//! Trash over IMAP (`\Trash`, RFC 6154): what a mail app does when the
//! user deletes a message — MOVE to Trash, a new UID there, the old one
//! expunged — then restored by moving it back, and emptied by expunging;
//! the webmail sees the same folder.

use super::test_world::{deliver, logged_in, world, MSG1, MSG2};
use crate::store::mailbox::Folder;

#[tokio::test]
async fn a_mail_app_deletes_to_trash_restores_and_empties_it() {
    let w = world("trash", false).await;
    deliver(&w, MSG1).await;
    deliver(&w, MSG2).await;
    let mut c = logged_in(&w).await;
    let r = c.cmd("a", "LIST \"\" *").await;
    assert!(
        r.contains("(\\HasNoChildren \\Trash) \"/\" Trash\r\n"),
        "{r}"
    );
    let r = c.cmd("a2", "LIST \"\" \"T%\"").await;
    assert!(r.contains("Trash") && !r.contains("INBOX"), "{r}");
    let inbox = w.store.imap_entries(w.alice, Folder::Inbox).await.unwrap();
    c.cmd("s", "SELECT INBOX").await;
    let r = c.cmd("b", "STORE 1 +FLAGS.SILENT (\\Flagged)").await;
    assert!(r.contains("b OK"), "{r}");
    let row_in = w
        .store
        .imap_row(w.alice, Folder::Inbox, inbox[0].uid)
        .await
        .unwrap();
    assert!(row_in.is_some());
    let r = c.cmd("c", "MOVE 1 Trash").await;
    assert!(
        r.contains("* OK [COPYUID ") && r.contains("* 1 EXPUNGE"),
        "{r}"
    );
    let trash = w.store.imap_entries(w.alice, Folder::Trash).await.unwrap();
    assert_eq!(trash.len(), 1);
    let (row_in, row_out) = (
        w.store
            .imap_row(w.alice, Folder::Inbox, inbox[0].uid)
            .await
            .unwrap(),
        w.store
            .imap_row(w.alice, Folder::Trash, trash[0].uid)
            .await
            .unwrap(),
    );
    assert!(row_out > row_in, "a new row: {row_in:?} {row_out:?}");
    assert!(trash[0].flags.flagged, "flags kept");
    // the webmail sees it in its trash, and would restore it to the Inbox
    let counts = w.store.folder_counts(w.alice).await.unwrap();
    assert_eq!((counts.inbox, counts.trash), (1, 1));
    assert_eq!(
        w.store
            .trashed_from(w.alice, row_out.expect("the trash row"))
            .await
            .unwrap(),
        Some(Folder::Inbox)
    );
    let r = c.cmd("d", "STATUS Trash (MESSAGES UIDNEXT)").await;
    assert!(r.contains("MESSAGES 1"), "{r}");
    // back to the Inbox from the Trash
    c.cmd("e", "SELECT Trash").await;
    let r = c.cmd("f", "UID MOVE 1:* INBOX").await;
    assert!(r.contains("* 1 EXPUNGE") && r.contains("f OK"), "{r}");
    let r = c.cmd("g", "STATUS INBOX (MESSAGES)").await;
    assert!(r.contains("MESSAGES 2"), "{r}");
    // delete again and empty the trash the IMAP way
    c.cmd("h", "SELECT INBOX").await;
    c.cmd("i", "MOVE 1:* Trash").await;
    c.cmd("j", "SELECT Trash").await;
    let r = c.cmd("k", "STORE 1:* +FLAGS.SILENT (\\Deleted)").await;
    assert!(r.contains("k OK"), "{r}");
    let r = c.cmd("l", "EXPUNGE").await;
    assert!(r.matches("EXPUNGE\r\n").count() >= 2, "{r}");
    let counts = w.store.folder_counts(w.alice).await.unwrap();
    assert_eq!((counts.inbox, counts.trash), (0, 0));
}
