//! The second factor on the web: each account's security forms (the
//! login's second step is in [`super::second_step`]) — the webmail user's under
//! `/settings/security/…` (shown on `/settings`), the administrator's
//! under `/admin/security/…` (shown on `/admin`): turn TOTP on (QR code,
//! then a first code), off (with the password), new recovery codes, and
//! a user's app passwords. Secrets made here (recovery codes, an app
//! password) are shown once, through the reveals (see `auth::reveal`).

#![allow(clippy::result_large_err)]

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use app::backend::{
    AdminSession, AppPasswordView, BackendError, NewAppPassword, PasskeyView, SecurityOf,
    SecurityView, SessionUser, TotpSetupView,
};
use serde::Deserialize;

use super::forms::{client_ip, enc, forbidden_form, see_other};
use super::WebState;
use crate::auth::second_factor::{CodeError, Owner};
use crate::auth::{token, Auth, PasswordError};
use crate::store::{Store, UserId};

/// Whose security forms: a webmail user's or an administrator's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    User,
    Admin,
}

impl Side {
    /// The page the forms return to.
    pub fn page(self) -> &'static str {
        match self {
            Side::User => "/settings",
            Side::Admin => "/admin",
        }
    }
}

/// What a reveal of this section is filed under: new recovery codes
/// (`codes`) or a new app password (`app`).
pub(super) fn reveal_key(owner: Owner, what: &str) -> String {
    format!("security:{what}:{owner:?}")
}

/// The request's owner of `side` with the session's CSRF token, or the
/// response to give (to the login page, or refused).
pub(super) fn owner(
    req: &HttpRequest,
    side: Side,
    csrf: Option<&str>,
) -> Result<(Owner, String), HttpResponse> {
    let ext = req.extensions();
    let found = match side {
        Side::User => ext
            .get::<Option<SessionUser>>()
            .cloned()
            .flatten()
            .map(|s| (Owner::User(UserId(s.user)), s.csrf)),
        Side::Admin => ext
            .get::<Option<AdminSession>>()
            .cloned()
            .flatten()
            .map(|s| (Owner::Admin(s.admin), s.csrf)),
    };
    drop(ext);
    let (owner, session_csrf) =
        found.ok_or_else(|| see_other(&format!("/login?expired=1&next={}", enc(side.page()))))?;
    if let Some(given) = csrf {
        if !token::csrf_matches(&session_csrf, given) {
            return Err(forbidden_form(req));
        }
    }
    Ok((owner, session_csrf))
}

#[derive(Deserialize)]
pub struct RequireForm {
    csrf: String,
    required: Option<String>,
}

