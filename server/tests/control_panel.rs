//! The Control Panel: the Continuity Service scope rules against the store,
//! and the admin routes in process — roles and domains tried, not assumed.

mod common;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use server::auth::Auth;
use server::config::TlsMode;
use server::store::control::ScopeError;
use server::store::{DomainId, Store};

const PW: &str = "velvet-harbor-Quokka-87";

struct Setup {
    store: Store,
    auth: Arc<Auth>,
    example: DomainId,
    other: DomainId,
}

async fn setup(tag: &str) -> Setup {
    let dir = common::temp_dir(tag);
    let store = Store::open(&dir.join("continuity.db"))
        .await
        .expect("store");
    let example = store
        .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
        .await
        .expect("domain")
        .id;
    let other = store
        .add_domain("other.test", "127.0.0.1", 2527, TlsMode::None)
        .await
        .expect("domain")
        .id;
    for (a, aliases) in [
        (
            "alice@example.test",
            vec!["a.martin@example.test".to_string()],
        ),
        ("bob@example.test", vec![]),
        ("carol@example.test", vec![]),
        ("dave@other.test", vec![]),
    ] {
        store.add_user(a, "", &aliases, "ldap").await.expect("user");
    }
    let env = vec![(
        "CONTINUITY_SERVER_DATA_DIR".to_string(),
        dir.display().to_string(),
    )];
    let wc = server::config::Config::load(None, env).expect("config").web;
    let auth = Arc::new(Auth::new(store.clone(), &wc).await.expect("auth"));
    let hash = server::auth::password::hash(PW).expect("hash");
    store
        .add_admin("ops@provider.test", "Ops", true, &[], &hash)
        .await
        .expect("operator");
    store
        .add_admin("admin@example.test", "", false, &[example], &hash)
        .await
        .expect("domain admin");
    auth.set_password("alice@example.test", PW)
        .await
        .expect("alice pw");
    Setup {
        store,
        auth,
        example,
        other,
    }
}

#[tokio::test]
async fn scope_rules_switching_confirmation_removal_and_re_adding() {
    let s = setup("cp-scope").await;
    let st = &s.store;
    let d = s.example;
    let covered = |addr: &'static str| {
        let st = st.clone();
        async move {
            st.account_by_address(addr)
                .await
                .expect("q")
                .expect("user")
                .covered
        }
    };
    assert!(covered("alice@example.test").await, "all users by default");

    // adding needs "selected users only"
    assert!(matches!(
        st.add_continuity_user(d, "alice@example.test", "t").await,
        Err(ScopeError::ScopeIsAll)
    ));
    assert!(st
        .set_continuity_scope(d, "selected", false, "admin@example.test")
        .await
        .expect("scope"));
    assert!(!covered("alice@example.test").await, "nobody selected yet");

    // by alias: the user is added under their primary address
    assert_eq!(
        st.add_continuity_user(d, "A.Martin@example.test", "admin@example.test")
            .await
            .expect("add"),
        "alice@example.test"
    );
    assert_eq!(
        st.add_continuity_user(d, "bob@example.test", "admin@example.test")
            .await
            .expect("add"),
        "bob@example.test"
    );
    assert!(covered("alice@example.test").await && !covered("carol@example.test").await);
    assert!(matches!(
        st.add_continuity_user(d, "alice@example.test", "x").await,
        Err(ScopeError::Duplicate(_))
    ));
    assert!(matches!(
        st.add_continuity_user(d, "nobody@example.test", "x").await,
        Err(ScopeError::Unknown(_))
    ));
    assert!(matches!(
        st.add_continuity_user(d, "dave@other.test", "x").await,
        Err(ScopeError::OtherDomain(_))
    ));
    assert!(matches!(
        st.add_continuity_user(d, "ali", "x").await,
        Err(ScopeError::NotAnAddress(_))
    ));
    let listed = |st: Store| async move {
        st.continuity_settings(d)
            .await
            .expect("q")
            .expect("settings")
            .users
            .into_iter()
            .map(|(_, a, _)| a)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(st.clone()).await,
        ["alice@example.test", "bob@example.test"]
    );

    // switching to all users with users listed: warning first, nothing changed
    assert!(matches!(
        st.set_continuity_scope(d, "all", false, "admin@example.test")
            .await,
        Err(ScopeError::NeedsConfirmation(2))
    ));
    assert_eq!(listed(st.clone()).await.len(), 2);
    assert_eq!(
        st.continuity_settings(d)
            .await
            .expect("q")
            .expect("s")
            .scope,
        "selected"
    );
    // Confirmer: the listed users are removed, every user is covered
    assert!(st
        .set_continuity_scope(d, "all", true, "admin@example.test")
        .await
        .expect("confirmed"));
    assert!(listed(st.clone()).await.is_empty());
    assert!(covered("carol@example.test").await);
    // back to selected: the list starts empty, users can be added again
    st.set_continuity_scope(d, "selected", false, "admin@example.test")
        .await
        .expect("scope");
    st.add_continuity_user(d, "bob@example.test", "admin@example.test")
        .await
        .expect("re-add");
    let bob = st
        .account_by_address("bob@example.test")
        .await
        .expect("q")
        .expect("bob")
        .user;
    assert!(st
        .remove_continuity_user(d, bob, "admin@example.test")
        .await
        .expect("remove"));
    assert!(!st
        .remove_continuity_user(d, bob, "admin@example.test")
        .await
        .expect("again"));

    // deactivated: nobody covered, and adding is refused
    assert!(st
        .set_continuity_enabled(d, false, "admin@example.test")
        .await
        .expect("off"));
    assert!(matches!(
        st.add_continuity_user(d, "bob@example.test", "x").await,
        Err(ScopeError::Deactivated)
    ));
    assert!(!covered("alice@example.test").await);

    // every change is in the audit trail, with who and before/after
    let audit = st.audit_log(d, 50).await.expect("audit");
    let actions: Vec<_> = audit.iter().rev().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "continuity.scope",
            "continuity.user.add",
            "continuity.user.add",
            "continuity.scope",
            "continuity.scope",
            "continuity.user.add",
            "continuity.user.remove",
            "continuity.enabled"
        ]
    );
    let confirm = &audit[audit.len() - 4];
    assert_eq!(
        confirm.before.as_deref(),
        Some("selected: alice@example.test, bob@example.test")
    );
    assert_eq!(confirm.after.as_deref(), Some("all"));
    assert!(audit.iter().all(|a| a.actor == "admin@example.test"));
    assert!(st.audit_log(s.other, 50).await.expect("audit").is_empty());
}

