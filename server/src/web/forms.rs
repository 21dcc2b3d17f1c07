//! The webmail's form posts: plain actix handlers, so every state-changing
//! action works with JavaScript off (POST, then 303 to a page:
//! Post/Redirect/Get). Each handler checks the session itself, and each one
//! that changes something checks the session's CSRF token. Downloads are in
//! [`super::downloads`].

// Handlers return early with a ready response (`Err(HttpResponse)`): the
// actix idiom, on a path that is not hot.
#![allow(clippy::result_large_err)]

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use app::backend::{PasswordProblem, SessionUser};
use app::i18n::Lang;
use serde::Deserialize;

use super::gate::{session_cookie, LANG_COOKIE};
use super::WebState;
use crate::auth::{token, LoginError, LoginStep, NewSession, PasswordError};
use crate::store::UserId;

/// A local path to go back to after a form ("/mail/inbox"), never another
/// site ("//evil", "https://evil", "/\\evil").
pub fn safe_next(next: Option<&str>, default: &str) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control()) =>
        {
            n.to_string()
        }
        _ => default.to_string(),
    }
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn client_ip(req: &HttpRequest) -> String {
    use actix_web::HttpMessage;
    // the gate's answer (behind a trusted proxy: the client it names)
    if let Some(super::gate::ClientIp(ip)) = req.extensions().get::<super::gate::ClientIp>() {
        return ip.to_string();
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn session_cookie_for<'a>(state: &WebState, value: String) -> Cookie<'a> {
    named_cookie(state, state.auth.cookie_name(), value)
}

/// A session cookie: HttpOnly, SameSite=Strict, Path=/, Secure behind https.
pub fn named_cookie<'a>(state: &WebState, name: &'static str, value: String) -> Cookie<'a> {
    let mut c = Cookie::new(name, value);
    c.set_path("/");
    c.set_http_only(true);
    c.set_same_site(SameSite::Strict);
    c.set_secure(state.auth.secure_cookies);
    c.set_max_age(CookieDuration::seconds(
        state.auth.session_lifetime.as_secs() as i64,
    ));
    c
}

fn removal_cookie<'a>(state: &WebState) -> Cookie<'a> {
    let mut c = session_cookie_for(state, String::new());
    c.make_removal();
    c
}

/// The request's session, or a redirect to the login page.
pub(crate) fn require_session(req: &HttpRequest) -> Result<SessionUser, HttpResponse> {
    use actix_web::HttpMessage;
    req.extensions()
        .get::<Option<SessionUser>>()
        .cloned()
        .flatten()
        .ok_or_else(|| {
            let next = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            see_other(&format!("/login?expired=1&next={}", enc(next)))
        })
}

/// Compare a form's CSRF token with the session's, in constant time.
pub(crate) fn csrf_ok(session: &SessionUser, given: &str) -> bool {
    token::csrf_matches(&session.csrf, given)
}

/// The session's user, when a webmail form carrying `csrf` is theirs to
/// post (else the response: to the login page, or refused).
pub(crate) fn form_user(req: &HttpRequest, csrf: &str) -> Result<UserId, HttpResponse> {
    let session = require_session(req)?;
    if !csrf_ok(&session, csrf) {
        return Err(forbidden_form(req));
    }
    Ok(UserId(session.user))
}

/// A mailbox change the store could not make: logged, 503.
pub(crate) fn store_failed(what: &str, e: crate::store::StoreError) -> HttpResponse {
    tracing::error!(error = %e, "{what} failed");
    HttpResponse::ServiceUnavailable().finish()
}

pub fn forbidden_form(req: &HttpRequest) -> HttpResponse {
    use actix_web::HttpMessage;
    let lang = req.extensions().get::<Lang>().copied().unwrap_or_default();
    HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .body(lang.t().bad_form)
}

#[derive(Deserialize)]
pub struct LoginForm {
    address: String,
    password: String,
    next: Option<String>,
}

