//! The Control Panel's directory sync page and forms, tried by role and
//! with bad input: settings saved and audited, validation errors shown,
//! a test and a sync against a directory that is down change nothing and
//! say why. (The sync itself is tested against a real slapd in
//! end2end/mail/test_directory.py.)

use crate::common;

use actix_web::test::{self, TestRequest};
use common::control::{app, location, login, setup};

#[actix_web::test]
async fn directory_settings_test_and_sync_from_the_control_panel() {
    let s = setup("directory-web").await;
    let svc = app(&s).await;
    let cookie = login(&svc, "admin@example.test", "continuity-admin").await;
    let csrf = s.auth.admin_session(cookie.value()).await.expect("s").csrf;
    let dir = common::temp_dir("directory-web-secret");
    let secret = dir.join("bind.secret");
    std::fs::write(&secret, "s3cret\n").expect("secret");
    let secret = secret.display().to_string();
    let post = |path: &str, fields: Vec<(&str, String)>| {
        TestRequest::post()
            .uri(path)
            .cookie(cookie.clone())
            .set_form(fields)
            .to_request()
    };
    let settings = |url: &str, csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("url", url.to_string()),
            ("bind_dn", "cn=sync,dc=example,dc=test".to_string()),
            ("bind_password_file", secret.clone()),
            ("base_dn", "ou=people,dc=example,dc=test".to_string()),
            ("user_filter", "(mail=*)".to_string()),
            ("group_dn", String::new()),
            ("flavor", "openldap".to_string()),
            ("interval_min", "60".to_string()),
            ("max_disable_pct", "20".to_string()),
        ]
    };

    // another domain: not found; a forged token: refused
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/other.test/directory/settings",
            settings("ldap://127.0.0.1:9", &csrf),
        ),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/directory/settings",
            settings("ldap://127.0.0.1:9", "forged"),
        ),
    )
    .await;
    assert_eq!(r.status(), 403);
    assert!(s.store.directory(s.example).await.expect("q").is_none());

    // a bad URL: said, nothing saved
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/directory/settings",
            settings("http://dc", &csrf),
        ),
    )
    .await;
    assert!(
        location(&r).ends_with("e=settings&why=url"),
        "{}",
        location(&r)
    );
    assert!(s.store.directory(s.example).await.expect("q").is_none());

    // saved (a port nobody listens on: the directory is "down"); plain
    // LDAP without StartTLS would carry the bind password in clear: a
    // domain admin cannot choose it
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("ldap://127.0.0.1:{dead}");
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/directory/settings",
            settings(&url, &csrf),
        ),
    )
    .await;
    assert!(
        location(&r).ends_with("e=settings&why=plaintext"),
        "{}",
        location(&r)
    );
    let mut plain_allowed = settings(&url, &csrf);
    plain_allowed.push(("allow_plaintext", "1".into()));
    let r = test::call_service(
        &svc,
        post("/admin/d/example.test/directory/settings", plain_allowed),
    )
    .await;
    assert!(
        location(&r).contains("e=settings&why="),
        "not theirs to allow"
    );
    assert!(s.store.directory(s.example).await.expect("q").is_none());
    let mut with_starttls = settings(&url, &csrf);
    with_starttls.push(("starttls", "1".into()));
    let r = test::call_service(
        &svc,
        post("/admin/d/example.test/directory/settings", with_starttls),
    )
    .await;
    assert_eq!(
        location(&r),
        "/admin/d/example.test/directory?done=settings"
    );
    let c = s
        .store
        .directory(s.example)
        .await
        .expect("q")
        .expect("saved");
    // a domain admin cannot name files on the server (the bind password
    // would be any file they like, sent to a directory they choose)
    assert_eq!(c.bind_password_file, None);
    assert!(c.starttls);
    // an operator may allow plain LDAP, with the password's file
    let ops = login(&svc, "ops@provider.test", "continuity-admin").await;
    let ops_csrf = s.auth.admin_session(ops.value()).await.expect("s").csrf;
    let mut by_ops = settings(&url, &ops_csrf);
    by_ops.push(("allow_plaintext", "1".into()));
    let r = test::call_service(
        &svc,
        TestRequest::post()
            .uri("/admin/d/example.test/directory/settings")
            .cookie(ops.clone())
            .set_form(by_ops)
            .to_request(),
    )
    .await;
    assert_eq!(
        location(&r),
        "/admin/d/example.test/directory?done=settings"
    );
    let c = s
        .store
        .directory(s.example)
        .await
        .expect("q")
        .expect("saved");
    assert_eq!(c.bind_password_file.as_deref(), Some(secret.as_str()));
    assert!(c.allow_plaintext && !c.starttls);
    // the domain admin edits the same server: the operator's choices stay,
    // their own file name is ignored
    let mut sneaky = settings(&url, &csrf);
    sneaky[3].1 = "/etc/passwd".into();
    sneaky[5].1 = "(objectClass=inetOrgPerson)".into();
    let r = test::call_service(
        &svc,
        post("/admin/d/example.test/directory/settings", sneaky),
    )
    .await;
    assert_eq!(
        location(&r),
        "/admin/d/example.test/directory?done=settings"
    );
    let c = s
        .store
        .directory(s.example)
        .await
        .expect("q")
        .expect("saved");
    assert_eq!(
        c.bind_password_file.as_deref(),
        Some(secret.as_str()),
        "kept"
    );
    assert_eq!(c.user_filter, "(objectClass=inetOrgPerson)");
    assert!(c.allow_plaintext, "the operator's choice, same server");
    // ... but whoever may not set the password may not change where it
    // goes: another server, StartTLS switched, or the same server in clear
    // elsewhere clears the password's file
    for (capture, ok) in [
        (format!("ldap://127.0.0.1:{}", dead.wrapping_add(1)), false),
        (format!("ldaps://attacker.example:{dead}"), true),
    ] {
        let r = test::call_service(
            &svc,
            post(
                "/admin/d/example.test/directory/settings",
                settings(&capture, &csrf),
            ),
        )
        .await;
        let c = s
            .store
            .directory(s.example)
            .await
            .expect("q")
            .expect("saved");
        if ok {
            assert_eq!(
                location(&r),
                "/admin/d/example.test/directory?done=settings&cleared=1"
            );
            assert_eq!(c.url, capture);
            assert_eq!(c.bind_password_file, None, "never sent to {capture}");
            assert!(!c.allow_plaintext);
        } else {
            // plain LDAP to another server: refused, nothing changed
            assert!(location(&r).ends_with("why=plaintext"), "{}", location(&r));
            assert_eq!(c.url, url);
            assert_eq!(c.bind_password_file.as_deref(), Some(secret.as_str()));
        }
    }
    // the operator sets it back
    let mut by_ops = settings(&url, &ops_csrf);
    by_ops.push(("allow_plaintext", "1".into()));
    test::call_service(
        &svc,
        TestRequest::post()
            .uri("/admin/d/example.test/directory/settings")
            .cookie(ops.clone())
            .set_form(by_ops)
            .to_request(),
    )
    .await;
    let audit = s.store.audit_log(s.example, 5).await.expect("audit");
    assert!(audit.iter().any(|a| a.action == "directory settings"));

    // test and sync against a dead directory: the reason, nothing changed
    let before = s.store.sync_users(s.example).await.expect("users");
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/directory/test",
            vec![("csrf", csrf.clone())],
        ),
    )
    .await;
    assert!(
        location(&r).contains("tested=fail&detail=cannot%20reach"),
        "{}",
        location(&r)
    );
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/directory/sync",
            vec![("csrf", csrf.clone())],
        ),
    )
    .await;
    assert_eq!(location(&r), "/admin/d/example.test/directory?e=sync");
    assert_eq!(s.store.sync_users(s.example).await.expect("users"), before);

    // the page shows the settings and the failed run, never the password
    let req = TestRequest::get()
        .uri("/admin/d/example.test/directory")
        .cookie(cookie.clone())
        .insert_header(("accept", "text/html"))
        .insert_header(("accept-language", "en"))
        .to_request();
    let page = String::from_utf8_lossy(&test::read_body(test::call_service(&svc, req).await).await)
        .replace("<!>", "");
    assert!(page.contains(r#"id="last-result""#), "{page}");
    assert!(page.contains("failed, nothing was changed"));
    // the library's words only behind the disclosure
    assert!(
        page.contains("<summary>details</summary><code>cannot reach the directory"),
        "{page}"
    );
    assert!(!page.contains("s3cret"));
    // and another domain's page is not found
    let req = TestRequest::get()
        .uri("/admin/d/other.test/directory")
        .cookie(cookie.clone())
        .insert_header(("accept", "text/html"))
        .to_request();
    let page = String::from_utf8_lossy(&test::read_body(test::call_service(&svc, req).await).await)
        .into_owned();
    assert!(page.contains("There is nothing at this address"));
}
