//! Two-step login over HTTP, in process (the real routes, middleware,
//! store and auth, on a clock the tests move): enrolment with a QR code
//! and a first code, the login's second step for users and
//! administrators, codes never taken twice, recovery codes once, wrong
//! codes throttled and ending the login, turning it off with the password;
//! and app passwords — the only way into IMAP and submission once an
//! account has a second factor. Each tried by breaking it. When it is
//! required: `second_factor_required.rs`.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use server::auth::second_factor::Owner;
use server::auth::{Channel, LoginError};

use crate::common::control::*;
use crate::common::two_step::{alice_id, align, code_at, password_step};
use crate::common::web_client::{cookie, get_body, post_form as post};

/// Alice turns two-step login on from Settings; returns her recovery codes.
async fn enrol_alice<S, B>(s: &Setup, svc: &S) -> Vec<String>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    align(s);
    let c = login(svc, "alice@example.test", "continuity").await;
    let csrf = s.auth.session(c.value()).await.expect("session").csrf;
    let alice = Owner::User(alice_id(s).await);
    // no QR code before an enrolment begins
    let (status, _) = get_body(svc, "/settings/security/qr.svg", &c).await;
    assert_eq!(status, 404);
    let r = post(
        svc,
        "/settings/security/totp/begin",
        &[&c],
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&r), "/settings?setup=1#security");
    let (status, svg) = get_body(svc, "/settings/security/qr.svg", &c).await;
    assert_eq!(status, 200);
    assert!(svg.contains("<svg"), "{svg}");
    let (_, page) = get_body(svc, "/settings?setup=1", &c).await;
    assert!(
        page.contains("id=\"totp-secret\""),
        "the key to type is shown"
    );
    assert!(page.contains("otpauth://totp/Continuity:alice%40example.test?"));
    // a wrong first code turns nothing on
    let r = post(
        svc,
        "/settings/security/totp/confirm",
        &[&c],
        &[("csrf", &csrf), ("code", "000000")],
    )
    .await;
    assert_eq!(location(&r), "/settings?setup=1&e=wrong#security");
    assert!(!s.store.second_factor_on(alice).await.expect("q"));
    // without the session's CSRF token: refused
    let code = code_at(s, alice, s.clock.now()).await;
    let r = post(
        svc,
        "/settings/security/totp/confirm",
        &[&c],
        &[("csrf", "forged"), ("code", &code)],
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = post(
        svc,
        "/settings/security/totp/confirm",
        &[&c],
        &[("csrf", &csrf), ("code", &code)],
    )
    .await;
    let to = location(&r);
    assert!(to.starts_with("/settings?done=on&reveal="), "{to}");
    assert!(s.store.second_factor_on(alice).await.expect("q"));
    // the recovery codes are on the page the form led to, once
    let (_, page) = get_body(svc, to.trim_end_matches("#security"), &c).await;
    let codes: Vec<String> = page
        .split("<li><code>")
        .skip(1)
        .filter_map(|x| x.split('<').next())
        .map(str::to_string)
        .collect();
    assert_eq!(codes.len(), 10, "{page}");
    s.clock.advance(Duration::from_secs(4));
    let (_, again) = get_body(svc, to.trim_end_matches("#security"), &c).await;
    assert!(!again.contains(&codes[0]), "shown once");
    codes
}

