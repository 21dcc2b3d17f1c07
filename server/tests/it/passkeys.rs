//! Passkeys over HTTP, in process, against a software authenticator that
//! does what a browser and a security key do (P-256 keys, CBOR
//! attestation with no statement, signed assertions with a counter):
//! registration from Settings with recovery codes for a first factor, the
//! login's second step by passkey for users and administrators, and each
//! check tried by breaking it — a replayed or cloned answer, another
//! site's origin, another account's key, an answer without user
//! verification, five failures, CSRF and other accounts' passkeys.

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};
use server::auth::second_factor::Owner;
use server::auth::{Channel, LoginError};

use crate::common::control::*;

const SITE: &str = "http://mail.example.test";

fn peer() -> std::net::SocketAddr {
    "203.0.113.7:5000".parse().expect("addr")
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn sha256(b: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .to_vec()
}

/// CBOR, as much as an authenticator writes here.
mod cbor {
    pub fn head(major: u8, n: u64) -> Vec<u8> {
        let m = major << 5;
        match n {
            0..=23 => vec![m | n as u8],
            24..=0xff => vec![m | 24, n as u8],
            0x100..=0xffff => {
                let mut v = vec![m | 25];
                v.extend((n as u16).to_be_bytes());
                v
            }
            _ => {
                let mut v = vec![m | 26];
                v.extend((n as u32).to_be_bytes());
                v
            }
        }
    }
    pub fn int(i: i64) -> Vec<u8> {
        if i >= 0 {
            head(0, i as u64)
        } else {
            head(1, (-1 - i) as u64)
        }
    }
    pub fn bytes(b: &[u8]) -> Vec<u8> {
        let mut v = head(2, b.len() as u64);
        v.extend(b);
        v
    }
    pub fn text(s: &str) -> Vec<u8> {
        let mut v = head(3, s.len() as u64);
        v.extend(s.as_bytes());
        v
    }
}

/// A security key: one P-256 credential for one site.
struct SoftKey {
    pair: EcdsaKeyPair,
    id: Vec<u8>,
    counter: u32,
    /// The origin the "browser" puts in what it signs.
    origin: String,
    /// User verification (PIN, fingerprint) done.
    verified: bool,
}

impl SoftKey {
    fn new() -> SoftKey {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("pair");
        let id = ring::rand::generate::<[u8; 32]>(&rng)
            .expect("id")
            .expose()
            .to_vec();
        SoftKey {
            pair,
            id,
            counter: 0,
            origin: SITE.to_string(),
            verified: true,
        }
    }

    /// Another key that gives `id` for its credential.
    fn with_id(id: Vec<u8>) -> SoftKey {
        SoftKey {
            id,
            ..SoftKey::new()
        }
    }

    fn flags(&self, attested: bool) -> u8 {
        let mut f = 0x01; // user present
        if self.verified {
            f |= 0x04;
        }
        if attested {
            f |= 0x40;
        }
        f
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false
        }))
        .expect("json")
    }

    /// `navigator.credentials.create(options).toJSON()`.
    fn create(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        let rp_id = pk["rp"]["id"].as_str().expect("rp id");
        let challenge = pk["challenge"].as_str().expect("challenge");
        let point = self.pair.public_key().as_ref();
        let mut cose = cbor::head(5, 5);
        for (k, v) in [
            (1, cbor::int(2)),
            (3, cbor::int(-7)),
            (-1, cbor::int(1)),
            (-2, cbor::bytes(&point[1..33])),
            (-3, cbor::bytes(&point[33..65])),
        ] {
            cose.extend(cbor::int(k));
            cose.extend(v);
        }
        self.counter += 1;
        let mut auth = sha256(rp_id.as_bytes());
        auth.push(self.flags(true));
        auth.extend(self.counter.to_be_bytes());
        auth.extend([0u8; 16]);
        auth.extend((self.id.len() as u16).to_be_bytes());
        auth.extend(&self.id);
        auth.extend(cose);
        let mut att = cbor::head(5, 3);
        att.extend(cbor::text("fmt"));
        att.extend(cbor::text("none"));
        att.extend(cbor::text("attStmt"));
        att.extend(cbor::head(5, 0));
        att.extend(cbor::text("authData"));
        att.extend(cbor::bytes(&auth));
        json!({
            "id": b64(&self.id), "rawId": b64(&self.id), "type": "public-key",
            "response": {
                "attestationObject": b64(&att),
                "clientDataJSON": b64(&self.client_data("webauthn.create", challenge)),
                "transports": ["usb"]
            },
            "clientExtensionResults": {}
        })
    }

    /// `navigator.credentials.get(options).toJSON()`.
    fn get(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        let rp_id = pk["rpId"].as_str().expect("rp id");
        let challenge = pk["challenge"].as_str().expect("challenge");
        self.counter += 1;
        let mut auth = sha256(rp_id.as_bytes());
        auth.push(self.flags(false));
        auth.extend(self.counter.to_be_bytes());
        let client = self.client_data("webauthn.get", challenge);
        let mut signed = auth.clone();
        signed.extend(sha256(&client));
        let sig = self
            .pair
            .sign(&SystemRandom::new(), &signed)
            .expect("signature");
        json!({
            "id": b64(&self.id), "rawId": b64(&self.id), "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth),
                "clientDataJSON": b64(&client),
                "signature": b64(sig.as_ref()),
                "userHandle": null
            },
            "clientExtensionResults": {}
        })
    }
}

