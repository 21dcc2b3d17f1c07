//! The webmail over HTTP, in process (actix's test service with the real
//! routes, middleware, store and auth): login, sessions, CSRF, throttling,
//! password links, reading, downloads, and authorization — tried by
//! breaking it.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use app::backend::{Backend, BackendError, SearchParams, SessionUser};
use server::auth::Auth;
use server::config::TlsMode;
use server::directory::RecipientPolicy;
use server::store::{NewMessage, NewRecipient, Origin, Store, Summary};
use server::web::StoreBackend;

const PW: &str = "velvet-harbor-Quokka-87";

struct Setup {
    store: Store,
    auth: Arc<Auth>,
    alice_mail: i64,
    bob_mail: i64,
}

fn web_config(dir: &std::path::Path) -> server::config::WebConfig {
    let env = vec![(
        "CONTINUITY_SERVER_DATA_DIR".to_string(),
        dir.display().to_string(),
    )];
    server::config::Config::load(None, env).expect("config").web
}

async fn ingest(store: &Store, to: &str, raw: &[u8]) -> server::store::MessageId {
    let snap = store.directory_snapshot().await.expect("snapshot");
    let (domain, user) = match snap.check(to) {
        server::directory::RcptVerdict::Accept { domain, user } => (Some(domain), user),
        other => panic!("{to}: {other:?}"),
    };
    store
        .ingest(NewMessage {
            origin: Origin::Smtp,
            mail_from: "sender@remote.test".into(),
            client_ip: Some("192.0.2.1".into()),
            helo: Some("remote.test".into()),
            tls: false,
            summary: Summary::parse(raw),
            raw: raw.to_vec(),
            recipients: vec![NewRecipient {
                rcpt: to.into(),
                domain,
                user,
            }],
            in_reply_to: None,
        })
        .await
        .expect("ingest")
}

const HTML_MAIL: &[u8] = b"From: News <news@remote.test>\r\nTo: alice@example.test\r\n\
Subject: Hostile\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/html\r\n\r\n<p>Hi</p><script>alert(1)</script>\
<img src=\"https://tracker.remote.test/p.gif\"><img src=\"cid:logo@x\">\r\n\
--b\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n\
--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"../r\xc3\xa9sum\xc3\xa9.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";

async fn setup(tag: &str) -> Setup {
    let dir = common::temp_dir(tag);
    let store = Store::open(&dir.join("continuity.db"))
        .await
        .expect("store");
    store
        .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
        .await
        .expect("domain");
    store
        .add_domain("other.test", "127.0.0.1", 2527, TlsMode::None)
        .await
        .expect("domain");
    store
        .add_user(
            "alice@example.test",
            "Alice",
            &["a.martin@example.test".into()],
            "local",
        )
        .await
        .expect("alice");
    store
        .add_user("bob@example.test", "Bob", &[], "ldap")
        .await
        .expect("bob");
    store
        .add_user("dave@other.test", "Dave", &[], "local")
        .await
        .expect("dave");
    let auth = Arc::new(
        Auth::new(store.clone(), &web_config(&dir))
            .await
            .expect("auth"),
    );
    for a in ["alice@example.test", "bob@example.test", "dave@other.test"] {
        auth.set_password(a, PW).await.expect("password");
    }
    ingest(&store, "a.martin@example.test", HTML_MAIL).await;
    ingest(
        &store,
        "bob@example.test",
        b"From: x@remote.test\r\nTo: bob@example.test\r\nSubject: For Bob only\r\n\r\nsecret plans\r\n",
    )
    .await;
    let alice = store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("alice");
    let bob = store
        .account_by_address("bob@example.test")
        .await
        .expect("q")
        .expect("bob");
    let alice_mail = store
        .mailbox_page(alice.user, server::store::mailbox::Folder::Inbox, None, 10)
        .await
        .expect("page")[0]
        .id;
    let bob_mail = store
        .mailbox_page(bob.user, server::store::mailbox::Folder::Inbox, None, 10)
        .await
        .expect("page")[0]
        .id;
    Setup {
        store,
        auth,
        alice_mail,
        bob_mail,
    }
}

async fn app(
    s: &Setup,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    common::web_app(&s.store, &s.auth).await
}

fn peer() -> SocketAddr {
    "198.51.100.7:40000".parse().expect("addr")
}

fn location<B>(r: &ServiceResponse<B>) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn session_cookie<B>(r: &ServiceResponse<B>) -> Option<actix_web::cookie::Cookie<'static>> {
    r.response()
        .cookies()
        .find(|c| c.name() == "continuity")
        .map(|c| c.into_owned())
}

