//! The webmail's downloads: a message's original bytes (.eml), one of its
//! parts (an attachment), an inline image by Content-ID, and the
//! sanitized HTML body for the sandboxed frame. Each streams the stored
//! bytes of the session user's own entry with safe headers.

#![allow(clippy::result_large_err)]

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::forms::{enc, not_found, require_session};
use super::render;
use super::WebState;
use crate::store::UserId;

/// The raw message of one of the session user's entries, or the response.
async fn entry_raw(req: &HttpRequest, state: &WebState, id: i64) -> Result<Vec<u8>, HttpResponse> {
    let session = require_session(req)?;
    match state.store.entry_raw(UserId(session.user), id).await {
        Ok(Some(raw)) => Ok(raw),
        Ok(None) => Err(not_found()),
        Err(e) => {
            tracing::error!(error = %e, "reading a message failed");
            Err(HttpResponse::ServiceUnavailable().finish())
        }
    }
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
pub fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        enc(name)
    )
}

/// GET /mail/m/{id}/raw: the original message.
pub async fn raw(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
) -> HttpResponse {
    let id = path.into_inner();
    match entry_raw(&req, &state, id).await {
        Ok(raw) => HttpResponse::Ok()
            .content_type("message/rfc822")
            .insert_header((
                header::CONTENT_DISPOSITION,
                content_disposition("attachment", &format!("message-{id}.eml")),
            ))
            .body(raw),
        Err(r) => r,
    }
}

/// GET /mail/m/{id}/part/{n}: one attachment, always as a download (never
/// rendered by the browser in our origin).
pub async fn part(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<(i64, u32)>,
) -> HttpResponse {
    let (id, n) = path.into_inner();
    let raw = match entry_raw(&req, &state, id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some((bytes, _ct, name)) = render::part(&raw, n) else {
        return not_found();
    };
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition("attachment", &name),
        ))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .body(bytes)
}

/// GET /mail/m/{id}/cid/{cid}: an inline image referenced by the HTML body.
pub async fn cid(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<(i64, String)>,
) -> HttpResponse {
    let (id, cid) = path.into_inner();
    let raw = match entry_raw(&req, &state, id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    match render::part_by_cid(&raw, &cid) {
        Some((bytes, ct)) => HttpResponse::Ok()
            .content_type(ct)
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox",
            ))
            .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
            .body(bytes),
        None => not_found(),
    }
}

#[derive(Deserialize)]
pub struct BodyQuery {
    remote: Option<String>,
}

/// GET /mail/m/{id}/body: the sanitized HTML body, as its own document for
/// a sandboxed frame. Its CSP forbids every script and, unless the user
/// asked for remote content, every load from elsewhere.
pub async fn body(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    q: web::Query<BodyQuery>,
) -> HttpResponse {
    let id = path.into_inner();
    let raw = match entry_raw(&req, &state, id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let allow_remote = q.remote.as_deref() == Some("1");
    let cid_base = format!("/mail/m/{id}/cid/");
    let html =
        tokio::task::spawn_blocking(move || render::html_body(&raw, &cid_base, allow_remote))
            .await
            .ok()
            .flatten();
    let Some(s) = html else {
        return not_found();
    };
    let remote = if allow_remote { " https: http:" } else { "" };
    let csp = format!(
        "default-src 'none'; img-src 'self' data:{remote}; style-src 'unsafe-inline'{remote}; \
         font-src{}; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; \
         sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox",
        if allow_remote { " https:" } else { " 'none'" }
    );
    let doc = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <style>body{{font-family:system-ui,sans-serif;margin:0;padding:12px;\
         overflow-wrap:anywhere;color:#1b1f24;background:#fff}}img{{max-width:100%;height:auto}}\
         table{{max-width:100%}}</style></head><body>{}</body></html>",
        s.html
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .body(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_is_safe_and_keeps_unicode() {
        assert_eq!(
            content_disposition("attachment", "rapport été \"x\".pdf"),
            "attachment; filename=\"rapport _t_ _x_.pdf\"; filename*=UTF-8''rapport%20%C3%A9t%C3%A9%20%22x%22.pdf"
        );
    }
}
