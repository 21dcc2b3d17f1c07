//! The Control Panel in process: roles and domains tried, not assumed;
//! the seed's flows through the forms; emergency password, primary
//! settings, state changes by hand (in [`settings`]), and the operators'
//! status page.

mod settings;

use crate::common;

use actix_web::test::{self, TestRequest};
use common::control::{app, location, setup, PW};
use server::store::{DomainId, Store};

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
