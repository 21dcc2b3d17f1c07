//! Passkeys on the web: the JSON ends of the two WebAuthn ceremonies the
//! pages' script runs (`navigator.credentials`), and the removal form.
//!
//! - `POST {base}/passkeys/options`, `{base}/passkeys/register` (base:
//!   `/settings/security` or `/admin/security`): register a passkey for the
//!   session's account. The session's CSRF token comes in the
//!   `X-CSRF-Token` header.
//! - `POST /auth/passkey/options`, `/auth/passkey`: finish a login's second
//!   step with a passkey (the login's challenge cookie says whose).
//! - `POST /auth/enrol/passkey/options`, `/auth/enrol/passkey`: set up
//!   the first factor of a login that must have one, with a passkey.
//! - `POST {base}/passkeys/{id}/remove`: a plain form.
//!
//! Every answer of a JSON end is `{"options": …}` or `{"next": URL}`: the
//! page goes there, with what happened in its query (`done=`, `e=`), as
//! the forms' redirects do.

#![allow(clippy::result_large_err)]

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::forms::{client_ip, enc, safe_next};
use super::second_step::{challenge_of, enrolled, logged_in};
use super::security_forms::{account_of, back_to, owner, reveal_key, Side};
use super::WebState;
use crate::auth::passkeys::PasskeyError;
use crate::auth::second_factor::{CodeError, Owner};

/// The JSON `{"next": to}`.
fn next(to: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "next": to }))
}

/// A ceremony's options for the browser (already JSON).
fn options(json: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(format!("{{\"options\":{json}}}"))
}

/// The request's account of `side`, its CSRF token from the header
/// checked; or where the page should go instead.
fn json_owner(req: &HttpRequest, side: Side) -> Result<(Owner, String), HttpResponse> {
    let given = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match owner(req, side, Some(given)) {
        Ok(o) => Ok(o),
        // no session: its login page; a wrong token: refused as forms are
        Err(r) if r.status().is_redirection() => {
            Err(next(&format!("/login?expired=1&next={}", enc(side.page()))))
        }
        Err(r) => Err(r),
    }
}

/// What a registration's failure is called in the section's query.
fn failure(e: &PasskeyError) -> &'static str {
    match e {
        PasskeyError::NotHere => "passkey-here",
        PasskeyError::Name => "name",
        PasskeyError::Expired => "expired",
        PasskeyError::Refused => "passkey",
        PasskeyError::Already => "passkey-already",
        PasskeyError::Unavailable => "unavailable",
    }
}

/// POST {base}/passkeys/options
async fn registration_options(
    req: HttpRequest,
    state: web::Data<WebState>,
    side: Side,
) -> HttpResponse {
    let (owner, _) = match json_owner(&req, side) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(account) = account_of(&state, owner).await else {
        return next(&back_to(side, "e=unavailable"));
    };
    match state.auth.passkey_registration_start(owner, &account).await {
        Ok(json) => options(json),
        Err(e) => next(&back_to(side, &format!("e={}", failure(&e)))),
    }
}

#[derive(Deserialize)]
pub struct Registered {
    name: String,
    credential: serde_json::Value,
}

/// POST {base}/passkeys/register
async fn register(
    req: HttpRequest,
    state: web::Data<WebState>,
    side: Side,
    body: web::Json<Registered>,
) -> HttpResponse {
    let (owner, csrf) = match json_owner(&req, side) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let credential = body.credential.to_string();
    match state
        .auth
        .passkey_registration_finish(owner, &body.name, &credential)
        .await
    {
        Ok(None) => next(&back_to(side, "done=passkey")),
        Ok(Some(codes)) => {
            let id = state
                .auth
                .reveals
                .stash(&csrf, &reveal_key(owner, "codes"), codes.join("\n"));
            next(&back_to(side, &format!("done=passkey&reveal={}", enc(&id))))
        }
        Err(e) => next(&back_to(side, &format!("e={}", failure(&e)))),
    }
}

pub async fn user_options(req: HttpRequest, state: web::Data<WebState>) -> HttpResponse {
    registration_options(req, state, Side::User).await
}

pub async fn admin_options(req: HttpRequest, state: web::Data<WebState>) -> HttpResponse {
    registration_options(req, state, Side::Admin).await
}

pub async fn user_register(
    req: HttpRequest,
    state: web::Data<WebState>,
    body: web::Json<Registered>,
) -> HttpResponse {
    register(req, state, Side::User, body).await
}

pub async fn admin_register(
    req: HttpRequest,
    state: web::Data<WebState>,
    body: web::Json<Registered>,
) -> HttpResponse {
    register(req, state, Side::Admin, body).await
}

#[derive(Deserialize)]
pub struct RemoveForm {
    csrf: String,
}

