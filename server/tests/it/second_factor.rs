//! Two-step login over HTTP, in process (the real routes, middleware,
//! store and auth, on a clock the tests move): enrolment with a QR code
//! and a first code, the login's second step for users and
//! administrators, codes never taken twice, recovery codes once, wrong
//! codes throttled and ending the login, turning it off with the password;
//! and app passwords — the only way into IMAP and submission once an
//! account has a second factor. Each tried by breaking it.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use server::auth::second_factor::Owner;
use server::auth::{Channel, LoginError};
use server::store::UserId;

use crate::common::control::*;

fn peer() -> std::net::SocketAddr {
    "203.0.113.9:5000".parse().expect("addr")
}

/// The code an authenticator app shows for `owner`'s secret at `at_ms`.
async fn code_at(s: &Setup, owner: Owner, at_ms: i64) -> String {
    let row = s.store.totp(owner).await.expect("q").expect("a secret");
    let t = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::from(row.secret))
        .build()
        .expect("totp");
    t.generate((at_ms / 1000) as u64).to_string()
}

/// Move the clock to the start of a 30 s step (plus a second), so that a
/// test's few seconds never cross into the next one by chance.
fn align(s: &Setup) {
    let into = s.clock.now().rem_euclid(30_000);
    s.clock
        .advance(Duration::from_millis((30_000 - into + 1_000) as u64));
}

fn cookie<B>(r: &ServiceResponse<B>, name: &str) -> Option<actix_web::cookie::Cookie<'static>> {
    r.response()
        .cookies()
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.into_owned())
}

async fn post<S, B>(
    svc: &S,
    uri: &str,
    cookies: &[&actix_web::cookie::Cookie<'static>],
    form: &[(&str, &str)],
) -> ServiceResponse<B>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = TestRequest::post().uri(uri).peer_addr(peer());
    for c in cookies {
        req = req.cookie((*c).clone());
    }
    test::call_service(svc, req.set_form(form).to_request()).await
}

async fn get_body<S, B>(svc: &S, uri: &str, c: &actix_web::cookie::Cookie<'static>) -> (u16, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let req = TestRequest::get()
        .uri(uri)
        .peer_addr(peer())
        .cookie(c.clone())
        .to_request();
    let r = test::call_service(svc, req).await;
    let status = r.status().as_u16();
    let body = test::read_body(r).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

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

async fn alice_id(s: &Setup) -> UserId {
    s.store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("alice")
        .user
}

/// The password step: the challenge cookie, and where it leads.
async fn password_step<S, B>(svc: &S, address: &str) -> (actix_web::cookie::Cookie<'static>, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let r = post(
        svc,
        "/auth/login",
        &[],
        &[
            ("address", address),
            ("password", PW),
            ("next", "/mail/inbox"),
        ],
    )
    .await;
    assert!(cookie(&r, "continuity").is_none(), "no session yet");
    assert!(cookie(&r, "continuity-admin").is_none(), "no session yet");
    let ch = cookie(&r, "continuity-2fa").expect("challenge cookie");
    assert_eq!(ch.http_only(), Some(true));
    assert_eq!(ch.same_site(), Some(actix_web::cookie::SameSite::Strict));
    (ch, location(&r))
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
