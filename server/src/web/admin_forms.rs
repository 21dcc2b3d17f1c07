//! The Control Panel's changes, as plain form posts (they work with
//! JavaScript off): activate / deactivate the Continuity Service (each with
//! a confirmation step), the scope (switching to all users while users are
//! selected asks for **Confirmer** first), adding and removing selected
//! users (the primary and the domain's state: [`super::monitoring_forms`]).
//! Every handler checks the administrator session, that the
//! administrator may manage the domain (else 404, like a domain that does
//! not exist), and the CSRF token; the store writes the audit row.

#![allow(clippy::result_large_err)]

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use app::backend::{AdminSession, BackendError};
use serde::Deserialize;

use super::backend::admin_domain;
use super::forms::{enc, forbidden_form, not_found, see_other};
use super::WebState;
use crate::auth::token;
use crate::store::control::ScopeError;
use crate::store::{DomainId, UserId};

/// The domain's Continuity page, where each form returns.
pub(crate) fn page(domain: &str) -> String {
    format!("/admin/d/{}/continuity", enc(domain))
}

/// The administrator, the domain they may manage, and the actor name for
/// the audit trail; or the response to give.
pub(crate) async fn guard(
    req: &HttpRequest,
    state: &WebState,
    domain: &str,
    csrf: &str,
) -> Result<(DomainId, String), HttpResponse> {
    let session = req
        .extensions()
        .get::<Option<AdminSession>>()
        .cloned()
        .flatten()
        .ok_or_else(|| see_other("/login?expired=1&next=/admin"))?;
    if !token::csrf_matches(&session.csrf, csrf) {
        return Err(forbidden_form(req));
    }
    match admin_domain(&state.store, &session, domain).await {
        Ok((admin, id)) => Ok((id, admin.address)),
        Err(BackendError::NotFound) => Err(not_found()),
        Err(BackendError::Unauthorized) => Err(see_other("/login?expired=1&next=/admin")),
        Err(_) => Err(HttpResponse::ServiceUnavailable().finish()),
    }
}

/// Is the request's administrator an operator (who may set what a domain
/// admin may not: files on the server, private networks)?
pub(crate) async fn is_operator(req: &HttpRequest, state: &WebState) -> bool {
    let session = req
        .extensions()
        .get::<Option<AdminSession>>()
        .cloned()
        .flatten();
    match session {
        Some(session) => state
            .store
            .admin(session.admin)
            .await
            .ok()
            .flatten()
            .is_some_and(|a| a.is_operator()),
        None => false,
    }
}

#[derive(Deserialize)]
pub struct EnabledForm {
    csrf: String,
    enabled: String,
    confirm: Option<String>,
}