/// POST /auth/login
pub async fn login(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let next = safe_next(form.next.as_deref(), "/mail/inbox");
    let ip = client_ip(&req);
    match state.auth.login(&form.address, &form.password, &ip).await {
        Ok(LoginStep::Session(session)) => signed_in(&req, &state, session, next).await,
        Ok(LoginStep::Code { challenge, admin }) => {
            second_step(&state, challenge, admin, "/login/code", next)
        }
        Ok(LoginStep::Enrol { challenge, admin }) => {
            second_step(&state, challenge, admin, "/login/enrol", next)
        }
        Err(e) => {
            let code = match e {
                LoginError::Invalid => "invalid",
                LoginError::Throttled => "throttled",
                LoginError::NotCovered => "notcovered",
                LoginError::AppPasswordNeeded | LoginError::Unavailable => "unavailable",
            };
            see_other(&format!(
                "/login?error={code}&address={}&next={}",
                enc(form.address.trim()),
                enc(&next)
            ))
        }
    }
}

/// A right password, and a second step to go (`page`): its cookie.
fn second_step(
    state: &WebState,
    challenge: String,
    admin: bool,
    page: &str,
    next: String,
) -> HttpResponse {
    let next = if admin && !(next.starts_with("/admin") || next == "/status") {
        "/admin".to_string()
    } else {
        next
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{page}?next={}", enc(&next))))
        .cookie(super::second_step::challenge_cookie(state, challenge))
        .finish()
}

/// A login done (with or without a second step): the session's cookie,
/// and on to `next` (an administrator's to the Control Panel). The
/// browser's older session of the same kind ends: its id is never carried
/// over.
pub(crate) async fn signed_in(
    req: &HttpRequest,
    state: &WebState,
    session: NewSession,
    next: String,
) -> HttpResponse {
    if session.admin {
        if let Some(old) = req.cookie(state.auth.admin_cookie_name()) {
            state.auth.admin_logout(old.value()).await;
        }
        let next = if next.starts_with("/admin") || next == "/status" {
            next
        } else {
            "/admin".into()
        };
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, next))
            .cookie(named_cookie(
                state,
                state.auth.admin_cookie_name(),
                session.cookie,
            ))
            .finish();
    }
    if let Some(old) = session_cookie(req, state) {
        state.auth.logout(&old).await;
    }
    // what the user is told of outages is in the language they use here
    let lang = {
        use actix_web::HttpMessage;
        req.extensions().get::<Lang>().copied().unwrap_or_default()
    };
    if let Err(e) = state.store.set_user_lang(session.user, lang.code()).await {
        tracing::warn!(error = %e, "the user's language not recorded");
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .cookie(session_cookie_for(state, session.cookie))
        .finish()
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// POST /auth/logout
pub async fn logout(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let session = match require_session(&req) {
        Ok(s) => s,
        Err(_) => return see_other("/login"),
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden_form(&req);
    }
    if let Some(c) = session_cookie(&req, &state) {
        state.auth.logout(&c).await;
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login?bye=1"))
        .cookie(removal_cookie(&state))
        .finish()
}

#[derive(Deserialize)]
pub struct SetPasswordForm {
    t: String,
    password: String,
    confirm: String,
}

fn problems_query(problems: &[PasswordProblem]) -> String {
    problems
        .iter()
        .map(|p| p.code())
        .collect::<Vec<_>>()
        .join(",")
}

/// POST /auth/set-password (from the emailed link)
pub async fn set_password(
    state: web::Data<WebState>,
    form: web::Form<SetPasswordForm>,
) -> HttpResponse {
    match state
        .auth
        .redeem_link(&form.t, &form.password, &form.confirm)
        .await
    {
        // where passkeys work, the login goes on to offer one (its
        // second step, right after the password is set)
        Ok(account) if state.auth.passkeys_here() => see_other(&format!(
            "/login?set=1&address={}&next={}",
            enc(&account.address),
            enc("/settings?offer=passkey#passkeys")
        )),
        Ok(account) => see_other(&format!("/login?set=1&address={}", enc(&account.address))),
        Err(PasswordError::Policy(p)) => see_other(&format!(
            "/set-password?t={}&e={}",
            enc(&form.t),
            problems_query(&p)
        )),
        Err(PasswordError::Link(_))
        | Err(PasswordError::NoUser)
        | Err(PasswordError::Throttled) => see_other(&format!("/set-password?t={}", enc(&form.t))),
        Err(PasswordError::Unavailable) => {
            see_other(&format!("/set-password?t={}&e=unavailable", enc(&form.t)))
        }
    }
}

#[derive(Deserialize)]
pub struct ChangePasswordForm {
    csrf: String,
    current: String,
    password: String,
    confirm: String,
}

/// POST /settings/password
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<ChangePasswordForm>,
) -> HttpResponse {
    let session = match require_session(&req) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden_form(&req);
    }
    match state
        .auth
        .change_password(
            UserId(session.user),
            &form.current,
            &form.password,
            &form.confirm,
            &client_ip(&req),
        )
        .await
    {
        Ok(_) => {
            // Every session ended with the change; this browser gets a new one.
            match state
                .auth
                .start_session(UserId(session.user), &client_ip(&req))
                .await
            {
                Ok(s) => HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/settings?changed=1"))
                    .cookie(session_cookie_for(&state, s.cookie))
                    .finish(),
                Err(_) => see_other("/login"),
            }
        }
        Err(PasswordError::Policy(p)) => see_other(&format!("/settings?e={}", problems_query(&p))),
        Err(PasswordError::Throttled) => see_other("/settings?e=throttled"),
        Err(_) => see_other("/settings?e=unavailable"),
    }
}