#[tokio::test]
async fn suggestions_need_three_characters_and_stay_in_the_domain() {
    let s = setup("cp-suggest").await;
    let st = &s.store;
    let names = |v: Vec<(String, String)>| v.into_iter().map(|(a, _)| a).collect::<Vec<_>>();
    assert!(st
        .suggest_users(s.example, "al", "", 10)
        .await
        .expect("q")
        .is_empty());
    assert_eq!(
        names(st.suggest_users(s.example, "mar", "", 10).await.expect("q")),
        ["a.martin@example.test"]
    );
    assert_eq!(
        names(
            st.suggest_users(s.example, "ple.te", "", 2)
                .await
                .expect("q")
        ),
        ["a.martin@example.test", "alice@example.test"],
        "paged"
    );
    assert_eq!(
        names(
            st.suggest_users(s.example, "ple.te", "alice@example.test", 10)
                .await
                .expect("q")
        ),
        ["bob@example.test", "carol@example.test"],
        "next page"
    );
    assert!(
        st.suggest_users(s.example, "dave", "", 10)
            .await
            .expect("q")
            .is_empty(),
        "other domain"
    );
    // LIKE wildcards are literal
    assert!(st
        .suggest_users(s.example, "%%%", "", 10)
        .await
        .expect("q")
        .is_empty());
    assert!(st
        .suggest_users(s.example, "___", "", 10)
        .await
        .expect("q")
        .is_empty());
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

fn location<B>(r: &ServiceResponse<B>) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[actix_web::test]
async fn admins_reach_their_domains_only_and_users_never_reach_the_admin_area() {
    let s = setup("cp-authz").await;
    let svc = app(&s).await;
    let login = |addr: &'static str| {
        TestRequest::post()
            .uri("/auth/login")
            .peer_addr("127.0.0.1:1".parse().expect("addr"))
            .set_form([("address", addr), ("password", PW)])
            .to_request()
    };
    let r = test::call_service(&svc, login("admin@example.test")).await;
    assert_eq!(
        location(&r),
        "/admin",
        "administrators land in the Control Panel"
    );
    let cookie = r
        .response()
        .cookies()
        .find(|c| c.name() == "continuity-admin")
        .expect("admin cookie")
        .into_owned();
    assert_eq!(cookie.http_only(), Some(true));
    let session = s.auth.admin_session(cookie.value()).await.expect("session");
    let csrf = session.csrf.clone();

    let get = |path: &str, c: &actix_web::cookie::Cookie<'static>| {
        TestRequest::get()
            .uri(path)
            .cookie(c.clone())
            .insert_header(("accept", "text/html"))
            .to_request()
    };
    let r = test::call_service(&svc, get("/admin/d/example.test/continuity", &cookie)).await;
    assert_eq!(r.status(), 200);
    let page = String::from_utf8_lossy(&test::read_body(r).await).into_owned();
    assert!(page.contains("Continuity Service"));
    // the French UI has the seed's words
    let req = TestRequest::get()
        .uri("/admin/d/example.test/continuity")
        .cookie(cookie.clone())
        .insert_header(("accept-language", "fr"))
        .to_request();
    let page = String::from_utf8_lossy(&test::read_body(test::call_service(&svc, req).await).await)
        .into_owned();
    for words in [
        "Paramètres de sécurité",
        "Tous les utilisateurs",
        "Utilisateurs sélectionnés uniquement",
        "Désactiver le Continuity Service",
    ] {
        assert!(page.contains(words), "{words}");
    }

    // another domain: not found, for pages and for every change
    let r = test::call_service(&svc, get("/admin/d/other.test/continuity", &cookie)).await;
    assert_eq!(r.status(), 404);
    for (path, form) in [
        (
            "/admin/d/other.test/continuity/enabled",
            vec![("csrf", csrf.as_str()), ("enabled", "0"), ("confirm", "1")],
        ),
        (
            "/admin/d/other.test/continuity/scope",
            vec![("csrf", csrf.as_str()), ("scope", "selected")],
        ),
        (
            "/admin/d/other.test/continuity/users/add",
            vec![("csrf", csrf.as_str()), ("address", "dave@other.test")],
        ),
        (
            "/admin/d/other.test/continuity/users/4/remove",
            vec![("csrf", csrf.as_str())],
        ),
    ] {
        let req = TestRequest::post()
            .uri(path)
            .cookie(cookie.clone())
            .set_form(&form)
            .to_request();
        assert_eq!(test::call_service(&svc, req).await.status(), 404, "{path}");
    }
    let other = s
        .store
        .continuity_settings(s.other)
        .await
        .expect("q")
        .expect("s");
    assert!(other.enabled && other.scope == "all", "nothing changed");

    // its own domain, without or with a wrong CSRF token: refused
    for bad in ["", "x"] {
        let req = TestRequest::post()
            .uri("/admin/d/example.test/continuity/scope")
            .cookie(cookie.clone())
            .set_form([("csrf", bad), ("scope", "selected")])
            .to_request();
        assert_eq!(test::call_service(&svc, req).await.status(), 403);
    }
    // with it: the flow of the seed (select, add, switch back with Confirmer)
    let post = |path: &str, form: Vec<(&str, &str)>| {
        TestRequest::post()
            .uri(path)
            .cookie(cookie.clone())
            .set_form(&form)
            .to_request()
    };
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/continuity/scope",
            vec![("csrf", &csrf), ("scope", "selected")],
        ),
    )
    .await;
    assert_eq!(location(&r), "/admin/d/example.test/continuity?done=scope");
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/continuity/users/add",
            vec![("csrf", &csrf), ("address", "al")],
        ),
    )
    .await;
    assert!(location(&r).contains("e=short"), "{}", location(&r));
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/continuity/users/add",
            vec![("csrf", &csrf), ("address", "dave@other.test")],
        ),
    )
    .await;
    assert!(location(&r).contains("e=other"), "{}", location(&r));
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/continuity/users/add",
            vec![("csrf", &csrf), ("address", "bob@example.test")],
        ),
    )
    .await;
    assert_eq!(
        location(&r),
        "/admin/d/example.test/continuity?added=bob@example.test"
    );
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/continuity/scope",
            vec![("csrf", &csrf), ("scope", "all")],
        ),
    )
    .await;
    assert_eq!(
        location(&r),
        "/admin/d/example.test/continuity?confirm=all",
        "the warning first"
    );
    assert_eq!(
        s.store
            .continuity_settings(s.example)
            .await
            .expect("q")
            .expect("s")
            .users
            .len(),
        1
    );
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/continuity/scope",
            vec![("csrf", &csrf), ("scope", "all"), ("confirm", "1")],
        ),
    )
    .await;
    assert_eq!(location(&r), "/admin/d/example.test/continuity?done=scope");
    assert!(s
        .store
        .continuity_settings(s.example)
        .await
        .expect("q")
        .expect("s")
        .users
        .is_empty());
    // deactivation asks for confirmation first
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/continuity/enabled",
            vec![("csrf", &csrf), ("enabled", "0")],
        ),
    )
    .await;
    assert_eq!(
        location(&r),
        "/admin/d/example.test/continuity?confirm=deactivate"
    );
    assert!(
        s.store
            .continuity_settings(s.example)
            .await
            .expect("q")
            .expect("s")
            .enabled
    );

    // the operator reaches every domain
    let r = test::call_service(&svc, login("ops@provider.test")).await;
    let ops = r
        .response()
        .cookies()
        .find(|c| c.name() == "continuity-admin")
        .expect("cookie")
        .into_owned();
    assert_eq!(
        test::call_service(&svc, get("/admin/d/other.test/continuity", &ops))
            .await
            .status(),
        200
    );

    // a mail user never reaches the admin area, and their cookie is not an admin's
    let r = test::call_service(&svc, login("alice@example.test")).await;
    assert_eq!(location(&r), "/mail/inbox");
    let user = r
        .response()
        .cookies()
        .find(|c| c.name() == "continuity")
        .expect("cookie")
        .into_owned();
    let r = test::call_service(&svc, get("/admin/d/example.test/continuity", &user)).await;
    assert!(r.status().is_redirection());
    assert!(location(&r).starts_with("/login"));
    let forged = actix_web::cookie::Cookie::new("continuity-admin", user.value().to_string());
    let r = test::call_service(&svc, get("/admin", &forged)).await;
    assert!(
        location(&r).starts_with("/login"),
        "a user session id is not an admin session"
    );
    let session_csrf = s
        .auth
        .session(user.value())
        .await
        .expect("user session")
        .csrf;
    let req = TestRequest::post()
        .uri("/admin/d/example.test/continuity/enabled")
        .cookie(user.clone())
        .set_form([
            ("csrf", session_csrf.as_str()),
            ("enabled", "0"),
            ("confirm", "1"),
        ])
        .to_request();
    let r = test::call_service(&svc, req).await;
    assert!(location(&r).starts_with("/login"));
    assert!(
        s.store
            .continuity_settings(s.example)
            .await
            .expect("q")
            .expect("s")
            .enabled
    );
}

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
    assert!(s
        .auth
        .login("alice@example.test", PW, "127.0.0.2")
        .await
        .is_err());
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
    let r = test::call_service(&svc, send(form("127.0.0.1", "test"))).await;
    assert!(location(&r).contains("tested=fail"), "{}", location(&r));
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