/// POST /admin/d/{domain}/continuity/second-factor: whether the domain's
/// users must log in with a second factor (audited).
pub async fn require_for_users(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<RequireForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match super::admin_forms::guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let on = form.required.is_some();
    let saved = async {
        let before = state.store.users_second_factor(id).await?;
        state.store.set_users_second_factor(id, on).await?;
        state
            .store
            .audit_change(
                id,
                &actor,
                "users_second_factor",
                Some(if before { "required" } else { "optional" }),
                Some(if on { "required" } else { "optional" }),
            )
            .await
    };
    match saved.await {
        Ok(()) => see_other(&format!(
            "{}?done=second-factor#users-second-factor",
            super::admin_forms::page(&domain)
        )),
        Err(e) => {
            tracing::error!(error = %e, "second factor requirement not saved");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

#[derive(Deserialize)]
pub struct SecurityForm {
    csrf: String,
    code: Option<String>,
    password: Option<String>,
    name: Option<String>,
}

/// The section with `query` (`done=…`, `e=…`, `reveal=…`).
pub(super) fn back_to(side: Side, query: &str) -> String {
    format!("{}?{query}#security", side.page())
}

/// Back to the section with `query`.
fn back(side: Side, query: &str) -> HttpResponse {
    see_other(&back_to(side, query))
}

/// POST /settings/security/{action} and /admin/security/{action}.
pub async fn action(
    req: HttpRequest,
    state: web::Data<WebState>,
    side: Side,
    action: &str,
    form: SecurityForm,
) -> HttpResponse {
    let (owner, csrf) = match owner(&req, side, Some(&form.csrf)) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let auth = &state.auth;
    let failed = |e: crate::store::StoreError| {
        tracing::error!(error = %e, "second factor change failed");
        back(side, "e=unavailable")
    };
    let reveal = |what: &str, secret: String| {
        let id = auth.reveals.stash(&csrf, &reveal_key(owner, what), secret);
        enc(&id)
    };
    match action {
        "totp/begin" => match auth.begin_totp(owner).await {
            Ok(true) => back(side, "setup=1"),
            Ok(false) => back(side, "e=already"),
            Err(e) => failed(e),
        },
        "totp/confirm" => {
            let code = form.code.as_deref().unwrap_or_default();
            match auth.confirm_totp(owner, code).await {
                Ok(codes) => back(
                    side,
                    &format!("done=on&reveal={}", reveal("codes", codes.join("\n"))),
                ),
                Err(CodeError::Wrong) => back(side, "setup=1&e=wrong"),
                Err(CodeError::Expired) => back(side, "e=expired"),
                Err(_) => back(side, "e=unavailable"),
            }
        }
        "totp/cancel" => match state.store.totp(owner).await {
            Ok(Some(t)) if !t.confirmed => match state.store.cancel_totp(owner).await {
                Ok(_) => back(side, "done=cancelled"),
                Err(e) => failed(e),
            },
            Ok(_) => back(side, ""),
            Err(e) => failed(e),
        },
        // the app alone, while a passkey remains
        "totp/remove" => match state.store.remove_totp_keeping_passkeys(owner).await {
            Ok(Some(true)) => {
                tracing::info!(owner = ?owner, "authenticator app removed; passkeys kept");
                back(side, "done=totp-removed")
            }
            Ok(Some(false)) => back(side, "e=passkey-last"),
            Ok(None) => back(side, "e=gone"),
            Err(e) => failed(e),
        },
        "totp/off" => {
            match auth.second_factor_required(owner).await {
                Ok(true) => return back(side, "e=required"),
                Ok(false) => {}
                Err(e) => return failed(e),
            }
            let password = form.password.as_deref().unwrap_or_default();
            match auth
                .turn_off_second_factor(owner, password, &client_ip(&req))
                .await
            {
                Ok(()) => back(side, "done=off"),
                Err(PasswordError::Throttled) => back(side, "e=throttled"),
                Err(PasswordError::Policy(_)) => back(side, "e=password"),
                Err(_) => back(side, "e=unavailable"),
            }
        }
        "recovery" => match state.store.second_factor_on(owner).await {
            Ok(true) => match auth.new_recovery_codes(owner).await {
                Ok(codes) => back(
                    side,
                    &format!("done=codes&reveal={}", reveal("codes", codes.join("\n"))),
                ),
                Err(e) => failed(e),
            },
            Ok(false) => back(side, "e=expired"),
            Err(e) => failed(e),
        },
        "app-passwords/new" => {
            let Owner::User(user) = owner else {
                return super::forms::not_found();
            };
            let name = form.name.as_deref().unwrap_or_default().trim().to_string();
            if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
                return back(side, "e=name");
            }
            match auth.new_app_password(user, &name).await {
                Ok(secret) => back(
                    side,
                    &format!(
                        "done=app&reveal={}",
                        reveal("app", format!("{name}\n{secret}"))
                    ),
                ),
                Err(e) => failed(e),
            }
        }
        _ => super::forms::not_found(),
    }
}

/// POST /settings/security/{action…}
pub async fn user_action(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<SecurityForm>,
) -> HttpResponse {
    action(
        req,
        state,
        Side::User,
        &path.into_inner(),
        form.into_inner(),
    )
    .await
}

/// POST /admin/security/{action…}
pub async fn admin_action(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<SecurityForm>,
) -> HttpResponse {
    action(
        req,
        state,
        Side::Admin,
        &path.into_inner(),
        form.into_inner(),
    )
    .await
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: String,
}

/// POST /settings/security/app-passwords/{id}/revoke
pub async fn revoke_app_password(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    form: web::Form<RevokeForm>,
) -> HttpResponse {
    let (owner, _) = match owner(&req, Side::User, Some(&form.csrf)) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Owner::User(user) = owner else {
        return super::forms::not_found();
    };
    match state
        .store
        .delete_app_password(user, path.into_inner())
        .await
    {
        Ok(true) => {
            tracing::info!(%user, "app password revoked");
            back(Side::User, "done=revoked")
        }
        // not theirs, or gone already: nothing to tell apart
        Ok(false) => back(Side::User, "e=gone"),
        Err(e) => {
            tracing::error!(error = %e, "app password revoke failed");
            back(Side::User, "e=unavailable")
        }
    }
}

/// The address of the account `owner` (what authenticators show).
pub(super) async fn account_of(state: &WebState, owner: Owner) -> Option<String> {
    match owner {
        Owner::User(u) => state
            .store
            .account(u)
            .await
            .ok()
            .flatten()
            .map(|a| a.address),
        Owner::Admin(a) => state.store.admin(a).await.ok().flatten().map(|a| a.address),
    }
}

async fn qr(req: HttpRequest, state: web::Data<WebState>, side: Side) -> HttpResponse {
    let (owner, _) = match owner(&req, side, None) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(account) = account_of(&state, owner).await else {
        return super::forms::not_found();
    };
    match state.auth.totp_setup(owner, &account).await {
        Ok(Some(setup)) => HttpResponse::Ok()
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

/// GET /settings/security/qr.svg: the enrolment's QR code (no-store).
pub async fn user_qr(req: HttpRequest, state: web::Data<WebState>) -> HttpResponse {
    qr(req, state, Side::User).await
}

/// GET /admin/security/qr.svg
pub async fn admin_qr(req: HttpRequest, state: web::Data<WebState>) -> HttpResponse {
    qr(req, state, Side::Admin).await
}

/// A base32 key in groups of four, as apps show and people type it.
pub fn grouped_key(key: &str) -> String {
    key.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The section as its page shows it (the backend port's `security`).
pub async fn view(
    store: &Store,
    auth: &Auth,
    of: &SecurityOf,
    reveal: &str,
) -> Result<SecurityView, BackendError> {
    let unavailable = super::backend::unavailable;
    let (owner, csrf, account) = match of {
        SecurityOf::User(s) => {
            let a = store
                .account(UserId(s.user))
                .await
                .map_err(unavailable)?
                .ok_or(BackendError::Unauthorized)?;
            (Owner::User(a.user), &s.csrf, a.address)
        }
        SecurityOf::Admin(s) => {
            let a = store
                .admin(s.admin)
                .await
                .map_err(unavailable)?
                .ok_or(BackendError::Unauthorized)?;
            (Owner::Admin(a.id), &s.csrf, a.address)
        }
    };
    let totp = store.totp(owner).await.map_err(unavailable)?;
    let totp_on = totp.as_ref().is_some_and(|t| t.confirmed);
    let passkeys: Vec<PasskeyView> = store
        .passkeys(owner)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|p| PasskeyView {
            id: p.id,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        })
        .collect();
    let on = totp_on || !passkeys.is_empty();
    let setup = match totp {
        Some(t) if !t.confirmed => auth
            .totp_setup(owner, &account)
            .await
            .map_err(unavailable)?
            .map(|s| TotpSetupView {
                secret: grouped_key(&s.secret),
                uri: s.uri,
            }),
        _ => None,
    };
    let new_codes = auth
        .reveals
        .take(csrf, reveal, &reveal_key(owner, "codes"))
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default();
    let new_app_password = auth
        .reveals
        .take(csrf, reveal, &reveal_key(owner, "app"))
        .and_then(|s| {
            let (name, secret) = s.split_once('\n')?;
            Some(NewAppPassword {
                name: name.to_string(),
                secret: secret.to_string(),
            })
        });
    let app_passwords = match owner {
        Owner::User(u) => Some(
            store
                .app_passwords(u)
                .await
                .map_err(unavailable)?
                .into_iter()
                .map(|r| AppPasswordView {
                    id: r.id,
                    name: r.name,
                    created_at: r.created_at,
                    last_used_at: r.last_used_at,
                    last_used_ip: r.last_used_ip,
                    last_used_with: r.last_used_with,
                })
                .collect(),
        ),
        Owner::Admin(_) => None,
    };
    Ok(SecurityView {
        csrf: token::mask_csrf(csrf),
        on,
        totp_on,
        passkeys,
        passkeys_here: auth.passkeys_here(),
        setup,
        codes_left: if on {
            store
                .recovery_codes_left(owner)
                .await
                .map_err(unavailable)?
        } else {
            0
        },
        new_codes,
        app_passwords,
        new_app_password,
    })
}
