//! Passkeys over HTTP, in process, against a software authenticator that
//! does what a browser and a security key do (P-256 keys, CBOR
//! attestation with no statement, signed assertions with a counter):
//! registration from Settings with recovery codes for a first factor, the
//! login's second step by passkey for users and administrators, and each
//! check tried by breaking it — a replayed or cloned answer, another
//! site's origin, another account's key, an answer without user
//! verification, five failures, CSRF and other accounts' passkeys.

use serde_json::json;
use server::auth::second_factor::Owner;
use server::auth::{Channel, LoginError};

use crate::common::control::*;
use crate::common::web_client::{get_body, post_form, post_json};
use crate::common::webauthn::*;

#[actix_web::test]
async fn a_passkey_is_registered_and_finishes_logins_and_nothing_else_does() {
    let s = setup_with("passkeys", &[("CONTINUITY_WEB_PUBLIC_URL", SITE)]).await;
    let svc = app(&s).await;
    let alice = Owner::User(
        s.store
            .account_by_address("alice@example.test")
            .await
            .expect("q")
            .expect("alice")
            .user,
    );
    let c = login(&svc, "alice@example.test", "continuity").await;
    let csrf = s.auth.session(c.value()).await.expect("session").csrf;
    let (_, settings) = get_body(&svc, "/settings", &c).await;
    assert!(settings.contains("id=\"passkey-add\""), "offered");

    // options name the site and the account; the answer is checked
    let base = "/settings/security";
    let v = options(&svc, base, &c, &csrf).await;
    assert_eq!(v["options"]["publicKey"]["rp"]["id"], "mail.example.test");
    assert_eq!(
        v["options"]["publicKey"]["user"]["name"],
        "alice@example.test"
    );
    assert_eq!(
        v["options"]["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    // an answer made for another site is refused, and spends the ceremony
    let mut phished = SoftKey::new();
    phished.origin = "http://mail.example.test.evil.example".into();
    let credential = phished.create(&v["options"]);
    let next = answer(&svc, base, &c, &csrf, "Phished", &credential).await;
    assert_eq!(next, "/settings?e=passkey#security");
    let next = answer(&svc, base, &c, &csrf, "Again", &credential).await;
    assert_eq!(
        next, "/settings?e=expired#security",
        "one answer per ceremony"
    );
    assert!(!s.store.second_factor_on(alice).await.expect("q"));

    // a key without user verification (no PIN, no fingerprint) is refused
    let mut lax = SoftKey::new();
    lax.verified = false;
    let next = register(&svc, base, &c, &csrf, &mut lax, "Lax").await;
    assert_eq!(next, "/settings?e=passkey#security");

    // the first passkey turns two-step login on, with recovery codes once
    let mut key = SoftKey::new();
    let next = register(&svc, "/settings/security", &c, &csrf, &mut key, "Laptop").await;
    assert!(next.starts_with("/settings?done=passkey&reveal="), "{next}");
    assert!(s.store.second_factor_on(alice).await.expect("q"));
    assert_eq!(s.store.recovery_codes_left(alice).await.expect("q"), 10);
    // mail apps cannot go round it: they need an app password now
    for ch in [Channel::Imap, Channel::Submission] {
        assert_eq!(
            s.auth
                .verify_user("alice@example.test", PW, "203.0.113.7", ch)
                .await
                .map(|a| a.address),
            Err(LoginError::AppPasswordNeeded)
        );
    }
    let (_, shown) = get_body(&svc, &next, &c).await;
    assert!(shown.contains("id=\"recovery-codes\""), "codes shown once");
    assert!(shown.contains("data-passkey=\"Laptop\""));
    // (a page may read it again for a moment: its hydration does)
    s.clock.advance(std::time::Duration::from_secs(4));
    let (_, again) = get_body(&svc, &next, &c).await;
    assert!(!again.contains("id=\"recovery-codes\""), "only once");
    // the same key again: already registered
    let mut same = SoftKey::with_id(key.id.clone());
    let v = options(&svc, base, &c, &csrf).await;
    let excluded = v["options"]["publicKey"]["excludeCredentials"]
        .as_array()
        .expect("excluded")
        .len();
    assert_eq!(excluded, 1, "the browser is told not to register it twice");
    let credential = same.create(&v["options"]);
    let next = answer(&svc, base, &c, &csrf, "Twice", &credential).await;
    assert_eq!(next, "/settings?e=passkey-already#security");

    // a login: the password, then the passkey
    let challenge = challenge_after_password(&svc, "alice@example.test").await;
    let (_, code_page) = get_body(&svc, "/login/code", &challenge).await;
    assert!(
        code_page.contains("id=\"use-passkey\""),
        "the code page offers it"
    );
    let (next, set) = passkey_step(&svc, &challenge, &mut key).await;
    assert_eq!(next, "/settings");
    let session = set
        .iter()
        .find(|c| c.name() == "continuity")
        .expect("a session")
        .clone();
    assert!(set
        .iter()
        .any(|c| c.name() == "continuity-2fa" && c.value().is_empty()));
    let (status, _) = get_body(&svc, "/settings", &session).await;
    assert_eq!(status, 200);
    let rows = s.store.passkeys(alice).await.expect("q");
    assert!(rows[0].last_used_at.is_some(), "its last use is shown");

    // a cloned key (its counter behind the one seen) is refused
    let mut clone = SoftKey::with_id(key.id.clone());
    std::mem::swap(&mut clone.pair, &mut key.pair);
    let challenge = challenge_after_password(&svc, "alice@example.test").await;
    let (next, set) = passkey_step(&svc, &challenge, &mut clone).await;
    assert_eq!(
        next, "/login/code?error=passkey&next=%2Fsettings",
        "counter went back"
    );
    assert!(set.is_empty());
    std::mem::swap(&mut clone.pair, &mut key.pair);

    // an answer signed for another site, or by another account's key
    let mut bob_key = SoftKey::new();
    s.auth
        .set_password("bob@example.test", PW)
        .await
        .expect("bob pw");
    let bob = login(&svc, "bob@example.test", "continuity").await;
    let bob_csrf = s.auth.session(bob.value()).await.expect("s").csrf;
    register(
        &svc,
        "/settings/security",
        &bob,
        &bob_csrf,
        &mut bob_key,
        "Bob's",
    )
    .await;
    let challenge = challenge_after_password(&svc, "alice@example.test").await;
    let (next, _) = passkey_step(&svc, &challenge, &mut bob_key).await;
    assert!(next.starts_with("/login/code?error=passkey"), "{next}");
    key.origin = "http://evil.example".into();
    let (next, _) = passkey_step(&svc, &challenge, &mut key).await;
    assert!(next.starts_with("/login/code?error=passkey"), "{next}");
    key.origin = SITE.into();
    // an answer to no options at all (a forged body) counts as wrong too
    let (_, v, _) = post_json(
        &svc,
        "/auth/passkey",
        &[&challenge],
        None,
        &json!({ "credential": {"id": "x"}, "next": "/settings" }),
    )
    .await;
    assert!(v["next"]
        .as_str()
        .expect("n")
        .starts_with("/login/code?error=passkey"));
    // the right key still finishes this login (three failures so far)
    let (next, set) = passkey_step(&svc, &challenge, &mut key).await;
    assert_eq!(next, "/settings");
    assert!(set.iter().any(|c| c.name() == "continuity"));
    // the same answer again is no login: its challenge is spent
    let (_, v, _) = post_json(
        &svc,
        "/auth/passkey",
        &[&challenge],
        None,
        &json!({ "credential": key.get(&json!({"publicKey": {"rpId": "mail.example.test", "challenge": "AAAA"}})), "next": "/settings" }),
    )
    .await;
    assert!(
        v["next"]
            .as_str()
            .expect("n")
            .starts_with("/login?error=expired"),
        "{v}"
    );

    // five failures end the login: the password again
    let challenge = challenge_after_password(&svc, "alice@example.test").await;
    for _ in 0..4 {
        let (next, _) = passkey_step(&svc, &challenge, &mut bob_key).await;
        assert!(next.starts_with("/login/code?error="), "{next}");
    }
    let (next, _) = passkey_step(&svc, &challenge, &mut bob_key).await;
    assert!(next.starts_with("/login?error=expired"), "{next}");
    let (next, _) = passkey_step(&svc, &challenge, &mut key).await;
    assert!(next.starts_with("/login?error=expired"), "{next}");
}

#[actix_web::test]
async fn passkeys_belong_to_their_owner_and_the_last_goes_only_with_the_password() {
    let s = setup_with("passkeys-auth", &[("CONTINUITY_WEB_PUBLIC_URL", SITE)]).await;
    let svc = app(&s).await;
    let c = login(&svc, "alice@example.test", "continuity").await;
    let csrf = s.auth.session(c.value()).await.expect("session").csrf;
    let alice = Owner::User(
        s.store
            .account_by_address("alice@example.test")
            .await
            .expect("q")
            .expect("alice")
            .user,
    );

    // no CSRF token, or another's: refused; no session: to the login
    let (status, _, _) = post_json(
        &svc,
        "/settings/security/passkeys/options",
        &[&c],
        None,
        &json!({}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = post_json(
        &svc,
        "/settings/security/passkeys/options",
        &[&c],
        Some("forged"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 403);
    let (_, v, _) = post_json(
        &svc,
        "/settings/security/passkeys/options",
        &[],
        Some(&csrf),
        &json!({}),
    )
    .await;
    assert!(v["next"]
        .as_str()
        .expect("n")
        .starts_with("/login?expired=1"));
    // a user's session is no administrator's
    let (_, v, _) = post_json(
        &svc,
        "/admin/security/passkeys/options",
        &[&c],
        Some(&csrf),
        &json!({}),
    )
    .await;
    assert!(v["next"]
        .as_str()
        .expect("n")
        .starts_with("/login?expired=1"));
    // an unnamed passkey is refused before anything is kept
    let next = register(
        &svc,
        "/settings/security",
        &c,
        &csrf,
        &mut SoftKey::new(),
        "  ",
    )
    .await;
    assert_eq!(next, "/settings?e=name#security");
    assert!(s.store.passkeys(alice).await.expect("q").is_empty());

    let mut key = SoftKey::new();
    register(&svc, "/settings/security", &c, &csrf, &mut key, "Phone").await;
    let id = s.store.passkeys(alice).await.expect("q")[0].id;
    // another user cannot remove it
    s.auth
        .set_password("bob@example.test", PW)
        .await
        .expect("bob pw");
    let bob = login(&svc, "bob@example.test", "continuity").await;
    let bob_csrf = s.auth.session(bob.value()).await.expect("s").csrf;
    let r = post_form(
        &svc,
        &format!("/settings/security/passkeys/{id}/remove"),
        &[&bob],
        &[("csrf", &bob_csrf)],
    )
    .await;
    assert_eq!(location(&r), "/settings?e=gone#security");
    // its owner cannot remove the last factor this way
    let r = post_form(
        &svc,
        &format!("/settings/security/passkeys/{id}/remove"),
        &[&c],
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&r), "/settings?e=passkey-last#security");
    // with a second passkey, the first goes
    let mut other = SoftKey::new();
    let next = register(&svc, "/settings/security", &c, &csrf, &mut other, "Key").await;
    assert_eq!(
        next, "/settings?done=passkey#security",
        "no new codes for a second factor"
    );
    let r = post_form(
        &svc,
        &format!("/settings/security/passkeys/{id}/remove"),
        &[&c],
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&r), "/settings?done=passkey-removed#security");
    assert_eq!(s.store.passkeys(alice).await.expect("q").len(), 1);
    // an authenticator app beside the passkey, then removed on its own
    let r = post_form(
        &svc,
        "/settings/security/totp/begin",
        &[&c],
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&r), "/settings?setup=1#security");
    let secret = s
        .store
        .totp(alice)
        .await
        .expect("q")
        .expect("secret")
        .secret;
    let code = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::from(secret))
        .build()
        .expect("totp")
        .generate((s.clock.now() / 1000) as u64)
        .to_string();
    let r = post_form(
        &svc,
        "/settings/security/totp/confirm",
        &[&c],
        &[("csrf", &csrf), ("code", &code)],
    )
    .await;
    assert!(
        location(&r).starts_with("/settings?done=on"),
        "{}",
        location(&r)
    );
    let (_, settings) = get_body(&svc, "/settings", &c).await;
    assert!(settings.contains("id=\"totp-remove\""));
    let r = post_form(
        &svc,
        "/settings/security/totp/remove",
        &[&c],
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&r), "/settings?done=totp-removed#security");
    assert!(s.store.totp(alice).await.expect("q").is_none());
    assert!(
        s.store.second_factor_on(alice).await.expect("q"),
        "the passkey stays"
    );
    let r = post_form(
        &svc,
        "/settings/security/totp/remove",
        &[&c],
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&r), "/settings?e=gone#security");

    // turning two-step login off with the password takes the passkeys
    let r = post_form(
        &svc,
        "/settings/security/totp/off",
        &[&c],
        &[("csrf", &csrf), ("password", PW)],
    )
    .await;
    assert_eq!(location(&r), "/settings?done=off#security");
    assert!(s.store.passkeys(alice).await.expect("q").is_empty());
    assert!(!s.store.second_factor_on(alice).await.expect("q"));

    // administrators have passkeys of their own
    let admin = login(&svc, "admin@example.test", "continuity-admin").await;
    let admin_csrf = s
        .auth
        .admin_session(admin.value())
        .await
        .expect("admin session")
        .csrf;
    let mut admin_key = SoftKey::new();
    let next = register(
        &svc,
        "/admin/security",
        &admin,
        &admin_csrf,
        &mut admin_key,
        "YubiKey",
    )
    .await;
    assert!(next.starts_with("/admin?done=passkey&reveal="), "{next}");
    let challenge = challenge_after_password(&svc, "admin@example.test").await;
    // a user's key cannot finish an administrator's login
    let (next, _) = passkey_step(&svc, &challenge, &mut other).await;
    assert!(next.starts_with("/login/code?error=passkey"), "{next}");
    let (next, set) = passkey_step(&svc, &challenge, &mut admin_key).await;
    assert_eq!(next, "/admin");
    assert!(set.iter().any(|c| c.name() == "continuity-admin"));
}

