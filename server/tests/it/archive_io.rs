//! Archive import and export: mbox (with "From " quoting), Maildir and
//! .eml folders into a user's archive, idempotent by Message-ID and by
//! content; searchable at once; never sent to the primary; exported as an
//! mbox that imports back as duplicates only.

use crate::common;

use server::archive::io::{export, import, ImportSummary};
use server::config::TlsMode;
use server::store::mailbox::{Folder, SearchQuery};
use server::store::{now_ms, Store};

const MBOX: &str = "From cfo@remote.test Tue Nov 14 22:13:20 2023\n\
Message-ID: <one@remote.test>\n\
From: CFO <cfo@remote.test>\n\
To: alice@example.test\n\
Subject: Quarterly figures\n\
\n\
>From the board: the figures are in.\n\
\n\
From bob@example.test Wed Nov 15 08:00:00 2023\n\
From: Bob <bob@example.test>\n\
To: alice@example.test\n\
Subject: no message id here\n\
\n\
lunch?\n\
\n\
From alice@example.test Wed Nov 15 09:00:00 2023\n\
Message-ID: <three@example.test>\n\
From: Alice <alice@example.test>\n\
To: bob@example.test\n\
Subject: Re: no message id here\n\
\n\
yes, noon\n";

async fn setup(tag: &str) -> (Store, std::path::PathBuf, server::store::UserId) {
    let dir = common::temp_dir(tag);
    let store = server::store::testing::open(&dir).await.expect("store");
    store
        .add_domain("example.test", "127.0.0.1", 9, TlsMode::None)
        .await
        .expect("domain");
    store
        .add_user("alice@example.test", "Alice", &[], "local")
        .await
        .expect("alice");
    let alice = store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("a")
        .user;
    (store, dir, alice)
}

#[tokio::test]
async fn mbox_maildir_and_eml_import_once_and_export_round_trips() {
    let (store, dir, alice) = setup("archive-io").await;
    let mbox = dir.join("old.mbox");
    std::fs::write(&mbox, MBOX).expect("write");
    let s = import(&store, alice, &mbox).await.expect("import");
    assert_eq!(
        s,
        ImportSummary {
            added: 3,
            duplicates: 0,
            failed: 0
        }
    );
    // the same file again: nothing new
    let s = import(&store, alice, &mbox).await.expect("import");
    assert_eq!((s.added, s.duplicates), (0, 3));

    // Inbox and Sent, dated from the mbox, searchable, never queued
    let inbox = store
        .mailbox_page(alice, Folder::Inbox, None, 10)
        .await
        .expect("inbox");
    let sent = store
        .mailbox_page(alice, Folder::Sent, None, 10)
        .await
        .expect("sent");
    assert_eq!((inbox.len(), sent.len()), (2, 1));
    assert!(inbox.iter().all(|e| e.received_at < now_ms() - 86_400_000));
    let found = store
        .search(
            alice,
            &SearchQuery {
                text: "board".into(),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    let raw = store
        .raw_message(found[0].message)
        .await
        .expect("q")
        .expect("raw");
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains("\nFrom the board"),
        "the quoting is undone: {text}"
    );
    assert!(
        text.ends_with("are in.\n"),
        "the separator line is not kept: {text:?}"
    );
    assert!(store
        .claim_due("test", 10, now_ms() + 1)
        .await
        .expect("claim")
        .is_empty());

    // a Maildir with one known message (by Message-ID) and a new one in a subfolder
    let md = dir.join("Maildir");
    for sub in [
        "cur",
        "new",
        "tmp",
        ".Archive/cur",
        ".Archive/new",
        ".Archive/tmp",
    ] {
        std::fs::create_dir_all(md.join(sub)).expect("mkdir");
    }
    std::fs::write(
        md.join("cur/1.host:2,S"),
        "Message-ID: <one@remote.test>\r\nSubject: Quarterly figures (copy)\r\n\r\nx\r\n",
    )
    .expect("w");
    std::fs::write(
        md.join(".Archive/new/2.host"),
        "Message-ID: <four@remote.test>\r\nFrom: x@remote.test\r\nSubject: archived\r\n\r\ny\r\n",
    )
    .expect("w");
    let s = import(&store, alice, &md).await.expect("import");
    assert_eq!((s.added, s.duplicates), (1, 1));

    // a folder of .eml files (recursive; other files ignored), and one file
    let eml = dir.join("eml");
    std::fs::create_dir_all(eml.join("deep")).expect("mkdir");
    std::fs::write(
        eml.join("deep/a.eml"),
        "Subject: loose file\r\n\r\nno id\r\n",
    )
    .expect("w");
    std::fs::write(eml.join("notes.txt"), "not mail").expect("w");
    let s = import(&store, alice, &eml).await.expect("import");
    assert_eq!((s.added, s.duplicates), (1, 0));
    let s = import(&store, alice, &eml.join("deep/a.eml"))
        .await
        .expect("import");
    assert_eq!(
        (s.added, s.duplicates),
        (0, 1),
        "same content, no Message-ID"
    );

    // export: every message once; importing the export adds nothing
    let mut out = Vec::new();
    let n = export(&store, alice, &mut out).await.expect("export");
    assert_eq!(n, 5);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text.matches("\nFrom ").count() + 1, 5, "{text}");
    assert!(
        text.contains("\n>From the board"),
        "quoted again for mboxrd"
    );
    let back = dir.join("export.mbox");
    std::fs::write(&back, &out).expect("w");
    let s = import(&store, alice, &back).await.expect("import");
    assert_eq!((s.added, s.duplicates), (0, 5));

    // what cannot be read is an error, not a silent nothing
    assert!(import(&store, alice, &dir.join("missing.mbox"))
        .await
        .is_err());
}
