//! Email Live Tracking for the web: turning the URL's filters into a store
//! query within what the viewer may see (an operator everything, a domain
//! admin their domains, a user their own mail), a message's story, and the
//! routes that are not pages: the CSV export (streamed, a page of rows at a
//! time), the .eml download and redelivery.

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use app::backend::{
    AdminSession, BackendError, MessageTrack, TrackEvent, TrackingLine, TrackingPage, TrackingQuery,
};

use super::backend::unavailable;
use super::mail_views::parse_day;
use super::WebState;
use crate::store::tracking::{Cursor, Direction, Filter, Scope, Status, TrackRow};
use crate::store::{DeliveryId, MessageId, Store};

/// Rows per page in the Control Panel and the webmail.
pub const PAGE: u32 = 50;

/// The filters of a URL, checked.
pub fn filter_of(
    q: &TrackingQuery,
    domains: &[(crate::store::DomainId, String)],
) -> Result<(Filter, Option<Cursor>), BackendError> {
    let bad = |what: &str| BackendError::Invalid(format!("this {what} is not valid"));
    let clip = |s: &str| s.trim().chars().take(300).collect::<String>();
    let f = Filter {
        since: parse_day(&q.since)?,
        until: parse_day(&q.until)?.map(|t| t + 86_400_000),
        direction: match q.direction.as_str() {
            "" => None,
            "in" => Some(Direction::Inbound),
            "out" => Some(Direction::Outbound),
            _ => return Err(bad("direction")),
        },
        sender: clip(&q.sender),
        recipient: clip(&q.recipient),
        subject: clip(&q.subject),
        status: match q.status.as_str() {
            "" => None,
            s => Some(Status::parse(s).ok_or_else(|| bad("status"))?),
        },
        via_continuity: match q.via.as_str() {
            "" => None,
            "yes" => Some(true),
            "no" => Some(false),
            _ => return Err(bad("via Continuity choice")),
        },
        domain: match q.domain.trim() {
            "" => None,
            name => Some(
                domains
                    .iter()
                    .find(|(_, n)| n.eq_ignore_ascii_case(name))
                    .map(|(id, _)| *id)
                    .ok_or(BackendError::NotFound)?,
            ),
        },
        oldest_first: match q.order.as_str() {
            "" | "newest" => false,
            "oldest" => true,
            _ => return Err(bad("order")),
        },
    };
    let after = match q.after.trim() {
        "" => None,
        c => Some(Cursor::parse(c).ok_or_else(|| bad("page link"))?),
    };
    Ok((f, after))
}

pub fn line(r: TrackRow) -> TrackingLine {
    TrackingLine {
        id: r.id,
        refused: r.refused,
        message: r.message.map(|m| m.0),
        at: r.at,
        inbound: r.inbound,
        mail_from: r.mail_from,
        rcpt: r.rcpt,
        subject: r.subject,
        status: r.status,
        via_continuity: r.via_continuity,
        attempts: r.attempts,
        last_reply: r.last_reply,
        client_ip: r.client_ip,
    }
}

/// An administrator's scope and the domains they may filter on.
pub async fn admin_scope(
    store: &Store,
    session: &AdminSession,
) -> Result<(Scope, Vec<(crate::store::DomainId, String)>), BackendError> {
    let admin = store
        .admin(session.admin)
        .await
        .map_err(unavailable)?
        .filter(|a| !a.disabled)
        .ok_or(BackendError::Unauthorized)?;
    let domains = store.admin_domains(&admin).await.map_err(unavailable)?;
    let scope = if admin.is_operator() {
        Scope::All
    } else {
        Scope::Domains(domains.clone())
    };
    Ok((scope, domains))
}

/// A page of tracking for a scope.
pub async fn page(
    store: &Store,
    scope: &Scope,
    domains: &[(crate::store::DomainId, String)],
    q: &TrackingQuery,
) -> Result<TrackingPage, BackendError> {
    let (f, after) = filter_of(q, domains)?;
    let rows = store
        .tracking(scope, &f, after, PAGE)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound(_) => BackendError::NotFound,
            e => unavailable(e),
        })?;
    let next = (rows.len() == PAGE as usize)
        .then(|| rows.last().map(|r| r.cursor().encode()))
        .flatten();
    Ok(TrackingPage {
        rows: rows.into_iter().map(line).collect(),
        next,
        domains: domains.iter().map(|(_, n)| n.clone()).collect(),
    })
}