/// POST /admin/d/{domain}/continuity/enabled
pub async fn set_enabled(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<EnabledForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let enable = form.enabled == "1";
    if form.confirm.as_deref() != Some("1") {
        let what = if enable { "activate" } else { "deactivate" };
        return see_other(&format!("{}?confirm={what}", page(&domain)));
    }
    match state.store.set_continuity_enabled(id, enable, &actor).await {
        Ok(_) => see_other(&format!(
            "{}?done={}",
            page(&domain),
            if enable { "activated" } else { "deactivated" }
        )),
        Err(e) => {
            tracing::error!(error = %e, "continuity on/off failed");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

#[derive(Deserialize)]
pub struct ScopeForm {
    csrf: String,
    scope: String,
    confirm: Option<String>,
}

/// POST /admin/d/{domain}/continuity/scope
pub async fn set_scope(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<ScopeForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let confirmed = form.confirm.as_deref() == Some("1");
    match state
        .store
        .set_continuity_scope(id, &form.scope, confirmed, &actor)
        .await
    {
        Ok(_) => see_other(&format!("{}?done=scope", page(&domain))),
        Err(ScopeError::NeedsConfirmation(_)) => {
            see_other(&format!("{}?confirm=all", page(&domain)))
        }
        Err(ScopeError::Store(crate::store::StoreError::Invalid(_))) => {
            HttpResponse::BadRequest().body("unknown scope")
        }
        Err(e) => {
            tracing::error!(error = %e, "scope change failed");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

#[derive(Deserialize)]
pub struct AddForm {
    csrf: String,
    address: String,
}

/// POST /admin/d/{domain}/continuity/users/add
pub async fn add_user(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<AddForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let typed: String = form.address.trim().chars().take(254).collect();
    let back = |code: &str| {
        see_other(&format!(
            "{}?add=1&e={code}&q={}",
            page(&domain),
            enc(&typed)
        ))
    };
    if typed.chars().count() < 3 {
        return back("short");
    }
    match state.store.add_continuity_user(id, &typed, &actor).await {
        Ok(address) => see_other(&format!("{}?added={}", page(&domain), enc(&address))),
        Err(ScopeError::NotAnAddress(_)) => back("address"),
        Err(ScopeError::Unknown(_)) => back("unknown"),
        Err(ScopeError::OtherDomain(_)) => back("other"),
        Err(ScopeError::Duplicate(_)) => back("duplicate"),
        Err(ScopeError::Deactivated) => back("deactivated"),
        Err(ScopeError::ScopeIsAll) => back("scope"),
        Err(e) => {
            tracing::error!(error = %e, "adding a continuity user failed");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// POST /admin/d/{domain}/continuity/users/{user}/remove
pub async fn remove_user(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<(String, i64)>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let (domain, user) = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    match state
        .store
        .remove_continuity_user(id, UserId(user), &actor)
        .await
    {
        Ok(true) => see_other(&format!("{}?done=removed", page(&domain))),
        Ok(false) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "removing a continuity user failed");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

/// POST /admin/logout
pub async fn logout(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let session = req
        .extensions()
        .get::<Option<AdminSession>>()
        .cloned()
        .flatten();
    let Some(session) = session else {
        return see_other("/login");
    };
    if !token::csrf_matches(&session.csrf, &form.csrf) {
        return forbidden_form(&req);
    }
    if let Some(c) = req.cookie(state.auth.admin_cookie_name()) {
        state.auth.admin_logout(c.value()).await;
    }
    let mut gone =
        super::forms::named_cookie(&state, state.auth.admin_cookie_name(), String::new());
    gone.make_removal();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login?bye=1"))
        .cookie(gone)
        .finish()
}

/// Mail a set-password link to one user (through the normal path to their
/// primary) and audit it.
async fn invite(state: &WebState, domain: DomainId, user: UserId, actor: &str) -> bool {
    let Ok(Some(account)) = state.store.account(user).await else {
        return false;
    };
    if account.domain != domain || account.disabled {
        return false;
    }
    let link = match state.auth.issue_link(user).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot issue a password link");
            return false;
        }
    };
    let days = state.auth.link_ttl.as_secs().div_ceil(86_400);
    match crate::auth::invite::send(&state.store, &account, &link, &state.hostname, days).await {
        Ok(_) => {
            let _ = state
                .store
                .audit_invitation(domain, &account.address, actor)
                .await;
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot queue an invitation");
            false
        }
    }
}

#[derive(Deserialize)]
pub struct EmergencyForm {
    csrf: String,
    enabled: String,
}

/// POST /admin/d/{domain}/continuity/emergency: activating it invites every
/// covered directory user who has no emergency password and no open link.
pub async fn set_emergency(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<EmergencyForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let enable = form.enabled == "1";
    if let Err(e) = state.store.set_emergency_enabled(id, enable, &actor).await {
        tracing::error!(error = %e, "emergency password switch failed");
        return HttpResponse::ServiceUnavailable().finish();
    }
    if !enable {
        return see_other(&format!("{}?done=emergency-off", page(&domain)));
    }
    let users = match state.store.emergency_status(id).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "cannot list users");
            return HttpResponse::ServiceUnavailable().finish();
        }
    };
    let mut sent = 0;
    for u in users
        .iter()
        .filter(|u| u.source == "ldap" && u.status == "none")
    {
        if invite(&state, id, u.user, &actor).await {
            sent += 1;
        }
    }
    see_other(&format!("{}?done=emergency-on&sent={sent}", page(&domain)))
}

/// POST /admin/d/{domain}/continuity/emergency/{user}/{resend|reset}
pub async fn emergency_user(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<(String, i64, String)>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let (domain, user, action) = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let user = UserId(user);
    match action.as_str() {
        "resend" => {}
        "reset" => match state.store.reset_password(id, user, &actor).await {
            Ok(true) => {}
            Ok(false) => return not_found(),
            Err(e) => {
                tracing::error!(error = %e, "reset failed");
                return HttpResponse::ServiceUnavailable().finish();
            }
        },
        _ => return not_found(),
    }
    if invite(&state, id, user, &actor).await {
        see_other(&format!("{}?done={action}", page(&domain)))
    } else {
        not_found()
    }
}
