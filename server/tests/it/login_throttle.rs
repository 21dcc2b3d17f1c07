//! Logging in while someone is guessing: the guessing source is locked out,
//! never the account's owner; attempts are counted before their password
//! is checked; behind a trusted reverse proxy each client is itself; a
//! login costs the same whoever the address names; the current password
//! cannot be guessed through a session left open; and only users the
//! Continuity Service covers get in (and stay in). Tried by breaking each.

use crate::common;

use actix_web::test::{self, TestRequest};
use server::store::DomainId;

use common::mailuser::*;

fn login_from(peer: &str, address: &str, password: &str) -> actix_http::Request {
    TestRequest::post()
        .uri("/auth/login")
        .peer_addr(peer.parse().expect("addr"))
        .set_form([("address", address), ("password", password)])
        .to_request()
}

#[actix_web::test]
async fn guessing_locks_out_the_guessing_source_not_the_owner() {
    let s = setup("throttle-source").await;
    let svc = app(&s).await;
    let attacker = "203.0.113.66:5000";
    // five wrong guesses, one through an alias: the account counts, not
    // the address typed
    for address in [
        "alice@example.test",
        "a.martin@example.test",
        "ALICE@example.test",
        "alice@example.test",
        "a.martin@example.test",
    ] {
        let r = test::call_service(&svc, login_from(attacker, address, "guess-123456")).await;
        assert!(
            location(&r).starts_with("/login?error=invalid"),
            "{}",
            location(&r)
        );
    }
    // the attacker now gets nowhere with alice, even with her password...
    let r = test::call_service(&svc, login_from(attacker, "alice@example.test", PW)).await;
    assert!(
        location(&r).starts_with("/login?error=throttled"),
        "{}",
        location(&r)
    );
    // ... while alice, from her own address, gets in at once
    let r = test::call_service(
        &svc,
        login_from("198.51.100.20:4000", "alice@example.test", PW),
    )
    .await;
    assert_eq!(location(&r), "/mail/inbox");
    assert!(session_cookie(&r).is_some());
}

