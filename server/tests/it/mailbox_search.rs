//! The mailbox model and search, against a real store: keyset paging
//! (nothing skipped, nothing twice), counts, read state, and FTS5 search
//! kept in step with ingest — including hostile query text.

use crate::common;

use server::config::TlsMode;
use server::directory::{RcptVerdict, RecipientPolicy};
use server::store::mailbox::{Folder, SearchQuery};
use server::store::{NewMessage, NewRecipient, Origin, Store, Summary, UserId};

async fn store_with_users(tag: &str) -> (Store, UserId, UserId) {
    let dir = common::temp_dir(tag);
    let store = server::store::testing::open(&dir).await.expect("store");
    store
        .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
        .await
        .expect("domain");
    let alice = store
        .add_user(
            "alice@example.test",
            "Alice",
            &["am@example.test".into()],
            "local",
        )
        .await
        .expect("alice")
        .id;
    let bob = store
        .add_user("bob@example.test", "Bob", &[], "local")
        .await
        .expect("bob")
        .id;
    (store, alice, bob)
}

async fn deliver(store: &Store, rcpts: &[&str], raw: String) {
    let snap = store.directory_snapshot().await.expect("snap");
    let recipients = rcpts
        .iter()
        .map(|r| match snap.check(r) {
            RcptVerdict::Accept { domain, user } => NewRecipient {
                rcpt: r.to_string(),
                domain: Some(domain),
                user,
            },
            other => panic!("{r}: {other:?}"),
        })
        .collect();
    let raw = raw.into_bytes();
    store
        .ingest(NewMessage {
            origin: Origin::Smtp,
            mail_from: "s@remote.test".into(),
            client_ip: None,
            helo: None,
            tls: false,
            summary: Summary::parse(&raw),
            raw,
            recipients,
            in_reply_to: None,
            sign_as: None,
        })
        .await
        .expect("ingest");
}

fn mail(from: &str, to: &str, subject: &str, body: &str) -> String {
    format!("From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}\r\n")
}

#[tokio::test]
async fn folder_pages_walk_every_message_once_newest_first() {
    let (store, alice, bob) = store_with_users("pages").await;
    for i in 0..120 {
        deliver(
            &store,
            &["alice@example.test"],
            mail("x@remote.test", "alice@example.test", &format!("n{i}"), "b"),
        )
        .await;
    }
    // a message to two of alice's addresses is one entry
    deliver(
        &store,
        &["alice@example.test", "am@example.test", "bob@example.test"],
        mail("x@remote.test", "alice@example.test", "both", "b"),
    )
    .await;
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .mailbox_page(alice, Folder::Inbox, cursor, 50)
            .await
            .expect("page");
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(|e| e.list_cursor());
        seen.extend(page.into_iter().map(|e| (e.received_at, e.id, e.subject)));
    }
    assert_eq!(seen.len(), 121);
    assert_eq!(seen[0].2, "both");
    assert_eq!(seen[120].2, "n0");
    let mut sorted = seen.clone();
    sorted.sort_by_key(|s| std::cmp::Reverse((s.0, s.1)));
    assert_eq!(seen, sorted, "newest first");
    let ids: std::collections::HashSet<_> = seen.iter().map(|s| s.1).collect();
    assert_eq!(ids.len(), 121, "no entry twice");

    let c = store.folder_counts(alice).await.expect("counts");
    assert_eq!((c.inbox, c.inbox_unseen, c.sent), (121, 121, 0));
    assert_eq!(store.folder_counts(bob).await.expect("counts").inbox, 1);
    let first = seen[0].1;
    assert!(store.set_seen(alice, first, true).await.expect("seen"));
    assert_eq!(
        store
            .folder_counts(alice)
            .await
            .expect("counts")
            .inbox_unseen,
        120
    );
    assert!(!store.set_seen(bob, first, true).await.expect("not bob's"));
}