#[actix_web::test]
async fn a_user_with_two_step_login_needs_a_code_each_taken_once() {
    let s = setup("2fa-user").await;
    let svc = app(&s).await;
    let codes = enrol_alice(&s, &svc).await;
    let alice = Owner::User(alice_id(&s).await);

    let (ch, to) = password_step(&svc, "alice@example.test").await;
    assert_eq!(to, "/login/code?next=%2Fmail%2Finbox");
    // the challenge is no session: the mailbox stays shut
    let req = TestRequest::get()
        .uri("/mail/inbox")
        .cookie(ch.clone())
        .to_request();
    let r = test::call_service(&svc, req).await;
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    // the code used to enrol (a few seconds ago, this step) is not taken again
    let used = code_at(&s, alice, s.clock.now()).await;
    let r = post(&svc, "/auth/code", &[&ch], &[("code", &used)]).await;
    assert_eq!(location(&r), "/login/code?error=wrong&next=%2Fmail%2Finbox");
    assert!(cookie(&r, "continuity").is_none());
    // the next one is, typed with a space as apps show it
    s.clock.advance(Duration::from_secs(30));
    let next = code_at(&s, alice, s.clock.now()).await;
    let spaced = format!("{} {}", &next[..3], &next[3..]);
    let r = post(
        &svc,
        "/auth/code",
        &[&ch],
        &[("code", &spaced), ("next", "/mail/inbox")],
    )
    .await;
    assert_eq!(location(&r), "/mail/inbox");
    let session = cookie(&r, "continuity").expect("a session at last");
    assert!(s.auth.session(session.value()).await.is_some());
    // the challenge is spent
    let r = post(&svc, "/auth/code", &[&ch], &[("code", &next)]).await;
    assert!(
        location(&r).starts_with("/login?error=expired"),
        "{}",
        location(&r)
    );
    // the same code on a new login: refused (replay)
    let (ch2, _) = password_step(&svc, "alice@example.test").await;
    let r = post(&svc, "/auth/code", &[&ch2], &[("code", &next)]).await;
    assert!(location(&r).starts_with("/login/code?error=wrong"));
    // a recovery code opens one login, once
    let r = post(
        &svc,
        "/auth/code",
        &[&ch2],
        &[("code", &codes[3].to_uppercase())],
    )
    .await;
    assert_eq!(location(&r), "/mail/inbox");
    assert!(cookie(&r, "continuity").is_some());
    let (ch3, _) = password_step(&svc, "alice@example.test").await;
    let r = post(&svc, "/auth/code", &[&ch3], &[("code", &codes[3])]).await;
    assert!(location(&r).starts_with("/login/code?error=wrong"));
    assert_eq!(s.store.recovery_codes_left(alice).await.expect("q"), 9);
    // a challenge waits five minutes, no more
    s.clock.advance(Duration::from_secs(301));
    let code = code_at(&s, alice, s.clock.now()).await;
    let r = post(&svc, "/auth/code", &[&ch3], &[("code", &code)]).await;
    assert!(location(&r).starts_with("/login?error=expired"));
    // a wrong password never reaches the second step
    let r = post(
        &svc,
        "/auth/login",
        &[],
        &[
            ("address", "alice@example.test"),
            ("password", "not the password"),
        ],
    )
    .await;
    assert!(location(&r).starts_with("/login?error=invalid"));
    assert!(cookie(&r, "continuity-2fa").is_none());
}

#[actix_web::test]
async fn wrong_codes_end_the_login_and_are_throttled() {
    let s = setup("2fa-wrong").await;
    let svc = app(&s).await;
    enrol_alice(&s, &svc).await;
    let alice = Owner::User(alice_id(&s).await);
    let (ch, _) = password_step(&svc, "alice@example.test").await;
    for _ in 0..4 {
        let r = post(&svc, "/auth/code", &[&ch], &[("code", "111111")]).await;
        assert!(
            location(&r).starts_with("/login/code?error=wrong"),
            "{}",
            location(&r)
        );
    }
    // the fifth wrong code ends it: even the right one is too late
    let r = post(&svc, "/auth/code", &[&ch], &[("code", "111111")]).await;
    assert!(
        location(&r).starts_with("/login?error=expired"),
        "{}",
        location(&r)
    );
    s.clock.advance(Duration::from_secs(30));
    let code = code_at(&s, alice, s.clock.now()).await;
    let r = post(&svc, "/auth/code", &[&ch], &[("code", &code)]).await;
    assert!(location(&r).starts_with("/login?error=expired"));
    // guessing on across new logins: the account's codes are throttled
    // (five failures in the window from this source)
    let (ch, _) = password_step(&svc, "alice@example.test").await;
    let r = post(&svc, "/auth/code", &[&ch], &[("code", &code)]).await;
    assert!(
        location(&r).starts_with("/login/code?error=throttled"),
        "{}",
        location(&r)
    );
    // no cookie at all, or a made-up one: back to the password
    let r = post(&svc, "/auth/code", &[], &[("code", &code)]).await;
    assert!(location(&r).starts_with("/login?error=expired"));
    let forged = actix_web::cookie::Cookie::new("continuity-2fa", "made-up");
    let r = post(&svc, "/auth/code", &[&forged], &[("code", &code)]).await;
    assert!(location(&r).starts_with("/login?error=expired"));
}

