//! Reading mail in the webmail over HTTP, in process (the real routes,
//! middleware, store and auth): authorization tried with other users' ids,
//! the sanitized reader and safe downloads, the outage banner, and the
//! invitation's path — tried by breaking them.

use crate::common;

use actix_web::test::{self, TestRequest};
use app::backend::{Backend, BackendError, SearchParams, SessionUser};
use server::web::StoreBackend;

use common::mailuser::*;

#[actix_web::test]
async fn nobody_reads_another_users_mail() {
    let s = setup("authz").await;
    let svc = app(&s).await;
    let (bob, bob_csrf) = session_of(&s, &svc, "bob@example.test").await;
    let (dave, _) = session_of(&s, &svc, "dave@other.test").await;
    let (alice, _) = session_of(&s, &svc, "alice@example.test").await;
    let a = s.alice_mail;
    let paths = [
        format!("/mail/m/{a}/raw"),
        format!("/mail/m/{a}/body"),
        format!("/mail/m/{a}/part/3"),
        format!("/mail/m/{a}/cid/logo@x"),
    ];
    // alice can fetch each of them
    for p in &paths {
        let req = TestRequest::get()
            .uri(p)
            .cookie(actix_web::cookie::Cookie::new("continuity", alice.clone()))
            .to_request();
        let r = test::call_service(&svc, req).await;
        assert_eq!(r.status(), 200, "alice {p}");
    }
    for (who, cookie) in [("bob", &bob), ("dave", &dave)] {
        for p in &paths {
            let req = TestRequest::get()
                .uri(p)
                .cookie(actix_web::cookie::Cookie::new("continuity", cookie.clone()))
                .to_request();
            let r = test::call_service(&svc, req).await;
            assert_eq!(r.status(), 404, "{who} {p}");
        }
    }
    // guessed ids around bob's own
    for id in [s.bob_mail - 1, s.bob_mail + 1, 0, -1, i64::MAX] {
        let req = TestRequest::get()
            .uri(&format!("/mail/m/{id}/raw"))
            .cookie(actix_web::cookie::Cookie::new("continuity", bob.clone()))
            .to_request();
        assert_eq!(test::call_service(&svc, req).await.status(), 404, "id {id}");
    }
    // marking someone else's mail is refused and changes nothing
    let req = TestRequest::post()
        .uri(&format!("/mail/m/{a}/seen"))
        .cookie(actix_web::cookie::Cookie::new("continuity", bob.clone()))
        .set_form([("csrf", bob_csrf.as_str()), ("seen", "1")])
        .to_request();
    assert_eq!(test::call_service(&svc, req).await.status(), 404);
    let alice_user = s
        .store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("a")
        .user;
    assert!(
        !s.store
            .mailbox_entry(alice_user, a)
            .await
            .expect("q")
            .expect("entry")
            .seen
    );
    // not logged in: sent to the login page
    let req = TestRequest::get().uri(&paths[0]).to_request();
    let r = test::call_service(&svc, req).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/login?expired=1"));

    // the backend port refuses the same way (what server functions call)
    let backend = StoreBackend {
        store: s.store.clone(),
        auth: s.auth.clone(),
        hostname: "h".into(),
        outbound: Default::default(),
        sms: false,
    };
    let bob_user = s
        .store
        .account_by_address("bob@example.test")
        .await
        .expect("q")
        .expect("b")
        .user;
    let bob_session = SessionUser {
        user: bob_user.0,
        csrf: String::new(),
    };
    assert_eq!(
        backend.mail_view(&bob_session, a).await,
        Err(BackendError::NotFound)
    );
    let found = backend
        .mail_search(
            &bob_session,
            &SearchParams {
                q: "Hostile".into(),
                ..SearchParams::default()
            },
            None,
        )
        .await
        .expect("search");
    assert!(
        found.items.is_empty(),
        "bob's search never shows alice's mail"
    );
    assert_eq!(
        backend
            .mail_list(&bob_session, "inbox", None)
            .await
            .expect("list")
            .items
            .len(),
        1
    );
}

