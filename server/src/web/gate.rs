//! The middleware every web request passes: cross-site request refusal,
//! session lookup, language choice, security headers.
//!
//! CSRF has two walls. Here: a state-changing request (POST, ...) whose
//! `Origin` (or `Sec-Fetch-Site`) says it comes from another site is refused
//! before any handler runs, logged in or not (this also covers the login
//! form). In the handlers: every state-changing form of a logged-in user
//! carries the session's CSRF token, compared in constant time. Cookies are
//! SameSite=Strict on top.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use app::backend::{AdminSession, SessionUser};
use app::i18n::Lang;

use super::WebState;
use crate::auth::Authed;

/// The language cookie (a preference, not a secret).
pub const LANG_COOKIE: &str = "lang";
/// The browser's UTC offset in minutes (set by the page's script), so dates
/// are shown in local time.
pub const TZ_COOKIE: &str = "tzo";

/// The client's address, as [`super::client_ip`] reads it for this request.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub std::net::IpAddr);

/// Does a cross-site signal say this request comes from elsewhere?
fn cross_site(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    // "null" is what a browser sends when it hides the origin (privacy
    // settings): fall through to Sec-Fetch-Site then.
    let origin = headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("\u{0}"))
        .filter(|o| *o != "null");
    if let Some(origin) = origin {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let origin_host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .unwrap_or("\u{0}");
        return host.is_empty() || !origin_host.eq_ignore_ascii_case(host);
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => !matches!(site, "same-origin" | "none"),
        // Neither header (old browser, curl): the CSRF token still applies.
        None => false,
    }
}

/// Language from the cookie, else from Accept-Language, else English.
pub fn choose_lang(req: &HttpRequest) -> Lang {
    if let Some(c) = req.cookie(LANG_COOKIE) {
        if let Some(l) = Lang::from_code(c.value()) {
            return l;
        }
    }
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default()
}

pub fn tz_offset(req: &HttpRequest) -> i32 {
    req.cookie(TZ_COOKIE)
        .and_then(|c| c.value().parse::<i32>().ok())
        .filter(|m| (-16 * 60..=16 * 60).contains(m))
        .unwrap_or(0)
}

/// The session cookie's value, if any.
pub fn session_cookie(req: &HttpRequest, state: &WebState) -> Option<String> {
    req.cookie(state.auth.cookie_name())
        .map(|c| c.value().to_string())
}

pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && cross_site(&req) {
        tracing::warn!(path = %req.path(), "cross-site request refused");
        let resp = HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("This request came from another site and was refused.");
        return Ok(req.into_response(resp).map_into_right_body());
    }
    let cacheable = req.path().starts_with("/pkg/") || req.path().starts_with("/assets/");
    let state = req.app_data::<web::Data<WebState>>().cloned();
    if let Some(state) = state {
        let http = req.request().clone();
        let client = http.peer_addr().map(|peer| {
            let header = |name: &str| http.headers().get(name).and_then(|v| v.to_str().ok());
            ClientIp(super::client_ip::client_address(
                peer.ip(),
                header("forwarded"),
                header("x-forwarded-for"),
                &state.trusted_proxies,
            ))
        });
        let session = match session_cookie(&http, &state) {
            Some(c) => state.auth.session(&c).await,
            None => None,
        };
        let user = session.map(|Authed { user, csrf }| SessionUser { user: user.0, csrf });
        let admin = match http.cookie(state.auth.admin_cookie_name()) {
            Some(c) => state.auth.admin_session(c.value()).await,
            None => None,
        }
        .map(|Authed { user, csrf }| AdminSession {
            admin: user.0,
            csrf,
        });
        // computed before borrowing the extensions: reading cookies borrows them too
        let lang = choose_lang(&http);
        let tz = app::i18n::TzOffset(tz_offset(&http));
        let mut ext = req.extensions_mut();
        if let Some(client) = client {
            ext.insert(client);
        }
        ext.insert(user);
        ext.insert(admin);
        ext.insert(lang);
        ext.insert(tz);
    }
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // same-origin: our own requests carry their Origin (checked above);
    // nothing leaks to other sites.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    if !cacheable && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res.map_into_left_body())
}