#[actix_web::test]
async fn an_administrator_enrols_and_logs_in_with_a_code() {
    let s = setup("2fa-admin").await;
    let svc = app(&s).await;
    let c = login(&svc, "admin@example.test", "continuity-admin").await;
    let csrf = s.auth.admin_session(c.value()).await.expect("session").csrf;
    let admin = s
        .store
        .admin_by_address("admin@example.test")
        .await
        .expect("q")
        .expect("admin");
    let owner = Owner::Admin(admin.id);
    // a webmail session cannot reach an administrator's forms, nor the reverse
    let user = login(&svc, "alice@example.test", "continuity").await;
    let user_csrf = s.auth.session(user.value()).await.expect("s").csrf;
    let r = post(
        &svc,
        "/admin/security/totp/begin",
        &[&user],
        &[("csrf", &user_csrf)],
    )
    .await;
    assert!(
        location(&r).starts_with("/login?expired=1"),
        "{}",
        location(&r)
    );
    let r = post(
        &svc,
        "/settings/security/totp/begin",
        &[&c],
        &[("csrf", &csrf)],
    )
    .await;
    assert!(
        location(&r).starts_with("/login?expired=1"),
        "{}",
        location(&r)
    );
    assert!(s.store.totp(owner).await.expect("q").is_none());

    let r = post(
        &svc,
        "/admin/security/totp/begin",
        &[&c],
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&r), "/admin?setup=1#security");
    let (status, svg) = get_body(&svc, "/admin/security/qr.svg", &c).await;
    assert_eq!((status, svg.contains("<svg")), (200, true));
    let code = code_at(&s, owner, s.clock.now()).await;
    let r = post(
        &svc,
        "/admin/security/totp/confirm",
        &[&c],
        &[("csrf", &csrf), ("code", &code)],
    )
    .await;
    assert!(location(&r).starts_with("/admin?done=on&reveal="));
    // app passwords are for mail users only
    let r = post(
        &svc,
        "/admin/security/app-passwords/new",
        &[&c],
        &[("csrf", &csrf), ("name", "laptop")],
    )
    .await;
    assert_eq!(r.status(), 404);

    let (ch, to) = password_step(&svc, "admin@example.test").await;
    assert_eq!(to, "/login/code?next=%2Fadmin");
    s.clock.advance(Duration::from_secs(30));
    let code = code_at(&s, owner, s.clock.now()).await;
    let r = post(
        &svc,
        "/auth/code",
        &[&ch],
        &[("code", &code), ("next", "/admin")],
    )
    .await;
    assert_eq!(location(&r), "/admin");
    let admin_cookie = cookie(&r, "continuity-admin").expect("admin session");
    assert!(s.auth.admin_session(admin_cookie.value()).await.is_some());
    assert!(cookie(&r, "continuity").is_none(), "not a webmail session");
}

#[actix_web::test]
async fn turning_it_off_takes_the_password() {
    let s = setup("2fa-off").await;
    let svc = app(&s).await;
    enrol_alice(&s, &svc).await;
    let alice = Owner::User(alice_id(&s).await);
    let c = login_with_code(&s, &svc).await;
    let csrf = s.auth.session(c.value()).await.expect("session").csrf;
    // a new enrolment while one is on: refused, the factor kept
    let r = post(
        &svc,
        "/settings/security/totp/begin",
        &[&c],
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&r), "/settings?e=already#security");
    let r = post(
        &svc,
        "/settings/security/totp/off",
        &[&c],
        &[("csrf", &csrf), ("password", "not my password")],
    )
    .await;
    assert_eq!(location(&r), "/settings?e=password#security");
    assert!(s.store.second_factor_on(alice).await.expect("q"));
    // new recovery codes replace the old ones
    let r = post(
        &svc,
        "/settings/security/recovery",
        &[&c],
        &[("csrf", &csrf)],
    )
    .await;
    assert!(location(&r).starts_with("/settings?done=codes&reveal="));
    assert_eq!(s.store.recovery_codes_left(alice).await.expect("q"), 10);
    let r = post(
        &svc,
        "/settings/security/totp/off",
        &[&c],
        &[("csrf", &csrf), ("password", PW)],
    )
    .await;
    assert_eq!(location(&r), "/settings?done=off#security");
    assert!(!s.store.second_factor_on(alice).await.expect("q"));
    assert_eq!(s.store.recovery_codes_left(alice).await.expect("q"), 0);
    // the password alone logs in again
    let r = post(
        &svc,
        "/auth/login",
        &[],
        &[("address", "alice@example.test"), ("password", PW)],
    )
    .await;
    assert!(cookie(&r, "continuity").is_some());
}

