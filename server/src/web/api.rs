//! The JSON admin API (`/api/admin`), for providers scripting many domains:
//! the Control Panel's Continuity Service operations, authenticated by a
//! bearer token (`continuity admin token create`). A token acts as its
//! administrator: an operator's reaches every domain, a domain admin's only
//! theirs (others are 404). Changes are audited as `api:<token name>`.
//! No cookies are involved, so no CSRF; no CORS headers are sent, so a web
//! page elsewhere cannot call it with a token.
//!
//! ```text
//! GET    /api/admin/domains
//! GET    /api/admin/domains/{domain}/continuity
//! PUT    /api/admin/domains/{domain}/continuity/enabled   {"enabled": true}
//! PUT    /api/admin/domains/{domain}/continuity/scope     {"scope": "all", "confirm": true}
//! POST   /api/admin/domains/{domain}/continuity/users     {"address": "alice@example.com"}
//! DELETE /api/admin/domains/{domain}/continuity/users/{address}
//! POST   /api/admin/domains/{domain}/continuity/state     {"action": "activate"|"end"|"drill", "minutes": 30}
//! ```

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::WebState;
use crate::auth::token;
use crate::store::admins::AdminRow;
use crate::store::control::ScopeError;
use crate::store::DomainId;

fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": code, "message": message }))
}

fn unavailable(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "admin API failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "temporarily unavailable",
    )
}

/// The token's administrator and the actor name for the audit trail.
async fn caller(req: &HttpRequest, state: &WebState) -> Result<(AdminRow, String), HttpResponse> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(t) = header.strip_prefix("Bearer ").map(str::trim) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <token>",
        ));
    };
    if t.is_empty() || t.len() > 200 {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid token",
        ));
    }
    match state
        .store
        .api_token_admin(&token::sha256(t.as_bytes()))
        .await
    {
        Ok(Some((admin, name))) => {
            let actor = format!("api:{name} ({})", admin.address);
            Ok((admin, actor))
        }
        Ok(None) => Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid or revoked token",
        )),
        Err(e) => Err(unavailable(e)),
    }
}

async fn domain_of(
    state: &WebState,
    admin: &AdminRow,
    name: &str,
) -> Result<DomainId, HttpResponse> {
    let domains = state
        .store
        .admin_domains(admin)
        .await
        .map_err(unavailable)?;
    domains
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(id, _)| *id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "not_found", "no such domain"))
}

