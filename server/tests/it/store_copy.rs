//! `continuity store copy`: a SQLite installation into PostgreSQL — every
//! message byte for byte, the mailbox with its UIDs, UIDVALIDITY and flags,
//! search working there, new ids after the copied ones; interrupted and
//! resumed; a node refuses the database while the copy is unfinished; a
//! database already in use is refused. Runs when the suite has a
//! PostgreSQL server (CONTINUITY_TEST_POSTGRES).

use crate::common;

use server::config::{StoreUrl, TlsMode};
use server::store::copy::{copy, Copied, CopyOptions};
use server::store::mailbox::{Folder, SearchQuery};
use server::store::{NewMessage, NewRecipient, Origin, Store, Summary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_installation_moves_to_postgres_whole() {
    let target_dir = common::temp_dir("copy-to");
    let StoreUrl::Postgres(to) = server::store::testing::url(&target_dir) else {
        return; // no PostgreSQL server for this run
    };
    let dir = common::temp_dir("copy-from");
    let src = Store::open(&dir.join("continuity.db"))
        .await
        .expect("sqlite");
    let domain = src
        .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
        .await
        .expect("domain")
        .id;
    let alice = src
        .add_user(
            "alice@example.test",
            "Alice",
            &["a.m@example.test".into()],
            "local",
        )
        .await
        .expect("alice")
        .id;
    for i in 0..40 {
        let raw = format!(
            "From: Zoë <z{i}@remote.test>\r\nTo: alice@example.test\r\nSubject: quarterly {i}\r\n\
             Message-ID: <copy-{i}@remote.test>\r\n\r\nbody {i} with kumquat\r\n\0binary"
        );
        let mut raw = raw.into_bytes();
        raw.push(0xfe);
        src.ingest(NewMessage {
            origin: Origin::Smtp,
            mail_from: "z@remote.test".into(),
            client_ip: Some("192.0.2.1".into()),
            helo: None,
            tls: false,
            summary: Summary::parse(&raw),
            raw,
            recipients: vec![NewRecipient {
                rcpt: "alice@example.test".into(),
                domain: Some(domain),
                user: Some(alice),
            }],
            in_reply_to: None,
            sign_as: None,
        })
        .await
        .expect("ingest");
    }
    let before = src
        .imap_entries(alice, Folder::Inbox)
        .await
        .expect("entries");
    for e in before.iter().step_by(3) {
        src.set_seen(alice, i64::from(e.uid), true)
            .await
            .expect("seen");
    }
    src.flush().await.expect("flush");
    let before = src
        .imap_entries(alice, Folder::Inbox)
        .await
        .expect("entries");
    let validity = src.imap_uid_validity().await.expect("validity");

    // interrupted after a few chunks: the database is refused meanwhile
    let small = CopyOptions {
        chunk: 7,
        stop_after: Some(6),
        ..CopyOptions::default()
    };
    let mut seen = Vec::new();
    let r = copy(&src, &to, &small, &mut |t, _, _| seen.push(t.to_string()))
        .await
        .expect("first part");
    assert_eq!(r, Copied::Interrupted);
    let refused = Store::open_postgres(&to, 2).await;
    assert!(
        matches!(&refused, Err(e) if e.to_string().contains("unfinished")),
        "a node must not start on a half-copied database"
    );
    // resumed to the end, verified
    let rest = CopyOptions {
        chunk: 7,
        ..CopyOptions::default()
    };
    let Copied::Done(counts) = copy(&src, &to, &rest, &mut |_, _, _| {})
        .await
        .expect("resumed")
    else {
        panic!("not finished");
    };
    assert_eq!(counts.get("messages"), Some(&40));
    assert_eq!(counts.get("message_blobs"), Some(&40));
    assert_eq!(counts.get("mailbox"), Some(&40));
    assert_eq!(counts.get("user_aliases"), Some(&1));

    let dst = Store::open_postgres(&to, 2).await.expect("the copy opens");
    assert_eq!(dst.imap_uid_validity().await.expect("validity"), validity);
    let after = dst
        .imap_entries(alice, Folder::Inbox)
        .await
        .expect("entries");
    assert_eq!(after, before, "UIDs, flags and modification sequences kept");
    for e in &after {
        assert_eq!(
            dst.raw_message(e.message).await.expect("raw"),
            src.raw_message(e.message).await.expect("raw"),
            "byte for byte"
        );
    }
    let found = dst
        .search(
            alice,
            &SearchQuery {
                text: "kumquat".into(),
                ..SearchQuery::default()
            },
            None,
            100,
        )
        .await
        .expect("search");
    assert_eq!(found.len(), 40, "searchable on PostgreSQL");
    // new mail takes ids and UIDs after the copied ones
    let raw =
        b"From: x@remote.test\r\nTo: alice@example.test\r\nSubject: new\r\n\r\nnew\r\n".to_vec();
    let id = dst
        .ingest(NewMessage {
            origin: Origin::Smtp,
            mail_from: "x@remote.test".into(),
            client_ip: None,
            helo: None,
            tls: false,
            summary: Summary::parse(&raw),
            raw,
            recipients: vec![NewRecipient {
                rcpt: "alice@example.test".into(),
                domain: Some(domain),
                user: Some(alice),
            }],
            in_reply_to: None,
            sign_as: None,
        })
        .await
        .expect("new mail");
    assert!(after.iter().all(|e| e.message.0 < id.0));
    let now = dst
        .imap_entries(alice, Folder::Inbox)
        .await
        .expect("entries");
    let newest = now.iter().map(|e| e.uid).max().expect("uid");
    assert!(before.iter().all(|e| e.uid < newest), "UIDs go on upwards");
    assert_eq!(now.len(), 41);

    // a database in use is never copied into
    let again = copy(&src, &to, &rest, &mut |_, _, _| {}).await;
    assert!(
        matches!(&again, Err(e) if e.to_string().contains("already holds")),
        "{again:?}"
    );
}
