//! The Control Panel's outbound page, tried by role and with bad input:
//! DKIM keys made, switched, turned off and deleted from the page (each
//! audited; bad selectors and algorithms refused, nothing changed); the
//! DNS check against a DNS server in the test (published, another key,
//! revoked, missing); the relay networks (too broad refused); relay
//! credentials shown once, to the session that made them only, replaced or
//! removed only after confirmation.

use crate::common;

use actix_web::test::{self, TestRequest};
use common::control::{location, login, setup};
use common::dns;
use hickory_resolver::proto::rr::rdata::TXT;
use hickory_resolver::proto::rr::RData;
use server::relay::dkim;

fn dkim_txt(k: &server::store::relay::DkimKeyRow) -> String {
    let alg = k.algorithm.parse().expect("algorithm");
    dkim::record_text(alg, &k.public_b64)
}

#[actix_web::test]
async fn dkim_keys_and_relay_settings_from_the_control_panel() {
    let s = setup("outbound-web").await;
    // the DNS the check asks: filled in once the keys exist (below), so
    // it reads the zone through a shared list
    let zone = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, RData)>::new()));
    let dns_addr = {
        let zone = zone.clone();
        // a resolver-facing server whose answers come from `zone`
        dns::serve_dynamic(move || zone.lock().expect("zone").clone()).await
    };
    let svc = common::web_app_with(
        &s.store,
        &s.auth,
        server::web::OutboundFacts {
            route: "direct".into(),
            submission: vec!["127.0.0.1:2588".parse().expect("addr")],
            nameservers: vec![dns_addr],
        },
    )
    .await;
    let cookie = login(&svc, "admin@example.test", "continuity-admin").await;
    let csrf = s.auth.admin_session(cookie.value()).await.expect("s").csrf;
    let c = csrf.as_str();
    let post = |path: &str, fields: Vec<(&str, &str)>| {
        TestRequest::post()
            .uri(path)
            .cookie(cookie.clone())
            .set_form(fields)
            .to_request()
    };
    let page = |cookie: actix_web::cookie::Cookie<'static>, lang: &'static str| {
        TestRequest::get()
            .uri("/admin/d/example.test/outbound")
            .cookie(cookie)
            .insert_header(("accept", "text/html"))
            .insert_header(("accept-language", lang))
            .to_request()
    };
    let read =
        |r| async move { String::from_utf8_lossy(&test::read_body(r).await).replace("<!>", "") };

    // the page, before anything is set
    let html = read(test::call_service(&svc, page(cookie.clone(), "en")).await).await;
    assert!(html.contains("No key yet"), "{html}");
    assert!(html.contains("directly to each recipient"), "{html}");
    assert!(html.contains("127.0.0.1:2588"), "{html}");
    let html = read(test::call_service(&svc, page(cookie.clone(), "fr")).await).await;
    assert!(html.contains("Signature DKIM"), "{html}");
    assert!(html.contains("Relais pour le serveur du domaine"), "{html}");

    // another domain: not found; a forged token: refused; nothing made
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/other.test/outbound/dkim/new",
            vec![("csrf", c), ("algorithm", "rsa")],
        ),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/outbound/dkim/new",
            vec![("csrf", "forged"), ("algorithm", "rsa")],
        ),
    )
    .await;
    assert_eq!(r.status(), 403);
    for (path, fields) in [
        (
            "/admin/d/other.test/outbound/secret",
            vec![("csrf", c), ("action", "new")],
        ),
        (
            "/admin/d/other.test/outbound/networks",
            vec![("csrf", c), ("networks", "192.0.2.1")],
        ),
        ("/admin/d/other.test/outbound/dkim/off", vec![("csrf", c)]),
    ] {
        let r = test::call_service(&svc, post(path, fields)).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    assert!(s.store.dkim_keys(s.example).await.expect("keys").is_empty());
    assert!(s
        .store
        .relay_secret_hash(s.other)
        .await
        .expect("hash")
        .is_none());
    assert!(s.store.relay_networks().await.expect("nets").is_empty());

    // bad input: said, nothing made
    for (alg, sel, why) in [
        ("dsa", "", r#""why": "algorithm""#),
        ("rsa", "a b", r#""why": "selector:a b""#),
        ("rsa", "x;y=z", r#""why": "selector:x;y=z""#),
    ] {
        let r = test::call_service(
            &svc,
            post(
                "/admin/d/example.test/outbound/dkim/new",
                vec![("csrf", c), ("algorithm", alg), ("selector", sel)],
            ),
        )
        .await;
        let to = location(&r);
        assert!(to.contains("e=dkim"), "{to}");
        assert!(urlencoding_decode(&to).contains(why), "{to}");
    }
    assert!(s.store.dkim_keys(s.example).await.expect("keys").is_empty());

    // an RSA key named after the month, then an Ed25519 one named by us
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/outbound/dkim/new",
            vec![("csrf", c), ("algorithm", "rsa")],
        ),
    )
    .await;
    let to = location(&r);
    assert!(to.contains("done=dkim-new&sel=cty"), "{to}");
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/outbound/dkim/new",
            vec![
                ("csrf", c),
                ("algorithm", "ed25519"),
                ("selector", " Mail-2 "),
            ],
        ),
    )
    .await;
    assert!(location(&r).contains("sel=mail-2"), "{}", location(&r));
    // the same selector again: refused
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/outbound/dkim/new",
            vec![("csrf", c), ("algorithm", "rsa"), ("selector", "mail-2")],
        ),
    )
    .await;
    assert!(
        urlencoding_decode(&location(&r)).contains("selector-taken:mail-2"),
        "{}",
        location(&r)
    );
    let keys = s.store.dkim_keys(s.example).await.expect("keys");
    assert_eq!(keys.len(), 2);
    let (ed, rsa) = (&keys[0], &keys[1]);
    assert_eq!(
        (ed.selector.as_str(), ed.algorithm.as_str(), ed.active),
        ("mail-2", "ed25519-sha256", true)
    );
    assert!(rsa.selector.starts_with("cty") && !rsa.active && rsa.algorithm == "rsa-sha256");
    let html = read(test::call_service(&svc, page(cookie.clone(), "en")).await).await;
    assert!(
        html.contains(&format!("{}._domainkey.example.test", rsa.selector)),
        "{html}"
    );
    assert!(html.contains(&dkim_txt(ed)), "{html}");
    assert!(
        html.contains("Signing with <strong>mail-2</strong>"),
        "{html}"
    );

    // the DNS check: missing, published (in two strings), another key, revoked
    let check = |sel: String| {
        post(
            "/admin/d/example.test/outbound/dkim/check",
            vec![("csrf", c), ("selector", sel.as_str())],
        )
    };
    let r = test::call_service(&svc, check(ed.selector.clone())).await;
    assert!(location(&r).contains("dns=missing"), "{}", location(&r));
    let rsa_txt = dkim_txt(rsa);
    let (head, tail) = rsa_txt.split_at(200);
    *zone.lock().expect("zone") = vec![
        (
            format!("{}._domainkey.example.test", rsa.selector),
            RData::TXT(TXT::new(vec![head.to_string(), tail.to_string()])),
        ),
        (
            "mail-2._domainkey.example.test".into(),
            // another key (ours, of the other selector), in 255-byte strings
            RData::TXT(TXT::new(
                rsa_txt
                    .as_bytes()
                    .chunks(255)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect(),
            )),
        ),
    ];
    let r = test::call_service(&svc, check(rsa.selector.clone())).await;
    assert!(location(&r).contains("dns=ok"), "{}", location(&r));
    let r = test::call_service(&svc, check(ed.selector.clone())).await;
    assert!(location(&r).contains("dns=different"), "{}", location(&r));
    zone.lock().expect("zone")[1].1 = RData::TXT(TXT::new(vec!["v=DKIM1; k=ed25519; p=".into()]));
    let r = test::call_service(&svc, check(ed.selector.clone())).await;
    assert!(location(&r).contains("dns=revoked"), "{}", location(&r));
    let r = test::call_service(&svc, check("nope".into())).await;
    assert!(location(&r).contains("e=dkim"), "{}", location(&r));

    // back to the RSA key; the active one cannot be deleted, the other can
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/outbound/dkim/use",
            vec![("csrf", c), ("selector", rsa.selector.as_str())],
        ),
    )
    .await;
    assert!(location(&r).contains("done=dkim-on"), "{}", location(&r));
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/outbound/dkim/delete",
            vec![("csrf", c), ("selector", rsa.selector.as_str())],
        ),
    )
    .await;
    assert!(
        urlencoding_decode(&location(&r)).contains(&format!("key-signs:{}", rsa.selector)),
        "{}",
        location(&r)
    );
    let r = test::call_service(
        &svc,
        post(
            "/admin/d/example.test/outbound/dkim/delete",
            vec![("csrf", c), ("selector", "mail-2")],
        ),
    )
    .await;
    assert!(
        location(&r).contains("done=dkim-deleted"),
        "{}",
        location(&r)
    );
    let keys = s.store.dkim_keys(s.example).await.expect("keys");
    assert_eq!(keys.len(), 1);
    assert!(keys[0].active);
    // signing off: keys kept, none active
    let r = test::call_service(
        &svc,
        post("/admin/d/example.test/outbound/dkim/off", vec![("csrf", c)]),
    )
    .await;
    assert!(location(&r).contains("done=dkim-off"), "{}", location(&r));
    assert!(s
        .store
        .active_dkim_key(s.example)
        .await
        .expect("key")
        .is_none());
    assert_eq!(s.store.dkim_keys(s.example).await.expect("keys").len(), 1);
    let html = read(test::call_service(&svc, page(cookie.clone(), "en")).await).await;
    assert!(html.contains("DKIM signing is off."), "{html}");

    // networks: too broad or not an address is refused, nothing changed
    let nets = |text: &str| {
        post(
            "/admin/d/example.test/outbound/networks",
            vec![("csrf", c), ("networks", text)],
        )
    };
    let r = test::call_service(&svc, nets("192.0.2.10\n198.51.100.7/24\n192.0.2.10")).await;
    assert!(location(&r).contains("done=networks"), "{}", location(&r));
    let saved = || async {
        s.store
            .relay_networks()
            .await
            .expect("nets")
            .into_iter()
            .map(|(_, n)| n)
            .collect::<Vec<_>>()
    };
    assert_eq!(saved().await, ["192.0.2.10/32", "198.51.100.0/24"]);
    for bad in ["0.0.0.0/0", "192.0.2.1\nmail.example.test", "::/1"] {
        let r = test::call_service(&svc, nets(bad)).await;
        assert!(
            location(&r).contains("e=networks"),
            "{bad}: {}",
            location(&r)
        );
    }
    assert_eq!(saved().await, ["192.0.2.10/32", "198.51.100.0/24"]);
    let html = read(test::call_service(&svc, page(cookie.clone(), "en")).await).await;
    assert!(html.contains("192.0.2.10/32\n198.51.100.0/24"), "{html}");

    // credentials: shown once, on the page the post leads to, to this
    // session only
    let secret = |fields: Vec<(&str, &str)>| post("/admin/d/example.test/outbound/secret", fields);
    let r = test::call_service(&svc, secret(vec![("csrf", c), ("action", "new")])).await;
    let next = location(&r);
    assert!(next.contains("done=secret&reveal="), "{next}");
    let at = |cookie: actix_web::cookie::Cookie<'static>, uri: &str| {
        TestRequest::get()
            .uri(uri)
            .cookie(cookie)
            .insert_header(("accept", "text/html"))
            .to_request()
    };
    let operator = login(&svc, "ops@provider.test", "continuity-admin").await;
    let html = read(test::call_service(&svc, at(operator.clone(), &next)).await).await;
    assert!(!html.contains("cty_relay_"), "another session saw it");
    let html = read(test::call_service(&svc, page(cookie.clone(), "en")).await).await;
    assert!(!html.contains("cty_relay_"), "shown without its reveal id");
    let html = read(test::call_service(&svc, at(cookie.clone(), &next)).await).await;
    let shown = html
        .split("id=\"relay-password\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .unwrap_or_else(|| panic!("the password is shown: {html}"))
        .to_string();
    assert!(shown.starts_with("cty_relay_"), "{shown}");
    assert_eq!(
        s.store
            .relay_secret_hash(s.example)
            .await
            .expect("hash")
            .as_deref(),
        Some(server::auth::token::sha256(shown.as_bytes()).as_slice())
    );
    // the submission listener's check takes it
    s.auth
        .verify_relay_secret("example.test", &shown, "192.0.2.10")
        .await
        .expect("the shown credentials relay");
    // a moment later, the same address shows it no more
    s.clock.advance(std::time::Duration::from_secs(3));
    let html = read(test::call_service(&svc, at(cookie.clone(), &next)).await).await;
    assert!(!html.contains("cty_relay_"), "shown twice");
    assert!(html.contains("only a hash is kept"), "{html}");

    // replacing and removing ask first
    let before = s.store.relay_secret_hash(s.example).await.expect("hash");
    let r = test::call_service(&svc, secret(vec![("csrf", c), ("action", "new")])).await;
    assert!(
        location(&r).ends_with("?confirm=secret-new"),
        "{}",
        location(&r)
    );
    assert_eq!(
        s.store.relay_secret_hash(s.example).await.expect("hash"),
        before
    );
    let r = test::call_service(
        &svc,
        secret(vec![("csrf", c), ("action", "new"), ("confirm", "1")]),
    )
    .await;
    assert!(location(&r).contains("done=secret"), "{}", location(&r));
    assert_ne!(
        s.store.relay_secret_hash(s.example).await.expect("hash"),
        before
    );
    assert!(
        s.auth
            .verify_relay_secret("example.test", &shown, "192.0.2.10")
            .await
            .is_err(),
        "replaced credentials still relay"
    );
    let r = test::call_service(&svc, secret(vec![("csrf", c), ("action", "remove")])).await;
    assert!(
        location(&r).ends_with("?confirm=secret-remove"),
        "{}",
        location(&r)
    );
    assert!(s
        .store
        .relay_secret_hash(s.example)
        .await
        .expect("hash")
        .is_some());
    let r = test::call_service(
        &svc,
        secret(vec![("csrf", c), ("action", "remove"), ("confirm", "1")]),
    )
    .await;
    assert!(
        location(&r).contains("done=secret-removed"),
        "{}",
        location(&r)
    );
    assert!(s
        .store
        .relay_secret_hash(s.example)
        .await
        .expect("hash")
        .is_none());
    let r = test::call_service(&svc, secret(vec![("csrf", c), ("action", "steal")])).await;
    assert!(location(&r).contains("e=secret"), "{}", location(&r));

    // every change is in the audit trail
    let audit: Vec<String> = s
        .store
        .audit_log(s.example, 50)
        .await
        .expect("audit")
        .into_iter()
        .map(|a| a.action)
        .collect();
    for action in [
        "dkim key",
        "dkim signing",
        "dkim key deleted",
        "relay networks",
        "relay credentials",
    ] {
        assert!(
            audit.iter().any(|a| a == action),
            "{action} not audited: {audit:?}"
        );
    }
}

/// The decoded query string of a redirect, as one readable line.
fn urlencoding_decode(location: &str) -> String {
    let qs = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    actix_web::web::Query::<std::collections::HashMap<String, String>>::from_query(qs)
        .map(|q| format!("{:?}", q.into_inner()))
        .unwrap_or_default()
}