#[derive(Deserialize)]
pub struct SeenForm {
    csrf: String,
    seen: String,
    next: Option<String>,
}

/// POST /mail/m/{id}/seen
pub async fn set_seen(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    form: web::Form<SeenForm>,
) -> HttpResponse {
    let session = match require_session(&req) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden_form(&req);
    }
    let id = path.into_inner();
    match state
        .store
        .set_seen(UserId(session.user), id, form.seen == "1")
        .await
    {
        Ok(true) => see_other(&safe_next(form.next.as_deref(), "/mail/inbox")),
        Ok(false) => not_found(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

#[derive(Deserialize)]
pub struct LangQuery {
    next: Option<String>,
}

/// GET /lang/{code}: remember the language and go back.
pub async fn set_lang(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
) -> HttpResponse {
    let next = safe_next(q.next.as_deref(), "/");
    let Some(lang) = Lang::from_code(&path) else {
        return not_found();
    };
    if let Ok(s) = require_session(&req) {
        if let Err(e) = state.store.set_user_lang(UserId(s.user), lang.code()).await {
            tracing::warn!(error = %e, "the user's language not recorded");
        }
    }
    let mut c = Cookie::new(LANG_COOKIE, lang.code());
    c.set_path("/");
    c.set_same_site(SameSite::Lax);
    c.set_max_age(CookieDuration::days(365));
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .cookie(c)
        .finish()
}

pub fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("Not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_never_leaves_the_site() {
        assert_eq!(safe_next(Some("/mail/m/3"), "/"), "/mail/m/3");
        for bad in [
            "//evil.test",
            "https://evil.test",
            "/\\evil.test",
            "evil",
            "/a\r\nSet-Cookie: x",
            "",
        ] {
            assert_eq!(safe_next(Some(bad), "/d"), "/d", "{bad:?}");
        }
        assert_eq!(safe_next(None, "/d"), "/d");
    }

    #[test]
    fn link_problem_is_exhaustive() {
        use app::backend::LinkProblem;
        // the set-password page shows a message for each
        for p in [
            LinkProblem::Invalid,
            LinkProblem::Expired,
            LinkProblem::Used,
        ] {
            assert!(!Lang::Fr.t().link_problem(p).is_empty());
        }
    }
}