#[actix_web::test]
async fn the_admin_api_does_what_the_panel_does_with_tokens_and_refuses_the_rest() {
    let s = setup("cp-api").await;
    let svc = app(&s).await;
    let admin = s
        .store
        .admin_by_address("admin@example.test")
        .await
        .expect("q")
        .expect("admin");
    let token = "cty_test-token-for-the-domain-admin";
    let tid = s
        .store
        .insert_api_token(
            admin.id,
            "script",
            &server::auth::token::sha256(token.as_bytes()),
        )
        .await
        .expect("token");
    let call = |method: actix_web::http::Method,
                path: &str,
                body: Option<serde_json::Value>,
                bearer: &str| {
        let mut r = TestRequest::default()
            .method(method)
            .uri(path)
            .insert_header(("authorization", format!("Bearer {bearer}")));
        if let Some(b) = body {
            r = r.set_json(b);
        }
        r.to_request()
    };
    use actix_web::http::Method;
    use serde_json::json;
    let json_of = |b: actix_web::web::Bytes| -> serde_json::Value {
        serde_json::from_slice(&b).expect("json body")
    };

    // no token, a wrong one
    let r = test::call_service(
        &svc,
        TestRequest::get().uri("/api/admin/domains").to_request(),
    )
    .await;
    assert_eq!(r.status(), 401);
    let r = test::call_service(
        &svc,
        call(Method::GET, "/api/admin/domains", None, "cty_nope"),
    )
    .await;
    assert_eq!(r.status(), 401);

    let r = test::call_service(&svc, call(Method::GET, "/api/admin/domains", None, token)).await;
    assert_eq!(r.status(), 200);
    let list = json_of(test::read_body(r).await);
    assert_eq!(list.as_array().map(|a| a.len()), Some(1), "{list}");
    assert_eq!(list[0]["name"], "example.test");

    // another domain is not found, for reads and writes
    let r = test::call_service(
        &svc,
        call(
            Method::GET,
            "/api/admin/domains/other.test/continuity",
            None,
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = test::call_service(
        &svc,
        call(
            Method::PUT,
            "/api/admin/domains/other.test/continuity/enabled",
            Some(json!({"enabled": false})),
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 404);
    assert!(
        s.store
            .continuity_settings(s.other)
            .await
            .expect("q")
            .expect("s")
            .enabled
    );

    let base = "/api/admin/domains/example.test/continuity";
    let r = test::call_service(
        &svc,
        call(
            Method::PUT,
            &format!("{base}/scope"),
            Some(json!({"scope": "selected"})),
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = test::call_service(
        &svc,
        call(
            Method::POST,
            &format!("{base}/users"),
            Some(json!({"address": "a.martin@example.test"})),
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        json_of(test::read_body(r).await)["address"],
        "alice@example.test"
    );
    let r = test::call_service(
        &svc,
        call(
            Method::POST,
            &format!("{base}/users"),
            Some(json!({"address": "alice@example.test"})),
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(json_of(test::read_body(r).await)["error"], "duplicate");
    let r = test::call_service(
        &svc,
        call(
            Method::POST,
            &format!("{base}/users"),
            Some(json!({"address": "dave@other.test"})),
            token,
        ),
    )
    .await;
    assert_eq!(json_of(test::read_body(r).await)["error"], "other_domain");
    let r = test::call_service(
        &svc,
        call(
            Method::POST,
            &format!("{base}/users"),
            Some(json!({"nope": 1})),
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(test::read_body(r).await)["error"], "bad_request");
    let r = test::call_service(
        &svc,
        call(
            Method::PUT,
            &format!("{base}/scope"),
            Some(json!({"scope": "all"})),
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 409);
    let body = json_of(test::read_body(r).await);
    assert_eq!(
        (body["error"].as_str(), body["selected_users"].as_i64()),
        (Some("confirmation_required"), Some(1))
    );
    let r = test::call_service(&svc, call(Method::GET, base, None, token)).await;
    let view = json_of(test::read_body(r).await);
    assert_eq!(view["scope"], "selected");
    assert_eq!(view["users"][0]["address"], "alice@example.test");
    let r = test::call_service(
        &svc,
        call(
            Method::DELETE,
            &format!("{base}/users/bob@example.test"),
            None,
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = test::call_service(
        &svc,
        call(
            Method::DELETE,
            &format!("{base}/users/alice@example.test"),
            None,
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = test::call_service(
        &svc,
        call(
            Method::POST,
            &format!("{base}/state"),
            Some(json!({"action": "activate"})),
            token,
        ),
    )
    .await;
    assert_eq!(json_of(test::read_body(r).await)["state"], "outage");
    let audit = s.store.audit_log(s.example, 20).await.expect("audit");
    assert!(
        audit
            .iter()
            .all(|a| a.actor == "api:script (admin@example.test)"),
        "{audit:?}"
    );

    // a revoked token fails at once
    assert!(s.store.revoke_api_token(tid).await.expect("revoke"));
    let r = test::call_service(&svc, call(Method::GET, "/api/admin/domains", None, token)).await;
    assert_eq!(r.status(), 401);
}

#[actix_web::test]
async fn the_status_page_names_every_domain_so_only_operators_see_it() {
    let s = setup("cp-status").await;
    let svc = app(&s).await;
    let cookie_of = |addr: &'static str| {
        TestRequest::post()
            .uri("/auth/login")
            .peer_addr("127.0.0.1:1".parse().expect("addr"))
            .set_form([("address", addr), ("password", PW)])
            .to_request()
    };
    let r = test::call_service(&svc, cookie_of("admin@example.test")).await;
    let domain_admin = r.response().cookies().next().expect("cookie").into_owned();
    let r = test::call_service(&svc, cookie_of("ops@provider.test")).await;
    let operator = r.response().cookies().next().expect("cookie").into_owned();
    let page = |c: Option<actix_web::cookie::Cookie<'static>>| {
        let mut r = TestRequest::get()
            .uri("/status")
            .insert_header(("accept", "text/html"));
        if let Some(c) = c {
            r = r.cookie(c);
        }
        r.to_request()
    };
    let r = test::call_service(&svc, page(None)).await;
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    let body = test::read_body(test::call_service(&svc, page(Some(domain_admin))).await).await;
    let body = String::from_utf8_lossy(&body);
    assert!(
        !body.contains("other.test"),
        "a domain admin does not see other domains"
    );
    let body = test::read_body(test::call_service(&svc, page(Some(operator))).await).await;
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("other.test") && body.contains("example.test"));
}