/// GET /api/admin/domains
pub async fn domains(req: HttpRequest, state: web::Data<WebState>) -> HttpResponse {
    let (admin, _) = match caller(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let domains = match state.store.admin_domains(&admin).await {
        Ok(d) => d,
        Err(e) => return unavailable(e),
    };
    let mut out = Vec::new();
    for (id, name) in domains {
        match state.store.continuity_settings(id).await {
            Ok(Some(s)) => out.push(json!({
                "name": name,
                "continuity_enabled": s.enabled,
                "scope": s.scope,
                "state": s.state,
            })),
            Ok(None) => {}
            Err(e) => return unavailable(e),
        }
    }
    HttpResponse::Ok().json(out)
}

/// GET /api/admin/domains/{domain}/continuity
pub async fn continuity(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
) -> HttpResponse {
    let (admin, _) = match caller(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let id = match domain_of(&state, &admin, &path).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let (settings, emergency) = match (
        state.store.continuity_settings(id).await,
        state.store.emergency_enabled(id).await,
    ) {
        (Ok(Some(s)), Ok(e)) => (s, e),
        (Ok(None), _) => return error(StatusCode::NOT_FOUND, "not_found", "no such domain"),
        (Err(e), _) | (_, Err(e)) => return unavailable(e),
    };
    HttpResponse::Ok().json(json!({
        "domain": settings.name,
        "enabled": settings.enabled,
        "scope": settings.scope,
        "state": settings.state,
        "emergency_password": emergency,
        "users": settings.users.iter().map(|(_, a, n)| json!({"address": a, "name": n})).collect::<Vec<_>>(),
    }))
}

#[derive(Deserialize)]
pub struct Enabled {
    enabled: bool,
}

/// PUT /api/admin/domains/{domain}/continuity/enabled
pub async fn set_enabled(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    body: web::Json<Enabled>,
) -> HttpResponse {
    let (admin, actor) = match caller(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let id = match domain_of(&state, &admin, &path).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    match state
        .store
        .set_continuity_enabled(id, body.enabled, &actor)
        .await
    {
        Ok(changed) => {
            HttpResponse::Ok().json(json!({ "enabled": body.enabled, "changed": changed }))
        }
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub struct Scope {
    scope: String,
    #[serde(default)]
    confirm: bool,
}

/// PUT /api/admin/domains/{domain}/continuity/scope
pub async fn set_scope(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    body: web::Json<Scope>,
) -> HttpResponse {
    let (admin, actor) = match caller(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let id = match domain_of(&state, &admin, &path).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    if !matches!(body.scope.as_str(), "all" | "selected") {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_scope",
            "scope is \"all\" or \"selected\"",
        );
    }
    match state
        .store
        .set_continuity_scope(id, &body.scope, body.confirm, &actor)
        .await
    {
        Ok(changed) => HttpResponse::Ok().json(json!({ "scope": body.scope, "changed": changed })),
        Err(ScopeError::NeedsConfirmation(n)) => HttpResponse::Conflict().json(json!({
            "error": "confirmation_required",
            "message": format!("switching to all users removes the {n} selected users; send \"confirm\": true"),
            "selected_users": n,
        })),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub struct AddUser {
    address: String,
}

fn scope_error(e: ScopeError) -> HttpResponse {
    let (status, code) = match &e {
        ScopeError::Unknown(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_user"),
        ScopeError::OtherDomain(_) => (StatusCode::UNPROCESSABLE_ENTITY, "other_domain"),
        ScopeError::Duplicate(_) => (StatusCode::CONFLICT, "duplicate"),
        ScopeError::NotAnAddress(_) => (StatusCode::UNPROCESSABLE_ENTITY, "not_an_address"),
        ScopeError::Deactivated => (StatusCode::CONFLICT, "deactivated"),
        ScopeError::ScopeIsAll => (StatusCode::CONFLICT, "scope_is_all"),
        ScopeError::NeedsConfirmation(_) => (StatusCode::CONFLICT, "confirmation_required"),
        ScopeError::Store(_) => return unavailable(e),
    };
    error(status, code, &e.to_string())
}

/// POST /api/admin/domains/{domain}/continuity/users
pub async fn add_user(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    body: web::Json<AddUser>,
) -> HttpResponse {
    let (admin, actor) = match caller(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let id = match domain_of(&state, &admin, &path).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    match state
        .store
        .add_continuity_user(id, &body.address, &actor)
        .await
    {
        Ok(address) => HttpResponse::Created().json(json!({ "address": address })),
        Err(e) => scope_error(e),
    }
}

/// DELETE /api/admin/domains/{domain}/continuity/users/{address}
pub async fn remove_user(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (admin, actor) = match caller(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (domain, address) = path.into_inner();
    let id = match domain_of(&state, &admin, &domain).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let user = match state.store.account_by_address(&address).await {
        Ok(Some(a)) if a.domain == id => a.user,
        Ok(_) => {
            return error(
                StatusCode::NOT_FOUND,
                "not_listed",
                "this user is not listed",
            )
        }
        Err(e) => return unavailable(e),
    };
    match state.store.remove_continuity_user(id, user, &actor).await {
        Ok(true) => HttpResponse::NoContent().finish(),
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            "not_listed",
            "this user is not listed",
        ),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub struct StateChange {
    action: String,
    minutes: Option<i64>,
}

/// POST /api/admin/domains/{domain}/continuity/state
pub async fn change_state(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    body: web::Json<StateChange>,
) -> HttpResponse {
    use crate::monitor::state::Input;
    let (admin, actor) = match caller(&req, &state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let id = match domain_of(&state, &admin, &path).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let input = match body.action.as_str() {
        "activate" => Input::ActivateNow { by: actor },
        "end" => Input::End { by: actor },
        "drill" => {
            let minutes = body.minutes.unwrap_or(30);
            if !(1..=24 * 60).contains(&minutes) {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_minutes",
                    "minutes is between 1 and 1440",
                );
            }
            Input::StartDrill {
                by: actor,
                until_ms: crate::store::now_ms() + minutes * 60_000,
            }
        }
        _ => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_action",
                "action is activate, end or drill",
            )
        }
    };
    match crate::monitor::command(&state.store, &state.hostname, id, input).await {
        Ok(mode) => HttpResponse::Ok().json(json!({ "state": mode.as_str() })),
        Err(crate::store::StoreError::Invalid(m)) => error(StatusCode::CONFLICT, "no_change", &m),
        Err(e) => unavailable(e),
    }
}

/// Register the API's routes (JSON errors for bad bodies too).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let json = web::JsonConfig::default()
        .limit(16 * 1024)
        .error_handler(|e, _| {
            let message = e.to_string();
            actix_web::error::InternalError::from_response(
                e,
                error(StatusCode::BAD_REQUEST, "bad_request", &message),
            )
            .into()
        });
    cfg.service(
        web::scope("/api/admin")
            .app_data(json)
            .route("/domains", web::get().to(domains))
            .route("/domains/{domain}/continuity", web::get().to(continuity))
            .route(
                "/domains/{domain}/continuity/enabled",
                web::put().to(set_enabled),
            )
            .route(
                "/domains/{domain}/continuity/scope",
                web::put().to(set_scope),
            )
            .route(
                "/domains/{domain}/continuity/users",
                web::post().to(add_user),
            )
            .route(
                "/domains/{domain}/continuity/users/{address}",
                web::delete().to(remove_user),
            )
            .route(
                "/domains/{domain}/continuity/state",
                web::post().to(change_state),
            ),
    );
}
