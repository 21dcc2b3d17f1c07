//! A domain's settings from the Control Panel: emergency password
//! invitations (send, resend, reset), the primary and its monitoring, and
//! the domain's state changed by hand.

use super::*;

#[actix_web::test]
async fn emergency_password_invites_resend_reset_and_primary_settings() {
    let s = setup("cp-emergency").await;
    let svc = app(&s).await;
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr("127.0.0.1:1".parse().expect("addr"))
        .set_form([("address", "admin@example.test"), ("password", PW)])
        .to_request();
    let r = test::call_service(&svc, req).await;
    let cookie = r
        .response()
        .cookies()
        .find(|c| c.name() == "continuity-admin")
        .expect("cookie")
        .into_owned();
    let csrf = s.auth.admin_session(cookie.value()).await.expect("s").csrf;
    let post = |path: &str, form: Vec<(&str, &str)>| {
        TestRequest::post()
            .uri(path)
            .cookie(cookie.clone())
            .set_form(&form)
            .to_request()
    };
    let status = |st: Store| async move {
        st.emergency_status(DomainId(1))
            .await
            .expect("status")
            .into_iter()
            .map(|e| (e.address, e.status))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        status(s.store.clone()).await,
        [
            ("alice@example.test".to_string(), "set".to_string()),
            ("bob@example.test".into(), "none".into()),
            ("carol@example.test".into(), "none".into())
        ]
    );
    // Activer le mot de passe d'urgence: bob and carol are invited (mail queued for the primary)
    let before = s.store.message_count().await.expect("count");
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/continuity/emergency",
            vec![("csrf", &csrf), ("enabled", "1")],
        ),
    )
    .await;
    assert_eq!(
        location(&r),
        "/admin/d/example.test/continuity?done=emergency-on&sent=2"
    );
    assert_eq!(s.store.message_count().await.expect("count"), before + 2);
    assert!(s.store.emergency_enabled(s.example).await.expect("q"));
    let st = status(s.store.clone()).await;
    assert_eq!(st[1].1, "invited");
    assert_eq!(st[2].1, "invited");
    // reset alice: her password stops working, she is invited again
    let alice = s
        .store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("a")
        .user;
    let r = test::call_service(
        &svc,
        post(
            &format!(
                "/admin/d/example.test/continuity/emergency/{}/reset",
                alice.0
            ),
            vec![("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(location(&r), "/admin/d/example.test/continuity?done=reset");
    assert_eq!(
        s.auth
            .login("alice@example.test", PW, "127.0.0.2")
            .await
            .err(),
        Some(server::auth::LoginError::Invalid)
    );
    assert_eq!(status(s.store.clone()).await[0].1, "invited");
    // another domain's user through this domain's URL: not found
    let dave = s
        .store
        .account_by_address("dave@other.test")
        .await
        .expect("q")
        .expect("d")
        .user;
    let r = test::call_service(
        &svc,
        post(
            &format!(
                "/admin/d/example.test/continuity/emergency/{}/resend",
                dave.0
            ),
            vec![("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(r.status(), 404);

    // primary settings: a bad value is refused with nothing changed
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
        .to_string();
    let form = |host: &str, action: &str| -> Vec<(String, String)> {
        [
            ("csrf", csrf.as_str()),
            ("host", host),
            ("port", dead.as_str()),
            ("tls", "none"),
            ("interval", "10"),
            ("timeout", "2"),
            ("fail_after", "3"),
            ("recover_after", "2"),
            ("probe_rcpt", ""),
            ("action", action),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    };
    let send = |f: Vec<(String, String)>| {
        TestRequest::post()
            .uri("/admin/d/example.test/continuity/primary")
            .cookie(cookie.clone())
            .set_form(&f)
            .to_request()
    };
    let r = test::call_service(&svc, send(form("bad host!", "save"))).await;
    assert!(
        location(&r).contains("e=primary&field=host"),
        "{}",
        location(&r)
    );
    // a domain admin names a public mail server: not our own network, not
    // any port (else the test button scans ports and reads banners)
    let r = test::call_service(&svc, send(form("127.0.0.1", "test"))).await;
    assert!(
        location(&r).contains("e=primary&field=port&why=port"),
        "{}",
        location(&r)
    );
    let on_port = |host: &str, port: &str, action: &str| {
        let mut f = form(host, action);
        f[2].1 = port.to_string();
        send(f)
    };
    for (host, port, why) in [
        ("127.0.0.1", "25", "field=host&why=address"),
        ("localhost", "587", "field=host&why=address"),
        ("10.0.0.5", "25", "field=host&why=address"),
        ("169.254.169.254", "25", "field=host&why=address"),
        ("[::1]", "25", "field=host&why=address"),
        ("192.0.2.25", "22", "field=port&why=port"),
        ("no-such-host.invalid", "25", "field=host&why=unresolved"),
    ] {
        for action in ["test", "save"] {
            let r = test::call_service(&svc, on_port(host, port, action)).await;
            assert!(location(&r).contains(why), "{host}:{port} {}", location(&r));
        }
    }
    let mut other_rcpt = form("192.0.2.25", "save");
    other_rcpt[2].1 = "25".into();
    other_rcpt[8].1 = "postmaster@other.test".into();
    let r = test::call_service(&svc, send(other_rcpt)).await;
    assert!(
        location(&r).contains("field=probe_rcpt"),
        "{}",
        location(&r)
    );
    assert_eq!(
        s.store
            .monitored_domain(s.example)
            .await
            .expect("q")
            .expect("d")
            .primary_port,
        2526,
        "nothing refused was saved"
    );
    // an operator allows the loopback network and a port for this domain
    let allow = server::monitor::reach::PrimaryAllowance::parse("127.0.0.0/8", &dead).expect("a");
    s.store
        .set_primary_allowance(s.example, &allow)
        .await
        .expect("allow");
    let r = test::call_service(&svc, send(form("127.0.0.1", "test"))).await;
    assert!(location(&r).contains("tested=fail"), "{}", location(&r));
    assert!(
        location(&r).contains("connection%20refused"),
        "{}",
        location(&r)
    );
    assert_eq!(
        s.store
            .monitored_domain(s.example)
            .await
            .expect("q")
            .expect("d")
            .primary_port,
        2526,
        "a test saves nothing"
    );
    // a service that is not SMTP: said so, none of its bytes shown
    let ssh = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ssh_port = ssh.local_addr().expect("addr").port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut c, _)) = ssh.accept().await {
            let _ = c
                .write_all(b"SSH-2.0-OpenSSH_9.2 internal-build-7731\r\n")
                .await;
        }
    });
    let allow = server::monitor::reach::PrimaryAllowance::parse(
        "127.0.0.0/8",
        &format!("{dead} {ssh_port}"),
    )
    .expect("a");
    s.store
        .set_primary_allowance(s.example, &allow)
        .await
        .expect("allow");
    let r = test::call_service(&svc, on_port("127.0.0.1", &ssh_port.to_string(), "test")).await;
    let at = location(&r);
    assert!(at.contains("tested=fail"), "{at}");
    assert!(at.contains("not%20an%20SMTP%20server"), "{at}");
    assert!(!at.contains("OpenSSH") && !at.contains("7731"), "{at}");
    let r = test::call_service(&svc, send(form("127.0.0.1", "save"))).await;
    assert_eq!(
        location(&r),
        "/admin/d/example.test/continuity?done=primary"
    );
    let m = s
        .store
        .monitored_domain(s.example)
        .await
        .expect("q")
        .expect("d");
    assert_eq!((m.probe_interval_ms, m.fail_after), (10_000, 3));
    assert_eq!(m.primary_port.to_string(), dead);
    let audit = s.store.audit_log(s.example, 20).await.expect("audit");
    let actions: Vec<_> = audit.iter().map(|a| a.action.as_str()).collect();
    for a in [
        "primary",
        "emergency_password.reset",
        "emergency_password.invite",
        "emergency_password",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

#[actix_web::test]
async fn admins_start_end_and_rehearse_continuity_from_the_control_panel() {
    let s = setup("cp-state").await;
    let svc = app(&s).await;
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr("127.0.0.1:1".parse().expect("addr"))
        .set_form([("address", "admin@example.test"), ("password", PW)])
        .to_request();
    let r = test::call_service(&svc, req).await;
    let cookie = r
        .response()
        .cookies()
        .find(|c| c.name() == "continuity-admin")
        .expect("cookie")
        .into_owned();
    let csrf = s.auth.admin_session(cookie.value()).await.expect("s").csrf;
    let act = |action: &str, domain: &str| {
        TestRequest::post()
            .uri(&format!("/admin/d/{domain}/continuity/state"))
            .cookie(cookie.clone())
            .set_form([
                ("csrf", csrf.as_str()),
                ("action", action),
                ("minutes", "5"),
            ])
            .to_request()
    };
    let state = |st: Store, d: DomainId| async move {
        st.monitored_domain(d).await.expect("q").expect("d").state
    };
    let r = test::call_service(&svc, act("activate", "example.test")).await;
    assert_eq!(
        location(&r),
        "/admin/d/example.test/continuity?done=state-outage"
    );
    assert_eq!(state(s.store.clone(), s.example).await, "outage");
    let r = test::call_service(&svc, act("activate", "example.test")).await;
    assert_eq!(location(&r), "/admin/d/example.test/continuity?e=state");
    let r = test::call_service(&svc, act("end", "example.test")).await;
    assert_eq!(
        location(&r),
        "/admin/d/example.test/continuity?done=state-recovering"
    );
    // not this admin's domain
    assert_eq!(
        test::call_service(&svc, act("activate", "other.test"))
            .await
            .status(),
        404
    );
    assert_eq!(state(s.store.clone(), s.other).await, "normal");
    let tl = s.store.timeline(s.example, 5).await.expect("timeline");
    assert_eq!(tl[0].reason, "ended by admin@example.test");
    assert_eq!(tl[1].reason, "activated by admin@example.test");
}
