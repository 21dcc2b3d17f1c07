//! The login's second step on the web: the challenge cookie that carries
//! a login from its password to it, a code or recovery code
//! (`/auth/code`), a required set-up's first code (`/auth/enrol`) and its
//! QR code, and the session that ends it. Passkeys finish the same step
//! through [`super::passkey_forms`].

#![allow(clippy::result_large_err)]

use actix_web::cookie::{time::Duration as CookieDuration, Cookie};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::forms::{client_ip, enc, named_cookie, safe_next, see_other};
use super::security_forms::{reveal_key, Side};
use super::WebState;
use crate::auth::second_factor::{CodeError, Owner};

/// The challenge cookie's name (see [`Auth::cookie_name`](crate::auth::Auth)).
pub fn challenge_cookie_name(state: &WebState) -> &'static str {
    if state.auth.secure_cookies {
        "__Host-continuity-2fa"
    } else {
        "continuity-2fa"
    }
}

/// The cookie that carries a login to its second step: five minutes.
pub fn challenge_cookie<'a>(state: &WebState, value: String) -> Cookie<'a> {
    let mut c = named_cookie(state, challenge_cookie_name(state), value);
    c.set_max_age(CookieDuration::seconds(300));
    c
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    next: Option<String>,
}

/// The request's challenge cookie ("" without one).
pub(super) fn challenge_of(req: &HttpRequest, state: &WebState) -> String {
    req.cookie(challenge_cookie_name(state))
        .map(|c| c.value().to_string())
        .unwrap_or_default()
}

/// A second step that did not end the login: back to `page` with why, or
/// to the password when the login is gone.
fn not_taken(e: CodeError, page: &str, next: &str) -> HttpResponse {
    let code = match e {
        CodeError::Expired => {
            return see_other(&format!("/login?error=expired&next={}", enc(next)))
        }
        CodeError::Wrong => "wrong",
        CodeError::Throttled => "throttled",
        CodeError::NoPasskey => "nopasskey",
        CodeError::Unavailable => "unavailable",
    };
    see_other(&format!("{page}?error={code}&next={}", enc(next)))
}

/// The login done: its session, the challenge cookie removed.
pub(super) async fn logged_in(
    req: &HttpRequest,
    state: &WebState,
    session: crate::auth::NewSession,
    to: String,
) -> HttpResponse {
    let mut gone = challenge_cookie(state, String::new());
    gone.make_removal();
    let mut done = super::forms::signed_in(req, state, session, to).await;
    let _ = done.add_cookie(&gone);
    done
}

/// POST /auth/code: the login's second step.
pub async fn code(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    let next = safe_next(form.next.as_deref(), "/mail/inbox");
    let challenge = challenge_of(&req, &state);
    let ip = client_ip(&req);
    match state.auth.second_step(&challenge, &form.code, &ip).await {
        Ok(session) => logged_in(&req, &state, session, next).await,
        Err(e) => not_taken(e, "/login/code", &next),
    }
}

/// POST /auth/enrol: the second step of a login that must set a factor
/// up. Done, the session starts on the security section, where the
/// recovery codes are shown once.
pub async fn enrol(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    let next = safe_next(form.next.as_deref(), "/mail/inbox");
    let challenge = challenge_of(&req, &state);
    let ip = client_ip(&req);
    match state.auth.enrol_step(&challenge, &form.code, &ip).await {
        Ok((session, codes)) => enrolled(&req, &state, session, codes, "on").await,
        Err(e) => not_taken(e, "/login/enrol", &next),
    }
}

/// A login that set its first factor up: its session, on the security
/// section where the recovery codes are shown once (`done`: what the
/// section says was done).
pub(super) async fn enrolled(
    req: &HttpRequest,
    state: &WebState,
    session: crate::auth::NewSession,
    codes: Vec<String>,
    done: &str,
) -> HttpResponse {
    let (side, owner) = if session.admin {
        (Side::Admin, Owner::Admin(session.user.0))
    } else {
        (Side::User, Owner::User(session.user))
    };
    let csrf = if session.admin {
        state.auth.admin_session(&session.cookie).await
    } else {
        state.auth.session(&session.cookie).await
    }
    .map(|a| a.csrf)
    .unwrap_or_default();
    let id = state
        .auth
        .reveals
        .stash(&csrf, &reveal_key(owner, "codes"), codes.join("\n"));
    let to = format!("{}?done={done}&reveal={}#security", side.page(), enc(&id));
    logged_in(req, state, session, to).await
}

/// GET /auth/enrol/qr.svg: the QR code of a login's set-up (no-store).
pub async fn enrol_qr(req: HttpRequest, state: web::Data<WebState>) -> HttpResponse {
    let challenge = challenge_of(&req, &state);
    match state.auth.enrolment(&challenge).await {
        Ok(Some((_, setup))) => HttpResponse::Ok()
            .content_type("image/svg+xml")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(setup.qr_svg),
        Ok(None) => super::forms::not_found(),
        Err(e) => {
            tracing::error!(error = %e, "second factor setup lookup failed");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
