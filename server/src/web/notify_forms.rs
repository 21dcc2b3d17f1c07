//! Users told of starts and ends, on the web: a user's contact points in
//! Settings (`/settings/contacts/…`: a backup address proved by the link
//! mailed to it, `GET /contacts/verify`; a mobile proved by a texted code),
//! and the Control Panel's switches and resend
//! (`/admin/d/{domain}/continuity/notify…`), with the views they show.

#![allow(clippy::result_large_err)]

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use app::backend::{
    BackendError, ContactPointView, ContactsView, NoticeLine, NoticesView, SessionUser,
};
use app::i18n::Lang;
use serde::Deserialize;

use super::admin_forms::{guard, page};
use super::backend::unavailable;
use super::forms::{form_user, see_other};
use super::WebState;
use crate::auth::token;
use crate::notify::contacts::{self, ContactError};
use crate::store::contacts::{Channel, ContactPoint};
use crate::store::{DomainId, Store, UserId};

fn back(query: &str) -> HttpResponse {
    see_other(&format!("/settings?{query}#contacts"))
}

fn refused(e: ContactError) -> HttpResponse {
    let code = match e {
        ContactError::BadAddress => "address",
        ContactError::OwnAddress => "own",
        ContactError::BadMobile(_) => "mobile",
        ContactError::NoGateway => "no-gateway",
        ContactError::NotSent(_) => "not-sent",
        ContactError::WrongCode => "code",
        ContactError::BadLink => "link",
        ContactError::Unavailable => "unavailable",
    };
    back(&format!("ce={code}"))
}

fn lang_of(req: &HttpRequest) -> Lang {
    req.extensions().get::<Lang>().copied().unwrap_or_default()
}

#[derive(Deserialize)]
pub struct ContactForm {
    csrf: String,
    #[serde(default)]
    value: String,
    /// "save" or "remove".
    #[serde(default)]
    action: String,
}

impl ContactForm {
    /// The value to set; `None` removes the point.
    fn value(&self) -> Option<&str> {
        Some(self.value.as_str()).filter(|v| self.action != "remove" && !v.trim().is_empty())
    }
}

/// Back to the card: `done` when set, "removed" when removed, or why not.
fn answer(r: Result<(), ContactError>, set: bool, done: &str) -> HttpResponse {
    match r {
        Ok(()) if set => back(&format!("contact={done}")),
        Ok(()) => back("contact=removed"),
        Err(e) => refused(e),
    }
}

/// POST /settings/contacts/email
pub async fn set_email(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<ContactForm>,
) -> HttpResponse {
    let user = match form_user(&req, &form.csrf) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let value = form.value();
    let r = contacts::set_alt_email(
        &state.store,
        &state.hostname,
        &state.auth.public_url,
        user,
        value,
        lang_of(&req),
    )
    .await;
    answer(r, value.is_some(), "email")
}

/// POST /settings/contacts/mobile
pub async fn set_mobile(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<ContactForm>,
) -> HttpResponse {
    let user = match form_user(&req, &form.csrf) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let value = form.value();
    let r = contacts::set_mobile(
        &state.store,
        state.notifier.gateway(),
        user,
        value,
        lang_of(&req),
    )
    .await;
    answer(r, value.is_some(), "mobile")
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    #[serde(default)]
    code: String,
}

/// POST /settings/contacts/mobile/confirm
pub async fn confirm_mobile(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    let user = match form_user(&req, &form.csrf) {
        Ok(u) => u,
        Err(r) => return r,
    };
    match contacts::confirm_mobile(&state.store, user, &form.code).await {
        Ok(()) => back("contact=mobile-verified"),
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
pub struct VerifyQuery {
    u: i64,
    t: String,
}

/// GET /contacts/verify?u=…&t=… (the link mailed to a backup address; no
/// session needed: it is opened where that mail is read).
pub async fn verify(state: web::Data<WebState>, q: web::Query<VerifyQuery>) -> HttpResponse {
    match contacts::verify_email(&state.store, q.u, &q.t).await {
        Ok(_) => back("contact=email-verified"),
        Err(e) => refused(e),
    }
}

fn point(p: Option<&ContactPoint>) -> Option<ContactPointView> {
    p.map(|p| ContactPointView {
        value: p.value.clone(),
        verified: p.verified,
        source: p.source.clone(),
    })
}

/// The Settings card's view.
pub async fn contacts_view(
    store: &Store,
    sms: bool,
    session: &SessionUser,
) -> Result<ContactsView, BackendError> {
    let user = UserId(session.user);
    let c = store.contact_points(user).await.map_err(unavailable)?;
    Ok(ContactsView {
        csrf: token::mask_csrf(&session.csrf),
        alt_email: point(c.alt_email.as_ref()),
        mobile: point(c.mobile.as_ref()),
        mobile_waiting: store
            .contact_check_waiting(user, Channel::Sms)
            .await
            .map_err(unavailable)?,
        sms,
    })
}

/// The Control Panel's panel.
pub async fn notices_view(
    store: &Store,
    sms: bool,
    domain: DomainId,
) -> Result<NoticesView, BackendError> {
    let (users_on, drills_on) = store.notify_settings(domain).await.map_err(unavailable)?;
    let lines = store
        .last_event_notices(domain)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|n| NoticeLine {
            id: n.id,
            user: n.user_address,
            kind: n.kind.as_str().to_string(),
            channel: n.channel.as_str().to_string(),
            address: n.address,
            status: n.status.as_str().to_string(),
            detail: n.detail,
            delivery: n.delivery,
            at: n.event_at,
        })
        .collect();
    Ok(NoticesView {
        users_on,
        drills_on,
        sms,
        lines,
    })
}

#[derive(Deserialize)]
pub struct NotifyForm {
    csrf: String,
    users: Option<String>,
    drills: Option<String>,
}

/// POST /admin/d/{domain}/continuity/notify
pub async fn settings(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<NotifyForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let users = form.users.is_some();
    let drills = form.drills.is_some();
    let saved = async {
        let before = state.store.notify_settings(id).await?;
        state.store.set_notify_settings(id, users, drills).await?;
        state
            .store
            .audit_change(
                id,
                &actor,
                "notify_users",
                Some(&format!("users={}, drills={}", before.0, before.1)),
                Some(&format!("users={users}, drills={drills}")),
            )
            .await?;
        Ok::<(), crate::store::StoreError>(())
    };
    match saved.await {
        Ok(()) => see_other(&format!("{}?done=notify#notices-section", page(&domain))),
        Err(e) => {
            tracing::error!(error = %e, "notification settings not saved");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

#[derive(Deserialize)]
pub struct ResendForm {
    csrf: String,
}

/// POST /admin/d/{domain}/continuity/notify/resend
pub async fn resend(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<ResendForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    match state.notifier.resend(id).await {
        Ok(n) => {
            tracing::info!(%actor, domain = %domain, resent = n, "user notices sent again");
            see_other(&format!("{}?resent={n}#notices-section", page(&domain)))
        }
        Err(e) => {
            tracing::error!(error = %e, "user notices not sent again");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