/// What an event says, for people.
fn describe(kind: &str, detail: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(detail).unwrap_or_default();
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let mut parts = Vec::new();
    match kind {
        "received" => {
            for (k, label) in [("client_ip", "from"), ("helo", "HELO")] {
                let x = s(k);
                if !x.is_empty() {
                    parts.push(format!("{label} {x}"));
                }
            }
            if v["tls"].as_bool() == Some(true) {
                parts.push("TLS".into());
            }
        }
        "attempt" => {
            if let Some(n) = v["attempt"].as_i64() {
                parts.push(format!("attempt {n}"));
            }
        }
        "requeued" => {
            let by = s("by");
            if !by.is_empty() {
                parts.push(format!("redelivery asked by {by}"));
            }
        }
        _ => {}
    }
    for k in ["remote", "reply", "reason"] {
        let x = s(k);
        if !x.is_empty() {
            parts.push(x);
        }
    }
    parts.join(" · ")
}

/// A message's story as the scope may see it (`NotFound` otherwise).
pub async fn message_track(
    store: &Store,
    scope: &Scope,
    id: i64,
) -> Result<MessageTrack, BackendError> {
    let m = MessageId(id);
    if !store.may_see_message(scope, m).await.map_err(unavailable)? {
        return Err(BackendError::NotFound);
    }
    let info = store
        .message_info(m)
        .await
        .map_err(unavailable)?
        .ok_or(BackendError::NotFound)?;
    let deliveries = store
        .message_deliveries(scope, m)
        .await
        .map_err(unavailable)?;
    let visible: std::collections::HashMap<i64, String> =
        deliveries.iter().map(|d| (d.id, d.rcpt.clone())).collect();
    let events = store
        .events_of(m)
        .await
        .map_err(unavailable)?
        .into_iter()
        .filter(|e| e.delivery.is_none_or(|d| visible.contains_key(&d.0)))
        .map(|e| TrackEvent {
            at: e.at,
            rcpt: e
                .delivery
                .and_then(|d| visible.get(&d.0).cloned())
                .unwrap_or_default(),
            detail: describe(&e.kind, &e.detail),
            kind: e.kind,
        })
        .collect();
    Ok(MessageTrack {
        id,
        subject: info.subject,
        from: info.header_from,
        mail_from: info.mail_from,
        received_at: info.received_at,
        client_ip: info.client_ip,
        helo: info.helo,
        tls: info.tls,
        size: info.size,
        archived: info.archived,
        deliveries: deliveries.into_iter().map(line).collect(),
        events,
    })
}

/// A CSV cell: quoted when needed, and never read as a formula by a
/// spreadsheet (`=`, `+`, `-`, `@`, tab, CR at the start get a `'`).
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_line(r: &TrackRow) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(r.at / 1000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let status = if r.status == "delivering" {
        "queued"
    } else {
        r.status.as_str()
    };
    let fields = [
        at,
        (if r.inbound { "inbound" } else { "outbound" }).to_string(),
        r.mail_from.clone(),
        r.rcpt.clone(),
        r.subject.clone(),
        status.to_string(),
        (if r.via_continuity { "yes" } else { "no" }).to_string(),
        r.attempts.to_string(),
        r.last_reply.clone(),
        r.client_ip.clone(),
    ];
    let mut out = fields.iter().map(|f| cell(f)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    out
}

const CSV_HEADER: &str =
    "time,direction,sender,recipient,subject,status,via_continuity,attempts,last_reply,client_ip\r\n";

/// `GET /admin/tracking.csv?…`: the current filter as CSV, streamed a page
/// at a time (a large export never sits in memory).
pub async fn export_csv(
    req: HttpRequest,
    state: web::Data<WebState>,
    q: web::Query<TrackingQuery>,
) -> HttpResponse {
    let Some(session) = req
        .extensions()
        .get::<Option<AdminSession>>()
        .cloned()
        .flatten()
    else {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login?expired=1&next=/admin/tracking"))
            .finish();
    };
    let (scope, domains) = match admin_scope(&state.store, &session).await {
        Ok(s) => s,
        Err(BackendError::Unauthorized) => return HttpResponse::Unauthorized().finish(),
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    };
    let (filter, after) = match filter_of(&q, &domains) {
        Ok(f) => f,
        Err(BackendError::NotFound) => return HttpResponse::NotFound().finish(),
        Err(e) => return HttpResponse::BadRequest().body(e.to_string()),
    };
    let store = state.store.clone();
    let stream = futures_util::stream::unfold((Some(after), true), move |(cursor, first)| {
        let store = store.clone();
        let scope = scope.clone();
        let filter = filter.clone();
        async move {
            let after = cursor?;
            let rows = match store.tracking(&scope, &filter, after, 500).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "tracking export stopped");
                    return Some((
                        Err(actix_web::error::ErrorInternalServerError("export stopped")),
                        (None, false),
                    ));
                }
            };
            let mut chunk = if first {
                CSV_HEADER.to_string()
            } else {
                String::new()
            };
            for r in &rows {
                chunk.push_str(&csv_line(r));
            }
            let next = (rows.len() == 500).then(|| rows.last().map(TrackRow::cursor));
            if chunk.is_empty() {
                return None;
            }
            Some((
                Ok::<_, actix_web::Error>(web::Bytes::from(chunk)),
                (next, false),
            ))
        }
    });
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"continuity-tracking.csv\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream)
}