#[actix_web::test]
async fn a_service_reached_by_address_offers_no_passkeys() {
    // the default public address is 127.0.0.1: no browser makes a passkey for it
    let s = setup("passkeys-ip").await;
    let svc = app(&s).await;
    let c = login(&svc, "alice@example.test", "continuity").await;
    let csrf = s.auth.session(c.value()).await.expect("session").csrf;
    let (_, settings) = get_body(&svc, "/settings", &c).await;
    assert!(settings.contains("id=\"passkeys-not-here\""));
    assert!(!settings.contains("id=\"passkey-add\""));
    let (_, v, _) = post_json(
        &svc,
        "/settings/security/passkeys/options",
        &[&c],
        Some(&csrf),
        &json!({}),
    )
    .await;
    assert_eq!(v["next"], "/settings?e=passkey-here#security");
}

#[actix_web::test]
async fn a_login_that_must_set_a_factor_up_may_take_a_passkey() {
    let s = setup_with("passkeys-enrol", &[("CONTINUITY_WEB_PUBLIC_URL", SITE)]).await;
    let svc = app(&s).await;
    s.store
        .set_users_second_factor(s.example, true)
        .await
        .expect("required");
    let alice = Owner::User(
        s.store
            .account_by_address("alice@example.test")
            .await
            .expect("q")
            .expect("alice")
            .user,
    );
    let r = post_form(
        &svc,
        "/auth/login",
        &[],
        &[("address", "alice@example.test"), ("password", PW)],
    )
    .await;
    assert!(location(&r).starts_with("/login/enrol"), "{}", location(&r));
    let challenge = r
        .response()
        .cookies()
        .find(|c| c.name() == "continuity-2fa")
        .expect("challenge")
        .into_owned();
    // without the login's challenge: nothing to set up
    assert_expired(&enrol_options(&svc, &[]).await);
    let (_, v, _) = post_json(
        &svc,
        "/auth/enrol/passkey/options?next=%2Fmail%2Finbox",
        &[&challenge],
        None,
        &json!({}),
    )
    .await;
    assert_eq!(
        v["options"]["publicKey"]["user"]["name"],
        "alice@example.test"
    );
    let mut key = SoftKey::new();
    let credential = key.create(&v["options"]);
    let (status, v, set) = post_json(
        &svc,
        "/auth/enrol/passkey",
        &[&challenge],
        None,
        &json!({ "name": "Phone", "credential": credential, "next": "/mail/inbox" }),
    )
    .await;
    assert_eq!(status, 200);
    let next = v["next"].as_str().expect("next");
    assert!(next.starts_with("/settings?done=passkey&reveal="), "{next}");
    let session = set
        .iter()
        .find(|c| c.name() == "continuity")
        .expect("session")
        .clone();
    assert!(s.store.second_factor_on(alice).await.expect("q"));
    assert!(
        s.store.totp(alice).await.expect("q").is_none(),
        "the app's set-up, not used, is gone"
    );
    let (_, page_) = get_body(&svc, next.trim_end_matches("#security"), &session).await;
    assert!(page_.contains("id=\"recovery-codes\""), "codes shown once");
    // the challenge is spent: no second registration through it
    assert_expired(&enrol_options(&svc, &[&challenge]).await);
    // the next login asks for the passkey; its challenge registers nothing
    let challenge = challenge_after_password(&svc, "alice@example.test").await;
    assert_expired(&enrol_options(&svc, &[&challenge]).await);
    let (next, _) = passkey_step(&svc, &challenge, &mut key).await;
    assert_eq!(next, "/settings");
}
