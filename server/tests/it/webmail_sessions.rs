//! The webmail's accounts over HTTP, in process (the real routes,
//! middleware, store and auth): login, sessions and their timeouts, CSRF,
//! throttling, password links and password changes — tried by breaking them.

use crate::common;

use std::time::Duration;

use actix_web::test::{self, TestRequest};
use server::auth::Auth;

use common::mailuser::*;

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
    assert_eq!(
        s.auth.check_link(&forged).await.err(),
        Some(server::auth::PasswordError::Link(
            app::backend::LinkProblem::Invalid
        ))
    );

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
    assert_eq!(
        s.auth.check_link(t1).await.err(),
        Some(server::auth::PasswordError::Link(
            app::backend::LinkProblem::Used
        ))
    );
    assert!(s.auth.check_link(t2).await.is_ok());

    // expiry: a link lives 7 days (by default), not a moment more
    let clock = server::auth::Clock::manual(server::store::now_ms());
    let short = Auth::new(s.store.clone(), &web_config(&common::temp_dir("link-exp")))
        .await
        .expect("auth")
        .with_clock(clock.clone());
    let l = short.issue_link(bob.user).await.expect("link");
    clock.advance(Duration::from_secs(7 * 24 * 3600 - 1));
    let t = l.split("t=").nth(1).expect("t").to_string();
    assert!(short.check_link(&t).await.is_ok(), "still valid");
    clock.advance(Duration::from_secs(1));
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
    let wc = web_config(&dir);
    let clock = server::auth::Clock::manual(server::store::now_ms());
    let auth = Auth::new(s.store.clone(), &wc)
        .await
        .expect("auth")
        .with_clock(clock.clone());
    let sess = auth
        .login("alice@example.test", PW, "127.0.0.1")
        .await
        .expect("login")
        .session()
        .expect("no second step");
    // used every 59 minutes: alive (1 h idle timeout by default)
    for _ in 0..3 {
        clock.advance(Duration::from_secs(59 * 60));
        assert!(auth.session(&sess.cookie).await.is_some());
    }
    // then an hour without a request: gone, for good
    clock.advance(Duration::from_secs(60 * 60));
    assert!(auth.session(&sess.cookie).await.is_none());
}

#[actix_web::test]
async fn sessions_end_at_the_absolute_limit_even_when_active() {
    let s = setup("absolute").await;
    let dir = common::temp_dir("abs-cfg");
    let wc = web_config(&dir);
    let clock = server::auth::Clock::manual(server::store::now_ms());
    let auth = Auth::new(s.store.clone(), &wc)
        .await
        .expect("auth")
        .with_clock(clock.clone());
    let sess = auth
        .login("alice@example.test", PW, "127.0.0.1")
        .await
        .expect("login")
        .session()
        .expect("no second step");
    // active every 50 minutes for almost 12 hours (the default lifetime)
    for _ in 0..14 {
        clock.advance(Duration::from_secs(50 * 60));
        assert!(auth.session(&sess.cookie).await.is_some());
    }
    clock.advance(Duration::from_secs(50 * 60));
    assert!(
        auth.session(&sess.cookie).await.is_none(),
        "12 h after login"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_is_served_over_https_with_the_service_certificate() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut cfg = common::test_config("web-tls");
    cfg.smtp.self_signed = true;
    cfg.web.tls_listen = vec!["127.0.0.1:0".parse().expect("addr")];
    let r = common::start_holding(&cfg).await;
    let addr = r.web_tls_addrs[0];
    // any certificate: the test checks what the web listener serves over
    // TLS, not the self-signed chain (the delivery client's opportunistic
    // configuration)
    let mut config = (*server::queue::TlsSetup::new().expect("TLS").any).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    tls.write_all(
        b"GET /login HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\nConnection: close\r\n\r\n",
    )
    .await
    .expect("request");
    let mut page = Vec::new();
    tls.read_to_end(&mut page).await.expect("response");
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.starts_with("HTTP/1.1 200"),
        "{}",
        &page[..page.len().min(300)]
    );
    assert!(page.contains(r#"name="password""#), "the login form");
    // plain HTTP is still served where configured (for a reverse proxy)
    let mut plain = tokio::net::TcpStream::connect(r.web_addr)
        .await
        .expect("connect");
    plain
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut page = Vec::new();
    plain.read_to_end(&mut page).await.expect("response");
    assert!(page.starts_with(b"HTTP/1.1 200"));
    r.stop().await;
}

/// The hidden CSRF inputs of a page.
fn csrf_inputs(page: &str) -> Vec<String> {
    page.split("name=\"csrf\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

#[actix_web::test]
async fn pages_go_compressed_and_never_show_the_same_csrf_bytes_twice() {
    use std::io::Read;
    let s = setup("compressed").await;
    let svc = app(&s).await;
    let (cookie, raw) = session_of(&s, &svc, "alice@example.test").await;
    let c = actix_web::cookie::Cookie::new("continuity", cookie.clone());
    let page = |accept: Option<&'static str>| {
        let mut r = TestRequest::get()
            .uri(&format!("/mail/m/{}", s.alice_mail))
            .cookie(c.clone());
        if let Some(a) = accept {
            r = r.insert_header(("accept-encoding", a));
        }
        r.to_request()
    };
    let header = |r: &actix_web::dev::ServiceResponse<_>, h: &str| {
        r.headers()
            .get_all(h)
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ")
    };

    // a browser's Accept-Encoding: brotli; gzip for those without it
    let r = test::call_service(&svc, page(Some("gzip, deflate, br, zstd"))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-encoding"), "br");
    assert!(header(&r, "vary").contains("accept-encoding"));
    assert_eq!(header(&r, "cache-control"), "no-store");
    let r = test::call_service(&svc, page(Some("gzip"))).await;
    assert_eq!(header(&r, "content-encoding"), "gzip");
    let zipped = test::read_body(r).await;
    let mut html = String::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_string(&mut html)
        .expect("a gzip page");
    assert!(
        html.contains("<html") && html.len() > zipped.len() * 2,
        "{}",
        html.len()
    );

    // each render masks the token afresh; the token itself never shows
    let r = test::call_service(&svc, page(None)).await;
    assert_eq!(header(&r, "content-encoding"), "");
    let first = body_text(r).await;
    let second = body_text(test::call_service(&svc, page(None)).await).await;
    assert!(!html.contains(&raw) && !first.contains(&raw) && !second.contains(&raw));
    let (a, b) = (csrf_inputs(&first), csrf_inputs(&second));
    assert!(!a.is_empty() && a.len() == b.len(), "{a:?} {b:?}");
    // one mask per response: every form of a page has the same, the next
    // page another
    assert!(a.iter().all(|t| *t == a[0]) && b.iter().all(|t| *t == b[0]));
    assert_ne!(a[0], b[0]);
    // a masked token from the page works, once tampered it does not
    let mut tampered = a[0].clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for (token, status) in [(tampered.as_str(), 403), (a[0].as_str(), 303)] {
        let req = TestRequest::post()
            .uri(&format!("/mail/m/{}/seen", s.alice_mail))
            .cookie(c.clone())
            .set_form([("csrf", token), ("seen", "0")])
            .to_request();
        assert_eq!(
            test::call_service(&svc, req).await.status(),
            status,
            "{token}"
        );
    }
    // what is not a page goes as it is
    let req = TestRequest::get()
        .uri("/healthz")
        .insert_header(("accept-encoding", "br"))
        .to_request();
    let r = test::call_service(&svc, req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-encoding"), "");
}