async fn login(
    svc: &impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
    address: &str,
    password: &str,
) -> ServiceResponse<impl MessageBody> {
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr(peer())
        .set_form([
            ("address", address),
            ("password", password),
            ("next", "/mail/inbox"),
        ])
        .to_request();
    test::call_service(svc, req).await
}

/// Log in and return (cookie value, csrf).
async fn session_of(
    s: &Setup,
    svc: &impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
    address: &str,
) -> (String, String) {
    let r = login(svc, address, PW).await;
    assert_eq!(r.status(), 303, "login of {address}");
    let c = session_cookie(&r).expect("cookie").value().to_string();
    let csrf = s.auth.session(&c).await.expect("live session").csrf;
    (c, csrf)
}

async fn body_text(r: ServiceResponse<impl MessageBody>) -> String {
    String::from_utf8_lossy(&test::read_body(r).await).into_owned()
}

#[actix_web::test]
async fn login_sets_a_strict_httponly_cookie_and_a_fresh_session_id() {
    let s = setup("login").await;
    let svc = app(&s).await;
    // a session id planted before login (fixation) is never kept
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr(peer())
        .cookie(actix_web::cookie::Cookie::new(
            "continuity",
            "planted-by-attacker",
        ))
        .set_form([
            ("address", "ALICE@example.test"),
            ("password", PW),
            ("next", "/mail/m/1"),
        ])
        .to_request();
    let r = test::call_service(&svc, req).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/mail/m/1");
    let c = session_cookie(&r).expect("session cookie");
    assert_ne!(c.value(), "planted-by-attacker");
    assert_eq!(c.http_only(), Some(true));
    assert_eq!(c.same_site(), Some(actix_web::cookie::SameSite::Strict));
    assert_eq!(c.path(), Some("/"));
    assert!(s.auth.session(c.value()).await.is_some());
    assert!(s.auth.session("planted-by-attacker").await.is_none());

    // logging in again rotates: the old id dies
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr(peer())
        .cookie(c.clone())
        .set_form([("address", "alice@example.test"), ("password", PW)])
        .to_request();
    let r2 = test::call_service(&svc, req).await;
    let c2 = session_cookie(&r2).expect("new cookie");
    assert_ne!(c2.value(), c.value());
    assert!(
        s.auth.session(c.value()).await.is_none(),
        "old session ended"
    );
    assert_eq!(location(&r2), "/mail/inbox");

    // an alias logs in to the same account; an open redirect is refused
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr(peer())
        .set_form([
            ("address", "a.martin@example.test"),
            ("password", PW),
            ("next", "//evil.test/"),
        ])
        .to_request();
    let r3 = test::call_service(&svc, req).await;
    assert_eq!(location(&r3), "/mail/inbox");
}

#[actix_web::test]
async fn failures_say_the_same_thing_and_the_account_is_throttled() {
    let s = setup("fail").await;
    let svc = app(&s).await;
    for (addr, pw) in [
        ("alice@example.test", "wrong password!"),
        ("nobody@example.test", PW),
        ("not an address", PW),
    ] {
        let r = login(&svc, addr, pw).await;
        assert_eq!(r.status(), 303);
        assert!(
            location(&r).starts_with("/login?error=invalid"),
            "{}",
            location(&r)
        );
        assert!(session_cookie(&r).is_none());
    }
    // a disabled account cannot log in, with the same message
    sqlx_disable(&s.store, "dave@other.test").await;
    let r = login(&svc, "dave@other.test", PW).await;
    assert!(location(&r).starts_with("/login?error=invalid"));

    // 5 failures (default) hold the account, even with the right password
    for _ in 0..4 {
        login(&svc, "alice@example.test", "still wrong!!").await;
    }
    let r = login(&svc, "alice@example.test", PW).await;
    assert!(
        location(&r).starts_with("/login?error=throttled"),
        "{}",
        location(&r)
    );
    // a throttled unknown account says the same as a throttled real one
    for _ in 0..5 {
        login(&svc, "ghost@example.test", "x").await;
    }
    let r = login(&svc, "ghost@example.test", "x").await;
    assert!(location(&r).starts_with("/login?error=throttled"));
    // other accounts are not affected
    let r = login(&svc, "bob@example.test", PW).await;
    assert_eq!(location(&r), "/mail/inbox");
}

async fn sqlx_disable(store: &Store, address: &str) {
    let a = store
        .account_by_address(address)
        .await
        .expect("q")
        .expect("user");
    store
        .set_user_disabled(a.user, true)
        .await
        .expect("disable");
}

