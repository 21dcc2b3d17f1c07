//! The webmail's Drafts: what is saved and not sent is listed (the last
//! changed first, with its files counted), opens in the compose page, and
//! can be discarded with its files — by its user only. A sent draft
//! leaves the list.

use crate::common;

use actix_web::cookie::Cookie;
use actix_web::test::{self, TestRequest};
use common::mailuser::{app, body_text, location, session_of, setup};

#[actix_web::test]
async fn drafts_are_listed_opened_and_discarded() {
    let s = setup("drafts-web").await;
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
    let get = |uri: &str, cookie: &str| {
        TestRequest::get()
            .uri(uri)
            .cookie(Cookie::new("continuity", cookie.to_string()))
            .insert_header(("accept", "text/html"))
            .insert_header(("accept-language", "fr"))
            .to_request()
    };
    let discard = |id: i64, cookie: &str, csrf: &str| {
        TestRequest::post()
            .uri(&format!("/mail/drafts/{id}/discard"))
            .cookie(Cookie::new("continuity", cookie.to_string()))
            .set_form([("csrf", csrf)])
            .to_request()
    };

    let page = body_text(test::call_service(&svc, get("/mail/drafts", &cookie)).await)
        .await
        .replace("<!>", "");
    assert!(page.contains("Aucun brouillon"), "{page}");

    // two drafts through the compose form (the second one with a file)
    let save = |subject: &str| {
        TestRequest::post()
            .uri("/mail/send")
            .cookie(Cookie::new("continuity", cookie.clone()))
            .set_form([
                ("csrf", csrf.as_str()),
                ("action", "save"),
                ("from", "alice@example.test"),
                ("to", "Bob <bob@example.test>"),
                ("subject", subject),
                ("body", "Premier jet\n\nà revoir"),
            ])
            .to_request()
    };
    let r = test::call_service(&svc, save("Plan A")).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = test::call_service(&svc, save("Plan B")).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let list = s.store.drafts(alice, 50).await.expect("drafts");
    assert_eq!(list.len(), 2);
    let (b, a) = (&list[0], &list[1]);
    assert_eq!(
        (b.subject.as_str(), a.subject.as_str()),
        ("Plan B", "Plan A")
    );
    assert_eq!(b.preview, "Premier jet à revoir");
    s.store
        .add_draft_file(alice, b.id, "notes.txt", "text/plain", b"x")
        .await
        .expect("file")
        .expect("hers");
    let page = body_text(test::call_service(&svc, get("/mail/drafts", &cookie)).await)
        .await
        .replace("<!>", "");
    assert!(page.contains("Brouillons"), "{page}");
    let (pb, pa) = (
        page.find("Plan B").expect("B listed"),
        page.find("Plan A").expect("A listed"),
    );
    assert!(pb < pa, "the last changed first");
    assert!(
        page.contains(&format!("/mail/compose?draft={}", b.id)),
        "{page}"
    );
    assert!(page.contains("1 fichiers"), "{page}");
    // the compose page opens it
    let page = body_text(
        test::call_service(&svc, get(&format!("/mail/compose?draft={}", b.id), &cookie)).await,
    )
    .await
    .replace("<!>", "");
    assert!(
        page.contains("Plan B") && page.contains("notes.txt"),
        "{page}"
    );

    // bob sees none of hers, and cannot discard them; a forged token neither
    let page = body_text(test::call_service(&svc, get("/mail/drafts", &bob_cookie)).await).await;
    assert!(!page.contains("Plan"), "{page}");
    let r = test::call_service(&svc, discard(b.id, &bob_cookie, &bob_csrf)).await;
    assert_eq!(r.status(), 404);
    let r = test::call_service(&svc, discard(b.id, &cookie, "forged")).await;
    assert_eq!(r.status(), 403);
    assert_eq!(s.store.draft_count(alice).await.expect("n"), 2);

    // discarded with its file
    let r = test::call_service(&svc, discard(b.id, &cookie, &csrf)).await;
    assert_eq!(location(&r), "/mail/drafts?done=discarded");
    assert!(s.store.draft(alice, b.id).await.expect("q").is_none());
    assert!(s
        .store
        .draft_files(alice, b.id)
        .await
        .expect("q")
        .is_empty());
    let r = test::call_service(&svc, discard(b.id, &cookie, &csrf)).await;
    assert_eq!(r.status(), 404, "already gone");

    // the compose page's Discard: the draft goes, nothing of the post kept
    let r = test::call_service(&svc, save("Plan C")).await;
    assert!(r.status().is_redirection());
    let c = s.store.drafts(alice, 50).await.expect("drafts")[0].id;
    let r = test::call_service(
        &svc,
        TestRequest::post()
            .uri("/mail/send")
            .cookie(Cookie::new("continuity", cookie.clone()))
            .set_form([
                ("csrf", csrf.as_str()),
                ("action", "discard"),
                ("draft", c.to_string().as_str()),
                ("subject", "Plan C, changed"),
            ])
            .to_request(),
    )
    .await;
    assert_eq!(location(&r), "/mail/drafts?done=discarded");
    assert!(s.store.draft(alice, c).await.expect("q").is_none());
    assert_eq!(s.store.draft_count(alice).await.expect("n"), 1);

    // a draft that is sent leaves the list
    let r = test::call_service(
        &svc,
        TestRequest::post()
            .uri("/mail/send")
            .cookie(Cookie::new("continuity", cookie.clone()))
            .set_form([
                ("csrf", csrf.as_str()),
                ("action", "send"),
                ("draft", a.id.to_string().as_str()),
                ("from", "alice@example.test"),
                ("to", "bob@example.test"),
                ("subject", "Plan A"),
                ("body", "final"),
            ])
            .to_request(),
    )
    .await;
    assert!(location(&r).starts_with("/mail/sent"), "{}", location(&r));
    assert_eq!(s.store.draft_count(alice).await.expect("n"), 0);
}