/// Alice through both steps (after enrolment); her session cookie.
async fn login_with_code<S, B>(s: &Setup, svc: &S) -> actix_web::cookie::Cookie<'static>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let alice = Owner::User(alice_id(s).await);
    let (ch, _) = password_step(svc, "alice@example.test").await;
    s.clock.advance(Duration::from_secs(30));
    let code = code_at(s, alice, s.clock.now()).await;
    let r = post(svc, "/auth/code", &[&ch], &[("code", &code)]).await;
    cookie(&r, "continuity").expect("session")
}

#[actix_web::test]
async fn mail_apps_need_an_app_password_once_a_second_factor_is_on() {
    let s = setup("2fa-apps").await;
    let svc = app(&s).await;
    let ip = "192.0.2.44";
    // before: the account's password opens IMAP
    assert!(s
        .auth
        .verify_user("alice@example.test", PW, ip, Channel::Imap)
        .await
        .is_ok());
    enrol_alice(&s, &svc).await;
    let c = login_with_code(&s, &svc).await;
    let csrf = s.auth.session(c.value()).await.expect("session").csrf;
    // now the right password is told to use an app password, a wrong one
    // gets the usual answer
    for ch in [Channel::Imap, Channel::Submission] {
        assert_eq!(
            s.auth
                .verify_user("alice@example.test", PW, ip, ch)
                .await
                .map(|a| a.address),
            Err(LoginError::AppPasswordNeeded)
        );
    }
    assert_eq!(
        s.auth
            .verify_user("alice@example.test", "wrong!", ip, Channel::Imap)
            .await
            .map(|a| a.address),
        Err(LoginError::Invalid)
    );
    // a name is needed
    let r = post(
        &svc,
        "/settings/security/app-passwords/new",
        &[&c],
        &[("csrf", &csrf), ("name", "  ")],
    )
    .await;
    assert_eq!(location(&r), "/settings?e=name#security");
    let r = post(
        &svc,
        "/settings/security/app-passwords/new",
        &[&c],
        &[("csrf", &csrf), ("name", "Thunderbird <laptop>")],
    )
    .await;
    let to = location(&r);
    assert!(to.starts_with("/settings?done=app&reveal="), "{to}");
    let (_, page) = get_body(&svc, to.trim_end_matches("#security"), &c).await;
    let secret = page
        .split("id=\"app-password\">")
        .nth(1)
        .and_then(|x| x.split('<').next())
        .expect("the new app password on the page")
        .to_string();
    assert_eq!(secret.len(), 19, "{secret}");
    assert!(
        page.contains("Thunderbird &lt;laptop&gt;"),
        "the name, escaped"
    );
    // it opens IMAP and submission, typed as shown or without dashes, by
    // the address or an alias
    let plain = secret.replace('-', "");
    for (addr, pw, ch) in [
        ("alice@example.test", secret.as_str(), Channel::Imap),
        ("a.martin@example.test", plain.as_str(), Channel::Submission),
    ] {
        let a = s
            .auth
            .verify_user(addr, pw, ip, ch)
            .await
            .expect("app password");
        assert_eq!(a.address, "alice@example.test");
    }
    let alice = alice_id(&s).await;
    let listed = s.store.app_passwords(alice).await.expect("q");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_ip.as_deref(), Some(ip));
    assert_eq!(listed[0].last_used_with.as_deref(), Some("submission"));
    // it is alice's only: bob's address with it fails
    s.auth
        .set_password("bob@example.test", PW)
        .await
        .expect("pw");
    assert_eq!(
        s.auth
            .verify_user("bob@example.test", &secret, ip, Channel::Imap)
            .await
            .map(|a| a.address),
        Err(LoginError::Invalid)
    );
    // bob cannot revoke it
    let bob = login(&svc, "bob@example.test", "continuity").await;
    let bob_csrf = s.auth.session(bob.value()).await.expect("s").csrf;
    let uri = format!("/settings/security/app-passwords/{}/revoke", listed[0].id);
    let r = post(&svc, &uri, &[&bob], &[("csrf", &bob_csrf)]).await;
    assert_eq!(location(&r), "/settings?e=gone#security");
    assert!(s
        .auth
        .verify_user("alice@example.test", &secret, ip, Channel::Imap)
        .await
        .is_ok());
    // alice can; then it opens nothing
    let r = post(&svc, &uri, &[&c], &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), "/settings?done=revoked#security");
    assert_eq!(
        s.auth
            .verify_user("alice@example.test", &secret, ip, Channel::Imap)
            .await
            .map(|a| a.address),
        Err(LoginError::Invalid)
    );
    assert!(s.store.app_passwords(alice).await.expect("q").is_empty());
}