#[actix_web::test]
async fn an_address_spraying_many_accounts_is_locked_out() {
    let s = setup("throttle-spray").await;
    let svc = app(&s).await;
    let sprayer = "203.0.113.77:5000";
    for i in 0..30 {
        let r = test::call_service(
            &svc,
            login_from(sprayer, &format!("user{i}@example.test"), "Winter2026!"),
        )
        .await;
        assert!(location(&r).starts_with("/login?error=invalid"));
    }
    let r = test::call_service(&svc, login_from(sprayer, "bob@example.test", PW)).await;
    assert!(
        location(&r).starts_with("/login?error=throttled"),
        "{}",
        location(&r)
    );
    // another address of the same IPv6 /64 is the same sprayer
    for i in 0..30 {
        test::call_service(
            &svc,
            login_from("[2001:db8:7:7::1]:1", &format!("u{i}@example.test"), "x"),
        )
        .await;
    }
    let r = test::call_service(
        &svc,
        login_from("[2001:db8:7:7::beef]:1", "bob@example.test", PW),
    )
    .await;
    assert!(location(&r).starts_with("/login?error=throttled"));
    let r = test::call_service(
        &svc,
        login_from("[2001:db8:7:8::1]:1", "bob@example.test", PW),
    )
    .await;
    assert_eq!(location(&r), "/mail/inbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_are_counted_before_their_password_is_checked() {
    let s = setup("throttle-race").await;
    // twenty guesses at once from one address: only the limit's worth (5)
    // are checked at all, the rest refused before hashing
    let before = s.auth.hash_checks();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let auth = s.auth.clone();
        tasks.push(tokio::spawn(async move {
            auth.login(
                "alice@example.test",
                &format!("guess-{i}-xyzzy"),
                "203.0.113.9",
            )
            .await
        }));
    }
    let mut invalid = 0;
    let mut throttled = 0;
    for t in tasks {
        match t.await.expect("task") {
            Err(server::auth::LoginError::Invalid) => invalid += 1,
            Err(server::auth::LoginError::Throttled) => throttled += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((invalid, throttled), (5, 15));
    assert_eq!(
        s.auth.hash_checks() - before,
        5 * 2,
        "two checks per login that got through"
    );
}

#[actix_web::test]
async fn a_login_costs_the_same_whoever_the_address_names() {
    let s = setup("throttle-timing").await;
    let hash = server::auth::password::hash(PW).expect("hash");
    s.store
        .add_admin("it@example.test", "IT", false, &[DomainId(1)], &hash)
        .await
        .expect("admin");
    // an administrator, a user, an address that is both, nobody; right or
    // wrong password: the same password work every time (else the time a
    // login takes tells which addresses are administrators)
    s.store
        .add_admin("bob@example.test", "Bob", false, &[DomainId(1)], &hash)
        .await
        .expect("admin and user");
    for (address, password) in [
        ("it@example.test", "wrong wrong wrong"),
        ("it@example.test", PW),
        ("alice@example.test", "wrong wrong wrong"),
        ("alice@example.test", PW),
        ("bob@example.test", "wrong wrong wrong"),
        ("nobody@example.test", "wrong wrong wrong"),
    ] {
        let before = s.auth.hash_checks();
        let _ = s.auth.login(address, password, "198.51.100.30").await;
        assert_eq!(s.auth.hash_checks() - before, 2, "{address}");
    }
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_client_is_itself() {
    let s = setup("throttle-proxy").await;
    let svc = app(&s).await;
    // the test app trusts 127.0.0.100 as its reverse proxy
    let via_proxy = |client: &str, address: &str, password: &str| {
        TestRequest::post()
            .uri("/auth/login")
            .peer_addr("127.0.0.100:443".parse().expect("addr"))
            .insert_header(("x-forwarded-for", client.to_string()))
            .set_form([("address", address), ("password", password)])
            .to_request()
    };
    // one client behind the proxy sprays 30 accounts: locked out...
    for i in 0..30 {
        test::call_service(
            &svc,
            via_proxy("203.0.113.5", &format!("n{i}@example.test"), "x"),
        )
        .await;
    }
    let r = test::call_service(&svc, via_proxy("203.0.113.5", "alice@example.test", PW)).await;
    assert!(
        location(&r).starts_with("/login?error=throttled"),
        "{}",
        location(&r)
    );
    // ... not everyone else who comes through the same proxy
    let r = test::call_service(&svc, via_proxy("198.51.100.44", "alice@example.test", PW)).await;
    assert_eq!(location(&r), "/mail/inbox");
    // the header is believed only from the proxy: from anywhere else, the
    // socket's address counts (a client cannot pick a fresh address)
    for i in 0..30 {
        let req = TestRequest::post()
            .uri("/auth/login")
            .peer_addr("203.0.113.200:1".parse().expect("addr"))
            .insert_header(("x-forwarded-for", format!("10.9.9.{i}")))
            .set_form([
                ("address", format!("m{i}@example.test")),
                ("password", "x".into()),
            ])
            .to_request();
        test::call_service(&svc, req).await;
    }
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr("203.0.113.200:1".parse().expect("addr"))
        .insert_header(("x-forwarded-for", "10.9.9.250"))
        .set_form([("address", "alice@example.test"), ("password", PW)])
        .to_request();
    let r = test::call_service(&svc, req).await;
    assert!(
        location(&r).starts_with("/login?error=throttled"),
        "{}",
        location(&r)
    );
}

#[actix_web::test]
async fn the_current_password_cannot_be_guessed_through_an_open_session() {
    let s = setup("throttle-change").await;
    let svc = app(&s).await;
    let r = test::call_service(
        &svc,
        login_from("198.51.100.50:1", "alice@example.test", PW),
    )
    .await;
    let cookie = session_cookie(&r).expect("session");
    let csrf = s.auth.session(cookie.value()).await.expect("s").csrf;
    let change = |current: &str| {
        TestRequest::post()
            .uri("/settings/password")
            .peer_addr("198.51.100.50:1".parse().expect("addr"))
            .cookie(cookie.clone())
            .set_form([
                ("csrf", csrf.as_str()),
                ("current", current),
                ("password", "saffron-lighthouse-Walrus-42"),
                ("confirm", "saffron-lighthouse-Walrus-42"),
            ])
            .to_request()
    };
    for i in 0..5 {
        let r = test::call_service(&svc, change(&format!("guess number {i}"))).await;
        assert_eq!(location(&r), "/settings?e=current");
    }
    let r = test::call_service(&svc, change(PW)).await;
    assert_eq!(location(&r), "/settings?e=throttled");
    // nothing changed: the old password still works elsewhere
    assert!(s
        .auth
        .login("alice@example.test", PW, "198.51.100.51")
        .await
        .is_ok());
}

#[actix_web::test]
async fn only_covered_users_log_in_and_a_user_removed_is_logged_out() {
    let s = setup("throttle-covered").await;
    let svc = app(&s).await;
    let r = test::call_service(
        &svc,
        login_from("198.51.100.60:1", "alice@example.test", PW),
    )
    .await;
    let cookie = session_cookie(&r).expect("session");
    let inbox = || {
        TestRequest::get()
            .uri("/mail/inbox")
            .cookie(cookie.clone())
            .insert_header(("accept", "text/html"))
            .to_request()
    };
    assert_eq!(test::call_service(&svc, inbox()).await.status(), 200);
    // the domain admin keeps only bob: alice is no longer covered
    let example = s
        .store
        .domain_by_name("example.test")
        .await
        .expect("q")
        .expect("d")
        .id;
    s.store
        .set_continuity_scope(example, "selected", true, "test")
        .await
        .expect("scope");
    s.store
        .add_continuity_user(example, "bob@example.test", "test")
        .await
        .expect("bob");
    // her open session ends at its next request...
    let r = test::call_service(&svc, inbox()).await;
    assert!(s.auth.session(cookie.value()).await.is_none());
    assert_ne!(r.status(), 200);
    // ... and a send, by any path, is refused at the moment it is made
    // (a mail app's SMTP session opened before she was removed too)
    let alice = s
        .store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("alice");
    let snap = s.store.directory_snapshot().await.expect("snap");
    let sent = server::relay::send(
        &s.store,
        &snap,
        &server::relay::RelayOptions::default(),
        server::relay::Outgoing {
            origin: server::store::Origin::Submission,
            sender: server::relay::Sender::User(alice.user),
            mail_from: "alice@example.test".into(),
            rcpts: vec!["someone@remote.test".into()],
            raw: b"From: alice@example.test\r\nTo: someone@remote.test\r\nSubject: x\r\n\r\nx\r\n"
                .to_vec(),
            summary: None,
            client_ip: None,
            helo: None,
            tls: true,
        },
    )
    .await;
    assert!(
        matches!(sent, Err(server::relay::RelayError::NotCovered)),
        "{sent:?}"
    );
    // ... and a login says why, only once the password is right
    let r = test::call_service(
        &svc,
        login_from("198.51.100.60:1", "alice@example.test", PW),
    )
    .await;
    assert!(
        location(&r).starts_with("/login?error=notcovered"),
        "{}",
        location(&r)
    );
    assert!(session_cookie(&r).is_none());
    let r = test::call_service(
        &svc,
        login_from("198.51.100.60:1", "alice@example.test", "wrong!wrong!"),
    )
    .await;
    assert!(
        location(&r).starts_with("/login?error=invalid"),
        "{}",
        location(&r)
    );
    // IMAP and submission share the rule
    assert_eq!(
        s.auth
            .verify_user(
                "alice@example.test",
                PW,
                "198.51.100.60",
                server::auth::Channel::Imap
            )
            .await
            .err(),
        Some(server::auth::LoginError::NotCovered)
    );
    // bob is covered
    let r = test::call_service(&svc, login_from("198.51.100.61:1", "bob@example.test", PW)).await;
    assert_eq!(location(&r), "/mail/inbox");
    // the service off for the domain: nobody
    s.store
        .set_continuity_enabled(example, false, "test")
        .await
        .expect("off");
    let r = test::call_service(&svc, login_from("198.51.100.61:1", "bob@example.test", PW)).await;
    assert!(location(&r).starts_with("/login?error=notcovered"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_whole_office_behind_one_address_logs_in_at_once() {
    // the outage starts: forty colleagues behind the office's one public
    // address open the webmail in the same minute
    let s = setup("throttle-office").await;
    for i in 0..40 {
        let address = format!("colleague{i}@example.test");
        s.store
            .add_user(&address, "", &[], "local")
            .await
            .expect("user");
        s.auth.set_password(&address, PW).await.expect("password");
    }
    let mut tasks = Vec::new();
    for i in 0..40 {
        let auth = s.auth.clone();
        tasks.push(tokio::spawn(async move {
            auth.login(&format!("colleague{i}@example.test"), PW, "203.0.113.80")
                .await
        }));
    }
    for t in tasks {
        assert!(t.await.expect("task").is_ok(), "everyone gets in");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mail_app_logging_in_on_many_connections_at_once_gets_them_all() {
    // a desktop client opens several IMAP connections and logs in on each
    // at the same moment: they take turns, none is refused
    let s = setup("throttle-app").await;
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let auth = s.auth.clone();
        tasks.push(tokio::spawn(async move {
            auth.verify_user(
                "alice@example.test",
                PW,
                "198.51.100.90",
                server::auth::Channel::Imap,
            )
            .await
        }));
    }
    for t in tasks {
        assert!(t.await.expect("task").is_ok());
    }
}