async fn remove(
    req: HttpRequest,
    state: web::Data<WebState>,
    side: Side,
    id: i64,
    form: RemoveForm,
) -> HttpResponse {
    let (owner, _) = match owner(&req, side, Some(&form.csrf)) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let to = match state.store.delete_passkey(owner, id).await {
        Ok(Some(true)) => {
            tracing::info!(owner = ?owner, id, "passkey removed");
            "done=passkey-removed"
        }
        // the last factor goes only with the password (turn it off)
        Ok(Some(false)) => "e=passkey-last",
        // not theirs, or gone already: nothing to tell apart
        Ok(None) => "e=gone",
        Err(e) => {
            tracing::error!(error = %e, "passkey removal failed");
            "e=unavailable"
        }
    };
    super::forms::see_other(&back_to(side, to))
}

/// POST /settings/security/passkeys/{id}/remove
pub async fn user_remove(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    form: web::Form<RemoveForm>,
) -> HttpResponse {
    remove(req, state, Side::User, path.into_inner(), form.into_inner()).await
}

/// POST /admin/security/passkeys/{id}/remove
pub async fn admin_remove(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    form: web::Form<RemoveForm>,
) -> HttpResponse {
    remove(
        req,
        state,
        Side::Admin,
        path.into_inner(),
        form.into_inner(),
    )
    .await
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Where a second step that did not end the login sends the page.
fn code_page(e: CodeError, to: &str) -> String {
    let why = match e {
        CodeError::Expired => return format!("/login?error=expired&next={}", enc(to)),
        CodeError::Wrong => "passkey",
        CodeError::Throttled => "throttled",
        CodeError::NoPasskey => "nopasskey",
        CodeError::Unavailable => "unavailable",
    };
    format!("/login/code?error={why}&next={}", enc(to))
}

/// POST /auth/passkey/options?next=…: the assertion's options for the
/// login of the request's challenge.
pub async fn login_options(
    req: HttpRequest,
    state: web::Data<WebState>,
    q: web::Query<LoginQuery>,
) -> HttpResponse {
    let to = safe_next(q.next.as_deref(), "/mail/inbox");
    match state
        .auth
        .passkey_login_start(&challenge_of(&req, &state))
        .await
    {
        Ok(json) => options(json),
        Err(e) => next(&code_page(e, &to)),
    }
}

#[derive(Deserialize)]
pub struct Asserted {
    credential: serde_json::Value,
    next: Option<String>,
}

/// POST /auth/passkey: the login's second step by passkey. Done, the
/// session's cookie comes with `{"next": …}`.
pub async fn login(
    req: HttpRequest,
    state: web::Data<WebState>,
    body: web::Json<Asserted>,
) -> HttpResponse {
    let to = safe_next(body.next.as_deref(), "/mail/inbox");
    let credential = body.credential.to_string();
    let ip = client_ip(&req);
    match state
        .auth
        .passkey_second_step(&challenge_of(&req, &state), &credential, &ip)
        .await
    {
        Ok(session) => as_json(logged_in(&req, &state, session, to).await),
        Err(e) => next(&code_page(e, &to)),
    }
}

/// A form's redirect with its session, as JSON: its place and its cookies.
fn as_json(done: HttpResponse) -> HttpResponse {
    let place = done
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/mail/inbox")
        .to_string();
    let mut out = next(&place);
    for c in done.headers().get_all(header::SET_COOKIE) {
        out.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    out
}

/// Where a set-up that did not end the login sends the page.
fn enrol_page(e: &PasskeyError, to: &str) -> String {
    match e {
        PasskeyError::Expired => format!("/login?error=expired&next={}", enc(to)),
        e => format!("/login/enrol?error={}&next={}", failure(e), enc(to)),
    }
}

/// POST /auth/enrol/passkey/options?next=…: a login that must set a
/// factor up registers a passkey (the options).
pub async fn enrol_options(
    req: HttpRequest,
    state: web::Data<WebState>,
    q: web::Query<LoginQuery>,
) -> HttpResponse {
    let to = safe_next(q.next.as_deref(), "/mail/inbox");
    match state
        .auth
        .enrol_passkey_start(&challenge_of(&req, &state))
        .await
    {
        Ok(json) => options(json),
        Err(e) => next(&enrol_page(&e, &to)),
    }
}

#[derive(Deserialize)]
pub struct Enrolled {
    name: String,
    credential: serde_json::Value,
    next: Option<String>,
}

/// POST /auth/enrol/passkey: the passkey kept, the login done, on the
/// security section with the recovery codes.
pub async fn enrol(
    req: HttpRequest,
    state: web::Data<WebState>,
    body: web::Json<Enrolled>,
) -> HttpResponse {
    let to = safe_next(body.next.as_deref(), "/mail/inbox");
    let credential = body.credential.to_string();
    match state
        .auth
        .enrol_passkey_finish(
            &challenge_of(&req, &state),
            &body.name,
            &credential,
            &client_ip(&req),
        )
        .await
    {
        Ok((session, codes)) => as_json(enrolled(&req, &state, session, codes, "passkey").await),
        Err(e) => next(&enrol_page(&e, &to)),
    }
}