#[actix_web::test]
async fn cross_site_posts_and_missing_csrf_tokens_are_refused() {
    let s = setup("csrf").await;
    let svc = app(&s).await;
    // a login form posted from another site
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr(peer())
        .insert_header(("origin", "https://evil.test"))
        .insert_header(("host", "continuity.test"))
        .set_form([("address", "alice@example.test"), ("password", PW)])
        .to_request();
    assert_eq!(test::call_service(&svc, req).await.status(), 403);
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr(peer())
        .insert_header(("sec-fetch-site", "cross-site"))
        .set_form([("address", "alice@example.test"), ("password", PW)])
        .to_request();
    assert_eq!(test::call_service(&svc, req).await.status(), 403);
    // a hidden origin ("null") falls back to Sec-Fetch-Site
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr(peer())
        .insert_header(("origin", "null"))
        .insert_header(("sec-fetch-site", "cross-site"))
        .set_form([("address", "alice@example.test"), ("password", PW)])
        .to_request();
    assert_eq!(test::call_service(&svc, req).await.status(), 403);
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr(peer())
        .insert_header(("origin", "null"))
        .insert_header(("sec-fetch-site", "same-origin"))
        .set_form([("address", "alice@example.test"), ("password", PW)])
        .to_request();
    assert_eq!(test::call_service(&svc, req).await.status(), 303);
    // same origin passes
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr(peer())
        .insert_header(("origin", "http://continuity.test"))
        .insert_header(("host", "continuity.test"))
        .set_form([("address", "alice@example.test"), ("password", PW)])
        .to_request();
    assert_eq!(test::call_service(&svc, req).await.status(), 303);

    let (cookie, csrf) = session_of(&s, &svc, "alice@example.test").await;
    let c = actix_web::cookie::Cookie::new("continuity", cookie.clone());
    for bad in ["", "nope", &csrf[1..]] {
        let req = TestRequest::post()
            .uri("/auth/logout")
            .cookie(c.clone())
            .set_form([("csrf", bad)])
            .to_request();
        assert_eq!(test::call_service(&svc, req).await.status(), 403, "{bad:?}");
        let req = TestRequest::post()
            .uri(&format!("/mail/m/{}/seen", s.alice_mail))
            .cookie(c.clone())
            .set_form([("csrf", bad), ("seen", "0")])
            .to_request();
        assert_eq!(test::call_service(&svc, req).await.status(), 403, "{bad:?}");
    }
    assert!(s.auth.session(&cookie).await.is_some(), "still logged in");
    // another session's token does not work either
    let (_, bob_csrf) = session_of(&s, &svc, "bob@example.test").await;
    let req = TestRequest::post()
        .uri("/auth/logout")
        .cookie(c.clone())
        .set_form([("csrf", bob_csrf.as_str())])
        .to_request();
    assert_eq!(test::call_service(&svc, req).await.status(), 403);
    // the right token logs out and clears the cookie
    let req = TestRequest::post()
        .uri("/auth/logout")
        .cookie(c.clone())
        .set_form([("csrf", csrf.as_str())])
        .to_request();
    let r = test::call_service(&svc, req).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?bye=1");
    assert!(s.auth.session(&cookie).await.is_none());
}

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
async fn a_password_link_works_once_and_refuses_weak_passwords_tampering_and_expiry() {
    let s = setup("link").await;
    let svc = app(&s).await;
    let bob = s
        .store
        .account_by_address("bob@example.test")
        .await
        .expect("q")
        .expect("b");
    let link = s.auth.issue_link(bob.user).await.expect("link");
    let token = link.split("t=").nth(1).expect("token").to_string();

    let req = TestRequest::get()
        .uri(&format!("/set-password?t={token}"))
        .to_request();
    let page = body_text(test::call_service(&svc, req).await).await;
    assert!(
        page.contains("bob@example.test"),
        "the page says whose link it is"
    );

    let post = |pw: &str, confirm: &str, t: &str| {
        TestRequest::post()
            .uri("/auth/set-password")
            .set_form([("t", t), ("password", pw), ("confirm", confirm)])
            .to_request()
    };
    for (pw, confirm, code) in [
        ("short", "short", "short"),
        ("password1234", "password1234", "guessable"),
        ("bob-harbor-Quokka-87", "bob-harbor-Quokka-87", "address"),
        (PW, "something else entirely", "mismatch"),
    ] {
        let r = test::call_service(&svc, post(pw, confirm, &token)).await;
        assert!(
            location(&r).contains("e=") && location(&r).contains(code),
            "{code}: {}",
            location(&r)
        );
    }
    // tampered: one character changed
    let mut forged: Vec<char> = token.chars().collect();
    forged[5] = if forged[5] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let r = test::call_service(
        &svc,
        post("new-velvet-Harbor-1987", "new-velvet-Harbor-1987", &forged),
    )
    .await;
    assert!(!location(&r).starts_with("/login"));
    assert!(s.auth.check_link(&forged).await.is_err());

    let new_pw = "granite-Meadow-owl-42";
    let r = test::call_service(&svc, post(new_pw, new_pw, &token)).await;
    assert_eq!(location(&r), "/login?set=1&address=bob@example.test");
    assert!(login(&svc, "bob@example.test", new_pw)
        .await
        .headers()
        .get("set-cookie")
        .is_some());
    // single use
    let r = test::call_service(
        &svc,
        post("another-Granite-owl-43", "another-Granite-owl-43", &token),
    )
    .await;
    assert!(location(&r).starts_with("/set-password"));
    assert_eq!(
        s.auth.check_link(&token).await.err(),
        Some(server::auth::PasswordError::Link(
            app::backend::LinkProblem::Used
        ))
    );
    // a newer link supersedes an older one
    let l1 = s.auth.issue_link(bob.user).await.expect("l1");
    let l2 = s.auth.issue_link(bob.user).await.expect("l2");
    let t1 = l1.split("t=").nth(1).expect("t1");
    let t2 = l2.split("t=").nth(1).expect("t2");
    assert!(s.auth.check_link(t1).await.is_err());
    assert!(s.auth.check_link(t2).await.is_ok());

    // expiry, with a link that lives 50 ms
    let dir = common::temp_dir("link-exp");
    let mut wc = web_config(&dir);
    wc.password_link_ttl = Duration::from_millis(50);
    let short = Auth::new(s.store.clone(), &wc).await.expect("auth");
    let l = short.issue_link(bob.user).await.expect("link");
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(
        short
            .check_link(l.split("t=").nth(1).expect("t"))
            .await
            .err(),
        Some(server::auth::PasswordError::Link(
            app::backend::LinkProblem::Expired
        ))
    );
}

