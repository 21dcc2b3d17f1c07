//! Two-step login's shared steps in the tests: the code an authenticator
//! app shows, the clock at the start of a code's step, alice's id, and a
//! password login stopped at its second step.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use server::auth::second_factor::Owner;
use server::store::UserId;

use super::control::{location, Setup, PW};
use super::web_client::{cookie, post_form};

/// The code an authenticator app shows for `owner`'s secret at `at_ms`.
pub async fn code_at(s: &Setup, owner: Owner, at_ms: i64) -> String {
    let row = s.store.totp(owner).await.expect("q").expect("a secret");
    let t = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::from(row.secret))
        .build()
        .expect("totp");
    t.generate((at_ms / 1000) as u64).to_string()
}

/// Move the clock to the start of a 30 s step (plus a second), so that a
/// test's few seconds never cross into the next one by chance.
pub fn align(s: &Setup) {
    let into = s.clock.now().rem_euclid(30_000);
    s.clock
        .advance(Duration::from_millis((30_000 - into + 1_000) as u64));
}

pub async fn alice_id(s: &Setup) -> UserId {
    s.store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("alice")
        .user
}

/// The password step: the challenge cookie, and where it leads.
pub async fn password_step<S, B>(svc: &S, address: &str) -> (Cookie<'static>, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let r = post_form(
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
