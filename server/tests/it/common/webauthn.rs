//! Passkeys in the tests: a software authenticator that does what a
//! browser and a security key do (P-256 keys, CBOR attestation with no
//! statement, signed assertions with a counter), and the browser's half of
//! each ceremony over HTTP (options, the answer, where the page goes).

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

use super::web_client::post_json;

/// The service's public address in these tests: a name, so passkeys work.
pub const SITE: &str = "http://mail.example.test";

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
pub struct SoftKey {
    pub pair: EcdsaKeyPair,
    pub id: Vec<u8>,
    pub counter: u32,
    /// The origin the "browser" puts in what it signs.
    pub origin: String,
    /// User verification (PIN, fingerprint) done.
    pub verified: bool,
}

impl SoftKey {
    pub fn new() -> SoftKey {
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
    pub fn with_id(id: Vec<u8>) -> SoftKey {
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
    pub fn create(&mut self, options: &Value) -> Value {
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
    pub fn get(&mut self, options: &Value) -> Value {
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

/// A password login that stops at the second step: its challenge cookie.
pub async fn challenge_after_password<S, B>(svc: &S, address: &str) -> Cookie<'static>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let (challenge, to) = super::two_step::password_step(svc, address).await;
    assert!(to.starts_with("/login/code"), "{to}");
    challenge
}

/// The options of a registration for the session `c` (CSRF `csrf`) at
/// `base`.
pub async fn options<S, B>(svc: &S, base: &str, c: &Cookie<'static>, csrf: &str) -> Value
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
pub async fn answer<S, B>(
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
pub async fn register<S, B>(
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
pub async fn passkey_step<S, B>(
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

/// The options of a set-up by passkey for the login of `cookies`.
pub async fn enrol_options<S, B>(svc: &S, cookies: &[&Cookie<'static>]) -> Value
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
pub fn assert_expired(v: &Value) {
    let next = v["next"].as_str().unwrap_or_default();
    assert!(next.starts_with("/login?error=expired"), "{v}");
}
