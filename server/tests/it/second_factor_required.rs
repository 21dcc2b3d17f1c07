//! Two-step login required, over HTTP in process: a domain's admins
//! require it of its users (audited; other domains' admins cannot), the
//! operator of every administrator; one who has none sets it up right
//! after the password, before anything else, and cannot turn it off while
//! it is required; mail apps need app passwords meanwhile.

use server::auth::second_factor::Owner;
use server::auth::{Channel, LoginError};

use crate::common::control::*;
use crate::common::two_step::{alice_id, align, code_at, password_step};
use crate::common::web_client::{cookie, get_body, post_form as post};

#[actix_web::test]
async fn a_domain_that_requires_it_has_its_users_set_it_up_at_login() {
    let s = setup("2fa-required").await;
    let svc = app(&s).await;
    let alice = Owner::User(alice_id(&s).await);
    let ip = "192.0.2.45";
    // the domain admin requires it (another domain's admin cannot)
    let c = login(&svc, "admin@example.test", "continuity-admin").await;
    let csrf = s.auth.admin_session(c.value()).await.expect("s").csrf;
    let r = post(
        &svc,
        "/admin/d/other.test/continuity/second-factor",
        &[&c],
        &[("csrf", &csrf), ("required", "on")],
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = post(
        &svc,
        "/admin/d/example.test/continuity/second-factor",
        &[&c],
        &[("csrf", &csrf), ("required", "on")],
    )
    .await;
    assert_eq!(
        location(&r),
        "/admin/d/example.test/continuity?done=second-factor#users-second-factor"
    );
    assert!(s.store.users_second_factor(s.example).await.expect("q"));
    // mail apps: the password no longer opens them, until an app password
    assert_eq!(
        s.auth
            .verify_user("alice@example.test", PW, ip, Channel::Imap)
            .await
            .map(|a| a.address),
        Err(LoginError::AppPasswordNeeded)
    );
    // the password leads to setting it up, not to the mailbox
    align(&s);
    let r = post(
        &svc,
        "/auth/login",
        &[],
        &[
            ("address", "alice@example.test"),
            ("password", PW),
            ("next", "/mail/inbox"),
        ],
    )
    .await;
    assert_eq!(location(&r), "/login/enrol?next=%2Fmail%2Finbox");
    assert!(cookie(&r, "continuity").is_none());
    let ch = cookie(&r, "continuity-2fa").expect("challenge");
    // the code step does not take a set-up's challenge
    let r = post(&svc, "/auth/code", &[&ch], &[("code", "123456")]).await;
    assert!(location(&r).starts_with("/login?error=expired"));
    let (status, svg) = get_body(&svc, "/auth/enrol/qr.svg", &ch).await;
    assert_eq!((status, svg.contains("<svg")), (200, true));
    let (_, page) = get_body(&svc, "/login/enrol?next=%2Fmail%2Finbox", &ch).await;
    assert!(
        page.contains("otpauth://totp/Continuity:alice%40example.test?"),
        "{page}"
    );
    let r = post(&svc, "/auth/enrol", &[&ch], &[("code", "000000")]).await;
    assert!(
        location(&r).starts_with("/login/enrol?error=wrong"),
        "{}",
        location(&r)
    );
    let code = code_at(&s, alice, s.clock.now()).await;
    let r = post(&svc, "/auth/enrol", &[&ch], &[("code", &code)]).await;
    let to = location(&r);
    assert!(to.starts_with("/settings?done=on&reveal="), "{to}");
    let session = cookie(&r, "continuity").expect("a session");
    assert!(s.store.second_factor_on(alice).await.expect("q"));
    // the recovery codes, once, on the page it leads to
    let (_, page) = get_body(&svc, to.trim_end_matches("#security"), &session).await;
    assert_eq!(page.matches("<li><code>").count(), 10, "{page}");
    // required: it cannot be turned off
    let user_csrf = s.auth.session(session.value()).await.expect("s").csrf;
    let r = post(
        &svc,
        "/settings/security/totp/off",
        &[&session],
        &[("csrf", &user_csrf), ("password", PW)],
    )
    .await;
    assert_eq!(location(&r), "/settings?e=required#security");
    assert!(s.store.second_factor_on(alice).await.expect("q"));
    // from now on: password and code
    let (_, to) = password_step(&svc, "alice@example.test").await;
    assert!(to.starts_with("/login/code"), "{to}");
    // a user of a domain that does not require it logs in as before
    s.auth
        .set_password("dave@other.test", PW)
        .await
        .expect("pw");
    let r = post(
        &svc,
        "/auth/login",
        &[],
        &[("address", "dave@other.test"), ("password", PW)],
    )
    .await;
    assert!(cookie(&r, "continuity").is_some());
}

#[actix_web::test]
async fn the_operator_can_require_it_of_every_administrator() {
    let s = setup("2fa-admins").await;
    let dir = crate::common::temp_dir("2fa-admins-cfg");
    let env = vec![
        (
            "CONTINUITY_SERVER_DATA_DIR".to_string(),
            dir.display().to_string(),
        ),
        (
            "CONTINUITY_WEB_ADMINS_SECOND_FACTOR".to_string(),
            "true".to_string(),
        ),
    ];
    let wc = server::config::Config::load(None, env).expect("config").web;
    assert!(wc.admins_second_factor);
    let auth = std::sync::Arc::new(
        server::auth::Auth::new(s.store.clone(), &wc)
            .await
            .expect("auth")
            .with_clock(s.clock.clone()),
    );
    let svc = crate::common::web_app(&s.store, &auth).await;
    let r = post(
        &svc,
        "/auth/login",
        &[],
        &[
            ("address", "ops@provider.test"),
            ("password", PW),
            ("next", "/admin"),
        ],
    )
    .await;
    assert_eq!(location(&r), "/login/enrol?next=%2Fadmin");
    assert!(
        cookie(&r, "continuity-admin").is_none(),
        "no Control Panel without it"
    );
    let ch = cookie(&r, "continuity-2fa").expect("challenge");
    let ops = s
        .store
        .admin_by_address("ops@provider.test")
        .await
        .expect("q")
        .expect("ops");
    let code = code_at(&s, Owner::Admin(ops.id), s.clock.now()).await;
    let r = post(&svc, "/auth/enrol", &[&ch], &[("code", &code)]).await;
    assert!(
        location(&r).starts_with("/admin?done=on&reveal="),
        "{}",
        location(&r)
    );
    assert!(cookie(&r, "continuity-admin").is_some());
    // webmail users are not concerned by the operator's rule
    let r = post(
        &svc,
        "/auth/login",
        &[],
        &[("address", "alice@example.test"), ("password", PW)],
    )
    .await;
    assert!(cookie(&r, "continuity").is_some());
}