#[tokio::test]
async fn search_finds_words_senders_subjects_and_respects_owners() {
    let (store, alice, bob) = store_with_users("search").await;
    deliver(
        &store,
        &["alice@example.test"],
        mail(
            "Paul <paul@remote.test>",
            "alice@example.test",
            "Réunion de lundi",
            "La réunion est déplacée, apportez le quokka.",
        ),
    )
    .await;
    deliver(
        &store,
        &["alice@example.test"],
        String::from(
            "From: billing@shop.test\r\nTo: alice@example.test\r\nSubject: Invoice 42\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
             --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=facture-octobre.pdf\r\n\r\nxx\r\n--b--\r\n",
        ),
    )
    .await;
    // strictly between the two batches (a commit can share t_mid's millisecond)
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let t_mid = server::store::now_ms();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    deliver(
        &store,
        &["bob@example.test"],
        mail(
            "paul@remote.test",
            "bob@example.test",
            "Quokka for Bob",
            "quokka quokka",
        ),
    )
    .await;

    let find = |q: SearchQuery, user: UserId| {
        let store = store.clone();
        async move {
            store
                .search(user, &q, None, 50)
                .await
                .expect("search")
                .into_iter()
                .map(|e| e.subject)
                .collect::<Vec<_>>()
        }
    };
    let words = |w: &str| SearchQuery {
        text: w.into(),
        ..SearchQuery::default()
    };
    assert_eq!(find(words("quokka"), alice).await, vec!["Réunion de lundi"]);
    assert_eq!(
        find(words("quok"), alice).await,
        vec!["Réunion de lundi"],
        "prefix"
    );
    assert_eq!(
        find(words("reunion"), alice).await,
        vec!["Réunion de lundi"],
        "accents"
    );
    assert_eq!(
        find(words("facture"), alice).await,
        vec!["Invoice 42"],
        "attachment names"
    );
    assert_eq!(
        find(words("quokka"), bob).await,
        vec!["Quokka for Bob"],
        "owners only"
    );
    assert_eq!(
        find(
            SearchQuery {
                from: "paul".into(),
                ..SearchQuery::default()
            },
            alice
        )
        .await,
        vec!["Réunion de lundi"]
    );
    assert_eq!(
        find(
            SearchQuery {
                subject: "invoice".into(),
                ..SearchQuery::default()
            },
            alice
        )
        .await,
        vec!["Invoice 42"]
    );
    assert!(
        find(
            SearchQuery {
                subject: "quokka".into(),
                ..SearchQuery::default()
            },
            alice
        )
        .await
        .is_empty(),
        "the word is in the body, not the subject"
    );
    assert_eq!(
        find(
            SearchQuery {
                has_attachment: true,
                ..SearchQuery::default()
            },
            alice
        )
        .await,
        vec!["Invoice 42"]
    );
    assert_eq!(
        find(
            SearchQuery {
                text: "see".into(),
                has_attachment: true,
                ..SearchQuery::default()
            },
            alice
        )
        .await,
        vec!["Invoice 42"]
    );
    assert_eq!(
        find(
            SearchQuery {
                since: Some(t_mid),
                ..SearchQuery::default()
            },
            alice
        )
        .await
        .len(),
        0
    );
    assert_eq!(
        find(
            SearchQuery {
                until: Some(t_mid + 1),
                ..SearchQuery::default()
            },
            alice
        )
        .await
        .len(),
        2
    );
    assert_eq!(
        find(
            SearchQuery {
                since: Some(t_mid),
                ..SearchQuery::default()
            },
            bob
        )
        .await
        .len(),
        1
    );
    assert!(find(
        SearchQuery {
            folder: Some(Folder::Sent),
            ..SearchQuery::default()
        },
        alice
    )
    .await
    .is_empty());

    // FTS syntax in what users type is just text: no error, no injection
    for hostile in [
        "\"",
        "quokka\" OR \"x",
        "NEAR(a b)",
        "*",
        "-quokka",
        "a:b",
        "^x",
        "(",
        "AND",
        "sender:paul",
        "\u{0}",
    ] {
        let r = store.search(alice, &words(hostile), None, 50).await;
        assert!(r.is_ok(), "{hostile:?}: {r:?}");
    }
    assert_eq!(find(words("quokka\" OR \"invoice"), alice).await.len(), 0);
}

#[tokio::test]
async fn word_search_pages_through_many_results() {
    let (store, alice, _) = store_with_users("search-pages").await;
    for i in 0..130 {
        deliver(
            &store,
            &["alice@example.test"],
            mail(
                "x@remote.test",
                "alice@example.test",
                &format!("status {i}"),
                "nightly backup report",
            ),
        )
        .await;
    }
    let q = SearchQuery {
        text: "backup".into(),
        ..SearchQuery::default()
    };
    let mut cursor = None;
    let mut ids = Vec::new();
    loop {
        let page = store.search(alice, &q, cursor, 50).await.expect("search");
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(|e| e.search_cursor());
        ids.extend(page.iter().map(|e| e.id));
    }
    assert_eq!(ids.len(), 130);
    let mut dedup = ids.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 130);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
}

/// A word in more than a thousand messages, mail arriving from many
/// sessions at once (two writers on PostgreSQL): every page newest first,
/// nothing lost or repeated, only the user's own, on both backends.
#[tokio::test]
async fn a_frequent_word_pages_through_more_than_a_thousand_results() {
    let (store, alice, bob) = store_with_users("search-frequent").await;
    for chunk in 0..24 {
        let mut all = Vec::new();
        for i in 0..50 {
            let n = chunk * 50 + i;
            let (to, body) = if n % 40 == 0 {
                ("bob@example.test", "weekly backup digest")
            } else {
                ("alice@example.test", "nightly backup report")
            };
            let store = store.clone();
            all.push(tokio::spawn(async move {
                deliver(
                    &store,
                    &[to],
                    mail("x@remote.test", to, &format!("status {n}"), body),
                )
                .await
            }));
        }
        for t in all {
            t.await.expect("delivered");
        }
    }
    let q = SearchQuery {
        text: "backup".into(),
        ..SearchQuery::default()
    };
    for (user, expected) in [(alice, 1170), (bob, 30)] {
        let mut cursor = None;
        let mut ids = Vec::new();
        loop {
            let page = store.search(user, &q, cursor, 50).await.expect("search");
            if page.is_empty() {
                break;
            }
            cursor = page.last().map(|e| e.search_cursor());
            // newest message first (entry ids follow the filing order,
            // which two writers may interleave)
            ids.extend(page.iter().map(|e| e.message));
        }
        assert_eq!(ids.len(), expected);
        let mut dedup = ids.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), expected);
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    }
    // a word nobody has: nothing, at once
    let none = SearchQuery {
        text: "zanzibar".into(),
        ..SearchQuery::default()
    };
    assert!(store
        .search(alice, &none, None, 50)
        .await
        .expect("search")
        .is_empty());
}