/// `GET /admin/tracking/m/{id}/raw`: the archived message, byte for byte.
pub async fn raw(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
) -> HttpResponse {
    let Some(session) = req
        .extensions()
        .get::<Option<AdminSession>>()
        .cloned()
        .flatten()
    else {
        return HttpResponse::NotFound().finish();
    };
    let Ok((scope, _)) = admin_scope(&state.store, &session).await else {
        return HttpResponse::NotFound().finish();
    };
    let m = MessageId(*path);
    match state.store.may_see_message(&scope, m).await {
        Ok(true) => {}
        Ok(false) => return HttpResponse::NotFound().finish(),
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    }
    // a set-password invitation's link would let its reader set the user's
    // password: its story is shown, never its bytes
    match state.store.is_invitation(m).await {
        Ok(false) => {}
        Ok(true) => {
            return HttpResponse::Forbidden()
                .content_type("text/plain; charset=utf-8")
                .body("A set-password invitation is the user's alone: it cannot be downloaded.")
        }
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    }
    match state.store.raw_message(m).await {
        Ok(Some(bytes)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"message-{}.eml\"", m.0),
            ))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(bytes),
        Ok(None) => HttpResponse::Gone().body("the message is no longer in the archive"),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /admin/tracking/d/{id}/redeliver`: back to the primary from the
/// archive.
pub async fn redeliver(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let Some(session) = req
        .extensions()
        .get::<Option<AdminSession>>()
        .cloned()
        .flatten()
    else {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login?expired=1&next=/admin/tracking"))
            .finish();
    };
    if !crate::auth::token::csrf_matches(&session.csrf, &form.csrf) {
        return HttpResponse::Forbidden().body("the form has expired; reload the page");
    }
    let Ok((scope, _)) = admin_scope(&state.store, &session).await else {
        return HttpResponse::NotFound().finish();
    };
    let id = DeliveryId(*path);
    let row = match state.store.tracked_delivery(&scope, id).await {
        Ok(Some(r)) => r,
        Ok(None) => return HttpResponse::NotFound().finish(),
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    };
    let message = row.message.map(|m| m.0).unwrap_or_default();
    let by = state
        .store
        .admin(session.admin)
        .await
        .ok()
        .flatten()
        .map(|a| a.address)
        .unwrap_or_default();
    let outcome = match state.store.redeliver(id, &by).await {
        Ok(()) => "done=redeliver".to_string(),
        Err(crate::store::StoreError::Invalid(_)) => "e=redeliver".to_string(),
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    };
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/admin/tracking/m/{message}?{outcome}"),
        ))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("=a,b"), "\"'=a,b\"");
    }

    #[test]
    fn filters_are_checked() {
        let d = vec![(crate::store::DomainId(1), "example.test".to_string())];
        let q = |f: fn(&mut TrackingQuery)| {
            let mut q = TrackingQuery::default();
            f(&mut q);
            filter_of(&q, &d)
        };
        assert!(q(|_| {}).is_ok());
        assert!(q(|q| q.status = "lost".into()).is_err());
        assert!(q(|q| q.direction = "sideways".into()).is_err());
        assert!(q(|q| q.since = "2026-02-30".into()).is_err());
        assert!(q(|q| q.after = "1.2".into()).is_err());
        assert_eq!(
            q(|q| q.domain = "other.test".into()).err(),
            Some(BackendError::NotFound)
        );
        let (f, _) = q(|q| q.domain = "EXAMPLE.test".into()).expect("ok");
        assert_eq!(f.domain, Some(crate::store::DomainId(1)));
    }
}