#[actix_web::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let s = setup("change").await;
    let svc = app(&s).await;
    let (other, _) = session_of(&s, &svc, "alice@example.test").await;
    let (cookie, csrf) = session_of(&s, &svc, "alice@example.test").await;
    let c = actix_web::cookie::Cookie::new("continuity", cookie.clone());
    let change = |current: &str, new: &str| {
        TestRequest::post()
            .uri("/settings/password")
            .cookie(c.clone())
            .set_form([
                ("csrf", csrf.as_str()),
                ("current", current),
                ("password", new),
                ("confirm", new),
            ])
            .to_request()
    };
    let r = test::call_service(&svc, change("not my password", "granite-Meadow-owl-42")).await;
    assert_eq!(location(&r), "/settings?e=current");
    let r = test::call_service(&svc, change(PW, "granite-Meadow-owl-42")).await;
    assert_eq!(location(&r), "/settings?changed=1");
    let fresh = session_cookie(&r).expect("a new session for this browser");
    assert!(s.auth.session(fresh.value()).await.is_some());
    assert!(
        s.auth.session(&other).await.is_none(),
        "other sessions ended"
    );
    assert!(
        s.auth.session(&cookie).await.is_none(),
        "the old id ended too"
    );
    assert!(login(&svc, "alice@example.test", "granite-Meadow-owl-42")
        .await
        .headers()
        .get("set-cookie")
        .is_some());
}

#[actix_web::test]
async fn sessions_end_after_the_idle_timeout() {
    let s = setup("idle").await;
    let dir = common::temp_dir("idle-cfg");
    let mut wc = web_config(&dir);
    wc.session_idle = Duration::from_millis(100);
    let auth = Auth::new(s.store.clone(), &wc).await.expect("auth");
    let sess = auth
        .login("alice@example.test", PW, "127.0.0.1")
        .await
        .expect("login");
    assert!(auth.session(&sess.cookie).await.is_some());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(auth.session(&sess.cookie).await.is_none());
}

#[actix_web::test]
async fn sessions_end_at_the_absolute_limit_even_when_active() {
    let s = setup("absolute").await;
    let dir = common::temp_dir("abs-cfg");
    let mut wc = web_config(&dir);
    wc.session_lifetime = Duration::from_millis(150);
    let auth = Auth::new(s.store.clone(), &wc).await.expect("auth");
    let sess = auth
        .login("alice@example.test", PW, "127.0.0.1")
        .await
        .expect("login");
    for _ in 0..3 {
        assert!(auth.session(&sess.cookie).await.is_some());
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(auth.session(&sess.cookie).await.is_none());
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
