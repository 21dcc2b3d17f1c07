//! The Control Panel's webhook form, tried by role and with bad input: a
//! domain admin names an https:// receiver on a public address (or on a
//! network an operator allowed for the domain), gets its signing secret
//! once, and can remove it; loopback, plain http, a name that resolves
//! nowhere and garbage are refused in the viewer's language with nothing
//! saved; an operator may name any receiver; another domain's webhook and
//! a post without the CSRF token are refused.

use crate::common;

use actix_web::test::{self, TestRequest};
use common::control::{app, location, login, setup};

fn decoded(location: &str) -> String {
    let qs = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    let qs = qs.split('#').next().unwrap_or("");
    actix_web::web::Query::<Vec<(String, String)>>::from_query(qs)
        .map(|q| {
            q.into_inner()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        })
        .unwrap_or_default()
}

#[actix_web::test]
async fn the_webhook_is_set_from_the_control_panel_only_where_it_may_post() {
    let s = setup("webhook-web").await;
    let svc = app(&s).await;
    let admin = login(&svc, "admin@example.test", "continuity-admin").await;
    let csrf = s.auth.admin_session(admin.value()).await.expect("s").csrf;
    let post =
        |cookie: &actix_web::cookie::Cookie<'static>, path: &str, fields: Vec<(&str, String)>| {
            TestRequest::post()
                .uri(path)
                .cookie(cookie.clone())
                .set_form(fields)
                .to_request()
        };
    let save = |url: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("action", "save".to_string()),
            ("url", url.to_string()),
        ]
    };
    let form = "/admin/d/example.test/continuity/webhook";
    let page = |cookie: &actix_web::cookie::Cookie<'static>, path: &str, lang: &'static str| {
        TestRequest::get()
            .uri(path)
            .cookie(cookie.clone())
            .insert_header(("accept", "text/html"))
            .insert_header(("accept-language", lang))
            .to_request()
    };
    let read = |r| async move {
        String::from_utf8_lossy(&test::read_body(r).await)
            .replace("<!>", "")
            .replace("<!---->", "")
    };

    // refused, said why, nothing saved
    for (url, why) in [
        (
            "https://127.0.0.1:8443/hook",
            "why=webhook-address:127.0.0.1",
        ),
        ("https://[::1]/hook", "why=webhook-address:::1"),
        ("https://10.1.2.3/hook", "why=webhook-address:10.1.2.3"),
        (
            "https://169.254.169.254/latest",
            "why=webhook-address:169.254.169.254",
        ),
        ("http://hooks.example.com/x", "why=webhook-url"),
        ("nope", "why=webhook-url"),
        ("https://user:pw@hooks.example.com/x", "why=webhook-url"),
        (
            "https://no-such-host.invalid/x",
            "why=unresolved:no-such-host.invalid",
        ),
    ] {
        let r = test::call_service(&svc, post(&admin, form, save(url))).await;
        let to = decoded(&location(&r));
        assert!(to.contains("e=webhook") && to.contains(why), "{url}: {to}");
        assert!(
            s.store.webhook_url(s.example).await.expect("q").is_none(),
            "{url}"
        );
    }
    // the refusal reads in French on the page, the typed address kept
    let r = test::call_service(
        &svc,
        post(&admin, form, save("https://127.0.0.1:8443/hook")),
    )
    .await;
    let fr = read(test::call_service(&svc, page(&admin, &location(&r), "fr")).await).await;
    assert!(
        fr.contains("Le webhook n'a pas été enregistré : 127.0.0.1 n'est pas une adresse publique"),
        "{fr}"
    );
    assert!(
        fr.contains(r#"value="https://127.0.0.1:8443/hook""#),
        "{fr}"
    );

    // no token, or another domain: refused
    let r = test::call_service(
        &svc,
        post(
            &admin,
            form,
            vec![
                ("csrf", "x".into()),
                ("action", "save".into()),
                ("url", "https://hooks.example.com/".into()),
            ],
        ),
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = test::call_service(
        &svc,
        post(
            &admin,
            "/admin/d/other.test/continuity/webhook",
            save("https://hooks.example.com/"),
        ),
    )
    .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(s.store.webhook_url(s.other).await.expect("q").is_none());

    // an operator allows loopback for the domain's primary: the same
    // rule lets the domain admin's webhook post there
    let allow =
        server::monitor::reach::PrimaryAllowance::parse("127.0.0.0/8", "").expect("allowance");
    s.store
        .set_primary_allowance(s.example, &allow)
        .await
        .expect("allow");
    let r = test::call_service(
        &svc,
        post(&admin, form, save("https://127.0.0.1:8443/hook")),
    )
    .await;
    let to = location(&r);
    assert!(to.contains("done=webhook&reveal="), "{to}");
    assert_eq!(
        s.store.webhook_url(s.example).await.expect("q").as_deref(),
        Some("https://127.0.0.1:8443/hook")
    );
    let fr = read(test::call_service(&svc, page(&admin, &to, "fr")).await).await;
    assert!(fr.contains("Le webhook a été enregistré."), "{fr}");
    let secret = fr
        .split(r#"id="webhook-secret""#)
        .nth(1)
        .and_then(|t| t.split("<code>").nth(1))
        .and_then(|t| t.split("</code>").next())
        .expect("the secret, shown")
        .to_string();
    assert!(secret.len() >= 20, "{secret}");
    // shown once: a later visit (after the grace of the first read) has it not
    s.clock.advance(std::time::Duration::from_secs(10));
    let again = read(test::call_service(&svc, page(&admin, &to, "fr")).await).await;
    assert!(!again.contains(&secret));
    assert!(
        again.contains(r#"<code>https://127.0.0.1:8443/hook</code>"#),
        "{again}"
    );
    let audit = s.store.audit_log(s.example, 5).await.expect("audit");
    assert!(audit.iter().any(|a| a.action == "webhook"));

    // removed
    let r = test::call_service(
        &svc,
        post(
            &admin,
            form,
            vec![("csrf", csrf.clone()), ("action", "remove".into())],
        ),
    )
    .await;
    assert!(
        location(&r).ends_with("done=webhook-removed"),
        "{}",
        location(&r)
    );
    assert!(s.store.webhook_url(s.example).await.expect("q").is_none());

    // an operator is not bound by the rule
    let ops = login(&svc, "ops@provider.test", "continuity-admin").await;
    let ops_csrf = s.auth.admin_session(ops.value()).await.expect("s").csrf;
    let r = test::call_service(
        &svc,
        post(
            &ops,
            "/admin/d/other.test/continuity/webhook",
            vec![
                ("csrf", ops_csrf),
                ("action", "save".into()),
                ("url", "http://10.1.2.3/hook".into()),
            ],
        ),
    )
    .await;
    assert!(location(&r).contains("done=webhook"), "{}", location(&r));
    assert_eq!(
        s.store.webhook_url(s.other).await.expect("q").as_deref(),
        Some("http://10.1.2.3/hook")
    );
}
