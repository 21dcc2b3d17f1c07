//! Retention: the archive keeps exactly its domain's days (89 kept, 91
//! gone, with a controllable clock), never what still waits for delivery,
//! takes the index, mailbox entries and tracking with it, works in batches,
//! and domains without the Continuity Service keep only what the queue needs.

use crate::common;

use std::time::Duration;

use server::config::TlsMode;
use server::directory::{RcptVerdict, RecipientPolicy};
use server::store::mailbox::{Folder, SearchQuery};
use server::store::retention::{Purged, DAY_MS};
use server::store::{
    now_ms, MessageId, NewMessage, NewRecipient, Origin, Outcome, Store, Summary, UserId,
};

async fn setup(tag: &str) -> Store {
    let dir = common::temp_dir(tag);
    let store = server::store::testing::open(&dir).await.expect("store");
    store
        .add_domain("example.test", "127.0.0.1", 9, TlsMode::None)
        .await
        .expect("domain");
    store
        .add_domain("short.test", "127.0.0.1", 9, TlsMode::None)
        .await
        .expect("domain");
    for a in ["alice@example.test", "sam@short.test"] {
        store.add_user(a, "", &[], "local").await.expect("user");
    }
    store
}

async fn ingest(store: &Store, rcpt: &str, subject: &str) -> MessageId {
    let snap = store.directory_snapshot().await.expect("snapshot");
    let RcptVerdict::Accept { domain, user } = snap.check(rcpt) else {
        panic!("{rcpt}");
    };
    let raw = format!("From: x@remote.test\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\nbody\r\n");
    store
        .ingest(NewMessage {
            origin: Origin::Smtp,
            mail_from: "x@remote.test".into(),
            client_ip: None,
            helo: None,
            tls: false,
            summary: Summary::parse(raw.as_bytes()),
            raw: raw.into_bytes(),
            recipients: vec![NewRecipient {
                rcpt: rcpt.into(),
                domain: Some(domain),
                user,
            }],
            in_reply_to: None,
            sign_as: None,
        })
        .await
        .expect("ingest")
}

/// Deliver everything due (as the queue would).
async fn deliver_all(store: &Store) {
    loop {
        let claims = store
            .claim_due("test", 500, now_ms() + 1)
            .await
            .expect("claim");
        if claims.is_empty() {
            return;
        }
        for c in claims {
            store
                .record_outcome(
                    &c,
                    Outcome::Delivered {
                        reply: "250 ok".into(),
                        remote: "primary".into(),
                    },
                )
                .await
                .expect("outcome");
        }
    }
}

async fn user(store: &Store, a: &str) -> UserId {
    store
        .account_by_address(a)
        .await
        .expect("q")
        .expect("user")
        .user
}

async fn purge_at(store: &Store, now: i64) -> Purged {
    server::archive::purge(store, now, 500, Duration::ZERO)
        .await
        .expect("purge")
}

