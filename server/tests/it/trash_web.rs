//! The webmail's trash, tried by its user and by others: a message moved
//! to the trash (a new entry; the old address gone), listed and counted
//! there, restored where it was (a sent message to Sent), deleted for good
//! and the trash emptied — only mailbox rows: the archive keeps the
//! message. Someone else's message, a forged token, no session: refused,
//! nothing moved.

use crate::common;

use actix_web::cookie::Cookie;
use actix_web::test::{self, TestRequest};
use common::mailuser::{app, body_text, location, session_of, setup};
use server::store::mailbox::Folder;

#[actix_web::test]
async fn delete_restore_and_empty_the_trash() {
    let s = setup("trash-web").await;
    let svc = app(&s).await;
    let (cookie, csrf) = session_of(&s, &svc, "alice@example.test").await;
    let (bob_cookie, bob_csrf) = session_of(&s, &svc, "bob@example.test").await;
    let alice = s
        .store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("alice")
        .user;
    let post = |uri: String, cookie: &str, csrf: &str| {
        TestRequest::post()
            .uri(&uri)
            .cookie(Cookie::new("continuity", cookie.to_string()))
            .set_form([("csrf", csrf)])
            .to_request()
    };
    let get = |uri: &str, cookie: &str| {
        TestRequest::get()
            .uri(uri)
            .cookie(Cookie::new("continuity", cookie.to_string()))
            .insert_header(("accept", "text/html"))
            .insert_header(("accept-language", "fr"))
            .to_request()
    };
    let inbox = s.alice_mail;

    // others cannot touch it: bob, a forged token, no session
    let r = test::call_service(
        &svc,
        post(format!("/mail/m/{inbox}/trash"), &bob_cookie, &bob_csrf),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = test::call_service(
        &svc,
        post(format!("/mail/m/{inbox}/trash"), &cookie, "forged"),
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = test::call_service(
        &svc,
        TestRequest::post()
            .uri(&format!("/mail/m/{inbox}/trash"))
            .set_form([("csrf", csrf.as_str())])
            .to_request(),
    )
    .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    // and alice cannot empty bob's trash or restore his mail
    let r = test::call_service(
        &svc,
        post(format!("/mail/m/{}/restore", s.bob_mail), &cookie, &csrf),
    )
    .await;
    assert_eq!(r.status(), 404);
    assert!(s
        .store
        .mailbox_entry(alice, inbox)
        .await
        .expect("q")
        .is_some());

    // to the trash: the old entry is gone, a new one in the trash
    let r = test::call_service(&svc, post(format!("/mail/m/{inbox}/trash"), &cookie, &csrf)).await;
    assert_eq!(location(&r), "/mail/inbox?done=trashed");
    assert!(s
        .store
        .mailbox_entry(alice, inbox)
        .await
        .expect("q")
        .is_none());
    let trash = s
        .store
        .mailbox_page(alice, Folder::Trash, None, 10)
        .await
        .expect("page");
    assert_eq!(trash.len(), 1);
    let trashed = trash[0].id;
    assert!(trashed > inbox);
    let counts = s.store.folder_counts(alice).await.expect("counts");
    assert_eq!((counts.inbox, counts.trash), (0, 1));
    // the reader's old address is not found; the trash lists it (French UI)
    let r = test::call_service(&svc, get(&format!("/mail/m/{inbox}"), &cookie)).await;
    assert_eq!(r.status(), 404);
    let page = body_text(test::call_service(&svc, get("/mail/trash", &cookie)).await)
        .await
        .replace("<!>", "");
    assert!(page.contains("Corbeille"), "{page}");
    assert!(page.contains("Hostile"), "{page}");
    assert!(page.contains("Vider la corbeille"), "{page}");
    let page =
        body_text(test::call_service(&svc, get(&format!("/mail/m/{trashed}"), &cookie)).await)
            .await
            .replace("<!>", "");
    assert!(
        page.contains("Restaurer") && page.contains("Supprimer définitivement"),
        "{page}"
    );
    // the archive still has the message: search finds it
    let found = s
        .store
        .search(alice, &Default::default(), None, 10)
        .await
        .expect("search");
    assert!(found.iter().any(|e| e.id == trashed));

    // restored to the Inbox
    let r = test::call_service(
        &svc,
        post(format!("/mail/m/{trashed}/restore"), &cookie, &csrf),
    )
    .await;
    assert_eq!(location(&r), "/mail/trash?done=restored");
    let back = s
        .store
        .mailbox_page(alice, Folder::Inbox, None, 10)
        .await
        .expect("page");
    assert_eq!(back.len(), 1);
    assert!(back[0].id > trashed, "a new entry again");
    // restoring what is not in the trash: not found
    let r = test::call_service(
        &svc,
        post(format!("/mail/m/{}/restore", back[0].id), &cookie, &csrf),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = test::call_service(
        &svc,
        post(format!("/mail/m/{}/delete", back[0].id), &cookie, &csrf),
    )
    .await;
    assert_eq!(r.status(), 404, "deleting for good only from the trash");

    // a message she sent goes back to Sent
    let sent = s
        .store
        .imap_append(alice, Folder::Sent, b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: Mine\r\nMessage-ID: <mine@example.test>\r\n\r\nhi\r\n", Default::default(), None)
        .await
        .expect("append");
    let sent = s
        .store
        .imap_row(alice, Folder::Sent, sent)
        .await
        .unwrap()
        .expect("the row");
    let r = test::call_service(&svc, post(format!("/mail/m/{sent}/trash"), &cookie, &csrf)).await;
    assert_eq!(location(&r), "/mail/sent?done=trashed");
    let t = s
        .store
        .mailbox_page(alice, Folder::Trash, None, 10)
        .await
        .expect("page");
    let r = test::call_service(
        &svc,
        post(format!("/mail/m/{}/restore", t[0].id), &cookie, &csrf),
    )
    .await;
    assert!(r.status().is_redirection());
    let sent_now = s
        .store
        .mailbox_page(alice, Folder::Sent, None, 10)
        .await
        .expect("page");
    assert_eq!(sent_now.len(), 1);
    assert_eq!(sent_now[0].subject, "Mine");

    // deleted for good, then the trash emptied
    let inbox_now = back[0].id;
    test::call_service(
        &svc,
        post(format!("/mail/m/{inbox_now}/trash"), &cookie, &csrf),
    )
    .await;
    test::call_service(
        &svc,
        post(format!("/mail/m/{}/trash", sent_now[0].id), &cookie, &csrf),
    )
    .await;
    let t = s
        .store
        .mailbox_page(alice, Folder::Trash, None, 10)
        .await
        .expect("page");
    assert_eq!(t.len(), 2);
    let r = test::call_service(
        &svc,
        post(format!("/mail/m/{}/delete", t[0].id), &cookie, &csrf),
    )
    .await;
    assert_eq!(location(&r), "/mail/trash?done=deleted");
    let r = test::call_service(
        &svc,
        post("/mail/trash/empty".into(), &bob_cookie, &bob_csrf),
    )
    .await;
    assert!(r.status().is_redirection());
    assert_eq!(
        s.store.folder_counts(alice).await.expect("c").trash,
        1,
        "bob emptied his own trash only"
    );
    let r = test::call_service(&svc, post("/mail/trash/empty".into(), &cookie, &csrf)).await;
    assert_eq!(location(&r), "/mail/trash?done=emptied");
    let counts = s.store.folder_counts(alice).await.expect("counts");
    assert_eq!((counts.inbox, counts.sent, counts.trash), (0, 0, 0));
    // deleting what she sent frees none of her hourly sending quota
    let r = test::call_service(
        &svc,
        TestRequest::post()
            .uri("/mail/send")
            .cookie(Cookie::new("continuity", cookie.clone()))
            .set_form([
                ("csrf", csrf.as_str()),
                ("action", "send"),
                ("from", "alice@example.test"),
                ("to", "bob@example.test"),
                ("subject", "Counted"),
                ("body", "once"),
            ])
            .to_request(),
    )
    .await;
    assert!(location(&r).starts_with("/mail/sent"), "{}", location(&r));
    assert_eq!(sent_in_the_hour(&s.store, alice).await, 1);
    let sent = s
        .store
        .mailbox_page(alice, Folder::Sent, None, 10)
        .await
        .expect("page");
    test::call_service(
        &svc,
        post(format!("/mail/m/{}/trash", sent[0].id), &cookie, &csrf),
    )
    .await;
    test::call_service(&svc, post("/mail/trash/empty".into(), &cookie, &csrf)).await;
    assert_eq!(s.store.folder_counts(alice).await.expect("c").sent, 0);
    assert_eq!(sent_in_the_hour(&s.store, alice).await, 1);
    // and the reconciliation report still counts it as sent
    let domain = s
        .store
        .domain_by_name("example.test")
        .await
        .expect("q")
        .expect("domain")
        .id;
    let report = s
        .store
        .reconciliation(domain, 0, None, Some(alice))
        .await
        .expect("report");
    assert_eq!(report.iter().map(|r| r.sent).sum::<i64>(), 1, "{report:?}");
    // the archive keeps both messages
    let trashed_message = trash[0].message;
    let raw = s.store.raw_message(trashed_message).await.expect("q");
    assert!(raw.is_some(), "the archive is untouched");
}

/// What the user sent in the last hour, as the sending limit counts it.
async fn sent_in_the_hour(store: &server::store::Store, user: server::store::UserId) -> i64 {
    let (_, n) = store
        .sender(user, 3_600_000, 100)
        .await
        .expect("count")
        .expect("the user");
    n
}