#[actix_web::test]
async fn the_reader_serves_sanitized_html_safe_downloads_and_pages_without_javascript() {
    let s = setup("read").await;
    let svc = app(&s).await;
    let (alice, _) = session_of(&s, &svc, "alice@example.test").await;
    let c = actix_web::cookie::Cookie::new("continuity", alice.clone());
    let a = s.alice_mail;

    let req = TestRequest::get()
        .uri(&format!("/mail/m/{a}/body"))
        .cookie(c.clone())
        .to_request();
    let r = test::call_service(&svc, req).await;
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("sandbox"), "{csp}");
    assert!(!csp.contains("https:"), "{csp}");
    let html = body_text(r).await;
    assert!(html.contains("<p>Hi</p>"));
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("tracker.remote.test"), "{html}");
    assert!(html.contains(&format!("/mail/m/{a}/cid/logo@x")), "{html}");

    let req = TestRequest::get()
        .uri(&format!("/mail/m/{a}/body?remote=1"))
        .cookie(c.clone())
        .to_request();
    let r = test::call_service(&svc, req).await;
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(csp.contains("img-src 'self' data: https: http:"), "{csp}");
    assert!(body_text(r)
        .await
        .contains("https://tracker.remote.test/p.gif"));

    // the inline image, as an image (the cid route decodes what the sanitizer encoded)
    let req = TestRequest::get()
        .uri(&format!("/mail/m/{a}/cid/logo@x"))
        .cookie(c.clone())
        .to_request();
    let r = test::call_service(&svc, req).await;
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );

    // the attachment: a download, with a name that cannot escape
    let req = TestRequest::get()
        .uri(&format!("/mail/m/{a}/part/3"))
        .cookie(c.clone())
        .to_request();
    let r = test::call_service(&svc, req).await;
    let cd = r
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        cd.starts_with(
            "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
        ),
        "{cd}"
    );
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/octet-stream")
    );
    assert_eq!(&test::read_body(r).await[..], b"%PDF-1.4\n");

    // the original, byte for byte
    let req = TestRequest::get()
        .uri(&format!("/mail/m/{a}/raw"))
        .cookie(c.clone())
        .to_request();
    let r = test::call_service(&svc, req).await;
    assert_eq!(&test::read_body(r).await[..], HTML_MAIL);

    // server-rendered pages (what a browser without JavaScript gets)
    let req = TestRequest::get()
        .uri("/mail/inbox")
        .cookie(c.clone())
        .to_request();
    let r = test::call_service(&svc, req).await;
    assert_eq!(r.status(), 200);
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
    let page = body_text(r).await;
    assert!(page.contains("Hostile"), "inbox lists the message");
    assert!(page.contains(&format!("/mail/m/{a}")));
    let req = TestRequest::get()
        .uri(&format!("/mail/m/{a}"))
        .cookie(c.clone())
        .insert_header(("accept-language", "fr-FR,fr;q=0.9"))
        .to_request();
    let page = body_text(test::call_service(&svc, req).await).await;
    assert!(page.contains("lang=\"fr\""), "French from Accept-Language");
    assert!(
        page.contains("Pièces jointes"),
        "attachments listed in French"
    );
    assert!(
        page.contains("Afficher le contenu distant"),
        "remote content offered"
    );
    assert!(page.contains("r_sum_.pdf") || page.contains("résumé.pdf"));
    // reading marked it read
    let alice_user = s
        .store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("a")
        .user;
    assert!(
        s.store
            .mailbox_entry(alice_user, a)
            .await
            .expect("q")
            .expect("e")
            .seen
    );

    // without a session, pages redirect to the login page (a browser's request)
    let req = TestRequest::get()
        .uri("/mail/inbox")
        .insert_header(("accept", "text/html,application/xhtml+xml"))
        .to_request();
    let r = test::call_service(&svc, req).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    // an unknown page is a 404
    let req = TestRequest::get().uri("/no/such/page").to_request();
    assert_eq!(test::call_service(&svc, req).await.status(), 404);
}

#[actix_web::test]
async fn during_an_outage_the_banner_shows_and_new_mail_is_marked() {
    let s = setup("outage").await;
    let svc = app(&s).await;
    let domain = s
        .store
        .domain_by_name("example.test")
        .await
        .expect("q")
        .expect("domain");
    s.store
        .set_domain_state(domain.id, "outage")
        .await
        .expect("state");
    ingest(
        &s.store,
        "alice@example.test",
        b"From: x@remote.test\r\nTo: alice@example.test\r\nSubject: Held for you\r\n\r\nhello\r\n",
    )
    .await;
    let (alice, _) = session_of(&s, &svc, "alice@example.test").await;
    let c = actix_web::cookie::Cookie::new("continuity", alice);
    let req = TestRequest::get()
        .uri("/mail/inbox")
        .cookie(c.clone())
        .to_request();
    let page = body_text(test::call_service(&svc, req).await).await;
    assert!(page.contains("id=\"continuity-banner\""), "banner shown");
    assert!(page.contains("Continuity Service is active"));
    // the new message carries the mark, the one from before does not
    let held = page.find("Held for you").expect("listed");
    let hostile = page.find("Hostile").expect("listed");
    let marks = page.matches("via Continuity").count();
    assert!(marks >= 1, "{marks}");
    assert!(held < hostile, "newest first");
    let alice_user = s
        .store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("a")
        .user;
    let rows = s
        .store
        .mailbox_page(alice_user, server::store::mailbox::Folder::Inbox, None, 10)
        .await
        .expect("page");
    assert!(rows[0].during_outage && !rows[1].during_outage);
    // back to normal: no banner
    s.store
        .set_domain_state(domain.id, "normal")
        .await
        .expect("state");
    let req = TestRequest::get()
        .uri("/mail/inbox")
        .cookie(c)
        .insert_header(("accept-language", "fr"))
        .to_request();
    let page = body_text(test::call_service(&svc, req).await).await;
    assert!(!page.contains("id=\"continuity-banner\""));
    assert!(page.contains("Boîte de réception"));
}

#[actix_web::test]
async fn the_invitation_goes_through_the_normal_path_to_the_primary() {
    let s = setup("invite").await;
    let bob = s
        .store
        .account_by_address("bob@example.test")
        .await
        .expect("q")
        .expect("bob");
    let link = s.auth.issue_link(bob.user).await.expect("link");
    let id = server::auth::invite::send(&s.store, &bob, &link, "mx.continuity.test", 7)
        .await
        .expect("queued");
    let deliveries = s.store.deliveries_of(id).await.expect("deliveries");
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].rcpt, "bob@example.test");
    assert_eq!(deliveries[0].status, "queued", "waiting for bob's primary");
    let raw = s.store.raw_message(id).await.expect("q").expect("raw");
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains("To: \"Bob\" <bob@example.test>")
            || text.contains("To: Bob <bob@example.test>"),
        "{text}"
    );
    // the body is encoded by mail-builder; the decoded text carries the link
    let r = server::web::render::render(&raw);
    assert!(r.text.contains(&link), "{}", r.text);
    assert!(r.text.contains("mot de passe d'urgence") && r.text.contains("emergency password"));
    // and it is in bob's inbox here too
    let rows = s
        .store
        .mailbox_page(bob.user, server::store::mailbox::Folder::Inbox, None, 10)
        .await
        .expect("page");
    assert!(rows.iter().any(|e| e.message == id));
}