#[tokio::test]
async fn the_archive_keeps_exactly_its_days_and_never_mail_still_waiting() {
    let store = setup("retention-boundary").await;
    let kept = ingest(&store, "alice@example.test", "quarterly figures").await;
    let short = ingest(&store, "sam@short.test", "short lived").await;
    deliver_all(&store).await;
    let waiting = ingest(&store, "alice@example.test", "still waiting").await;
    store
        .set_retention(
            store
                .domain_by_name("short.test")
                .await
                .expect("q")
                .expect("d")
                .id,
            30,
        )
        .await
        .expect("retention");
    let now = now_ms();

    // 29 days: nothing goes; 31: the 30-day domain's message goes
    assert_eq!(purge_at(&store, now + 29 * DAY_MS).await, Purged::default());
    let p = purge_at(&store, now + 31 * DAY_MS).await;
    assert_eq!(p.messages, 1);
    assert!(store.raw_message(short).await.expect("q").is_none());
    assert!(store.raw_message(kept).await.expect("q").is_some());

    // 89 days: kept; 91 days: gone with everything that points to it
    let preview = store
        .purge_preview(now + 89 * DAY_MS)
        .await
        .expect("preview");
    assert_eq!(preview.messages, 0);
    assert_eq!(purge_at(&store, now + 89 * DAY_MS).await.messages, 0);
    let alice = user(&store, "alice@example.test").await;
    // a draft not touched since: its message in Drafts stays with it
    let row = server::store::drafts::DraftRow {
        subject: "slow thoughts".into(),
        mode: "new".into(),
        ..Default::default()
    };
    let draft = store.save_draft(alice, &row).await.expect("draft");
    let raw = b"Subject: slow thoughts\r\n\r\nlater\r\n";
    assert!(store
        .mirror_draft(alice, draft, raw, b"k")
        .await
        .expect("mirror"));
    let found = |store: Store| async move {
        store
            .search(
                alice,
                &SearchQuery {
                    text: "quarterly".into(),
                    ..Default::default()
                },
                None,
                10,
            )
            .await
            .expect("search")
            .len()
    };
    assert_eq!(found(store.clone()).await, 1);
    assert_eq!(
        store
            .purge_preview(now + 91 * DAY_MS)
            .await
            .expect("preview")
            .messages,
        1,
        "the dry run counts what would go"
    );
    let p = purge_at(&store, now + 91 * DAY_MS).await;
    assert_eq!(p.messages, 1);
    assert!(store.raw_message(kept).await.expect("q").is_none());
    assert!(store.events_of(kept).await.expect("events").is_empty());
    assert!(store.deliveries_of(kept).await.expect("d").is_empty());
    assert_eq!(found(store.clone()).await, 0, "the index row went too");
    let inbox = store
        .mailbox_page(alice, Folder::Inbox, None, 10)
        .await
        .expect("page");
    assert_eq!(
        inbox.iter().map(|e| e.message).collect::<Vec<_>>(),
        [waiting],
        "mail still waiting for delivery is never purged"
    );
    assert!(store.raw_message(waiting).await.expect("q").is_some());
    assert!(store.draft(alice, draft).await.expect("q").is_some());
    let drafts = Folder::User(store.drafts_folder(alice).await.expect("q").expect("f"));
    assert_eq!(store.imap_entries(alice, drafts).await.expect("q").len(), 1);
    // every purge is logged with its counts
    let history = store.purge_history(10).await.expect("history");
    assert_eq!(history.len(), 4);
    assert_eq!(history[0].1.messages, 1);
}

#[tokio::test]
async fn large_purges_go_in_batches_and_domains_without_continuity_keep_only_what_the_queue_needs()
{
    let store = setup("retention-batches").await;
    for i in 0..1_200 {
        ingest(&store, "alice@example.test", &format!("bulk {i}")).await;
    }
    deliver_all(&store).await;
    let now = now_ms();
    let mut batches = 0;
    loop {
        let p = store
            .purge_batch(now + 91 * DAY_MS, 500)
            .await
            .expect("batch");
        if p == Purged::default() {
            break;
        }
        assert!(p.messages <= 500);
        batches += 1;
    }
    assert_eq!(batches, 3);

    // short.test without the Continuity Service: a day after its delivery
    // the body goes (tracking stays until the retention); pending mail stays
    let short = store
        .domain_by_name("short.test")
        .await
        .expect("q")
        .expect("d")
        .id;
    store
        .set_continuity_enabled(short, false, "test")
        .await
        .expect("disable");
    let done = ingest(&store, "sam@short.test", "delivered").await;
    deliver_all(&store).await;
    let pending = ingest(&store, "sam@short.test", "pending").await;
    assert_eq!(purge_at(&store, now_ms() + DAY_MS / 2).await.bodies, 0);
    let p = purge_at(&store, now_ms() + 2 * DAY_MS).await;
    assert_eq!((p.messages, p.bodies), (0, 1));
    assert!(store.raw_message(done).await.expect("q").is_none());
    assert!(!store.events_of(done).await.expect("events").is_empty());
    assert!(store.raw_message(pending).await.expect("q").is_some());
}