async fn post_json<S, B>(
    svc: &S,
    uri: &str,
    cookies: &[&Cookie<'static>],
    csrf: Option<&str>,
    body: &Value,
) -> (u16, Value, Vec<Cookie<'static>>)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = TestRequest::post().uri(uri).peer_addr(peer());
    for c in cookies {
        req = req.cookie((*c).clone());
    }
    if let Some(t) = csrf {
        req = req.insert_header(("X-CSRF-Token", t));
    }
    let r = test::call_service(svc, req.set_json(body).to_request()).await;
    let status = r.status().as_u16();
    let set: Vec<Cookie<'static>> = r.response().cookies().map(|c| c.into_owned()).collect();
    let body = test::read_body(r).await;
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, v, set)
}

async fn post_form<S, B>(
    svc: &S,
    uri: &str,
    cookies: &[&Cookie<'static>],
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

async fn page<S, B>(svc: &S, uri: &str, c: &Cookie<'static>) -> (u16, String)
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

/// A password login that stops at the second step: its challenge cookie.
async fn password_step<S, B>(svc: &S, address: &str) -> Cookie<'static>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let r = post_form(
        svc,
        "/auth/login",
        &[],
        &[("address", address), ("password", PW)],
    )
    .await;
    assert!(location(&r).starts_with("/login/code"), "{}", location(&r));
    r.response()
        .cookies()
        .find(|c| c.name() == "continuity-2fa")
        .expect("challenge cookie")
        .into_owned()
}

/// The options of a registration for the session `c` (CSRF `csrf`) at
/// `base`.
async fn options<S, B>(svc: &S, base: &str, c: &Cookie<'static>, csrf: &str) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let (status, v, _) = post_json(
        svc,
        &format!("{base}/passkeys/options"),
        &[c],
        Some(csrf),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v
}

/// The browser's answer `credential` named `name`: where the page goes.
async fn answer<S, B>(
    svc: &S,
    base: &str,
    c: &Cookie<'static>,
    csrf: &str,
    name: &str,
    credential: &Value,
) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let (status, v, _) = post_json(
        svc,
        &format!("{base}/passkeys/register"),
        &[c],
        Some(csrf),
        &json!({ "name": name, "credential": credential }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["next"].as_str().expect("next").to_string()
}

/// Register `key` as `name`: where the page goes next.
async fn register<S, B>(
    svc: &S,
    base: &str,
    c: &Cookie<'static>,
    csrf: &str,
    key: &mut SoftKey,
    name: &str,
) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let v = options(svc, base, c, csrf).await;
    let credential = key.create(&v["options"]);
    answer(svc, base, c, csrf, name, &credential).await
}

/// The second step by passkey for the login of `challenge`: where it
/// goes, and the cookies it sets.
async fn passkey_step<S, B>(
    svc: &S,
    challenge: &Cookie<'static>,
    key: &mut SoftKey,
) -> (String, Vec<Cookie<'static>>)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let (status, v, _) = post_json(
        svc,
        "/auth/passkey/options?next=%2Fsettings",
        &[challenge],
        None,
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    if let Some(next) = v["next"].as_str() {
        return (next.to_string(), vec![]);
    }
    let answer = key.get(&v["options"]);
    let (status, v, set) = post_json(
        svc,
        "/auth/passkey",
        &[challenge],
        None,
        &json!({ "credential": answer, "next": "/settings" }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    (v["next"].as_str().expect("next").to_string(), set)
}

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
    let (_, settings) = page(&svc, "/settings", &c).await;
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
    let (_, shown) = page(&svc, &next, &c).await;
    assert!(shown.contains("id=\"recovery-codes\""), "codes shown once");
    assert!(shown.contains("data-passkey=\"Laptop\""));
    // (a page may read it again for a moment: its hydration does)
    s.clock.advance(std::time::Duration::from_secs(4));
    let (_, again) = page(&svc, &next, &c).await;
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
    let challenge = password_step(&svc, "alice@example.test").await;
    let (_, code_page) = page(&svc, "/login/code", &challenge).await;
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
    let (status, _) = page(&svc, "/settings", &session).await;
    assert_eq!(status, 200);
    let rows = s.store.passkeys(alice).await.expect("q");
    assert!(rows[0].last_used_at.is_some(), "its last use is shown");

    // a cloned key (its counter behind the one seen) is refused
    let mut clone = SoftKey::with_id(key.id.clone());
    std::mem::swap(&mut clone.pair, &mut key.pair);
    let challenge = password_step(&svc, "alice@example.test").await;
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
    let challenge = password_step(&svc, "alice@example.test").await;
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
    let challenge = password_step(&svc, "alice@example.test").await;
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
    let (_, settings) = page(&svc, "/settings", &c).await;
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
    let challenge = password_step(&svc, "admin@example.test").await;
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
    let (_, settings) = page(&svc, "/settings", &c).await;
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

/// The options of a set-up by passkey for the login of `cookies`.
async fn enrol_options<S, B>(svc: &S, cookies: &[&Cookie<'static>]) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    post_json(
        svc,
        "/auth/enrol/passkey/options",
        cookies,
        None,
        &json!({}),
    )
    .await
    .1
}

/// The page is sent back to the password: the login is gone.
fn assert_expired(v: &Value) {
    let next = v["next"].as_str().unwrap_or_default();
    assert!(next.starts_with("/login?error=expired"), "{v}");
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
    let (_, page_) = page(&svc, next.trim_end_matches("#security"), &session).await;
    assert!(page_.contains("id=\"recovery-codes\""), "codes shown once");
    // the challenge is spent: no second registration through it
    assert_expired(&enrol_options(&svc, &[&challenge]).await);
    // the next login asks for the passkey; its challenge registers nothing
    let challenge = password_step(&svc, "alice@example.test").await;
    assert_expired(&enrol_options(&svc, &[&challenge]).await);
    let (next, _) = passkey_step(&svc, &challenge, &mut key).await;
    assert_eq!(next, "/settings");
}
