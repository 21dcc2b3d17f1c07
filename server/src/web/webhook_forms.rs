//! The Control Panel's webhook form: where a domain's continuity state
//! changes are posted, with a signing secret shown once.
//!
//! A domain admin may name an `https://` address whose host resolves only
//! to public addresses (or to the networks an operator allowed for the
//! domain's primary, [`crate::monitor::reach`]) — the same rule as the
//! primary server, checked again at every post since a name can resolve
//! elsewhere later. Without it the webhook would let a domain admin make
//! the service post into its own network. Operators are not bound by it.

#![allow(clippy::result_large_err)]

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use app::backend::{AdminSession, Refusal};
use serde::Deserialize;

use super::admin_forms::{guard, is_operator, page};
use super::forms::{enc, see_other};
use super::WebState;
use crate::monitor::reach;
use crate::store::DomainId;

/// What the secret of a domain's webhook is stashed under for its reveal.
pub fn reveal_key(domain: DomainId) -> String {
    format!("webhook:{}", domain.0)
}

#[derive(Deserialize)]
pub struct WebhookForm {
    csrf: String,
    #[serde(default)]
    url: String,
    /// "save" (a new address, or a new secret for the same) or "remove".
    action: String,
}

/// POST /admin/d/{domain}/continuity/webhook
pub async fn set_webhook(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<WebhookForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let refuse = |r: Refusal| {
        see_other(&format!(
            "{}?e=webhook&why={}&url={}",
            page(&domain),
            enc(&r.code()),
            enc(form.url.trim())
        ))
    };
    let before = match state.store.webhook_url(id).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "reading the webhook failed");
            return refuse(Refusal::Unavailable);
        }
    };
    let operator = is_operator(&req, &state).await;
    let url = match form.action.as_str() {
        "remove" => None,
        "save" => {
            let typed: String = form.url.trim().chars().take(2048).collect();
            let Ok(uri) = crate::monitor::webhook::check_url(&typed) else {
                return refuse(Refusal::WebhookUrl);
            };
            if !operator {
                if uri.scheme_str() != Some("https") {
                    return refuse(Refusal::WebhookUrl);
                }
                let host = uri.host().unwrap_or_default().to_string();
                let allow = match state.store.primary_allowance(id).await {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::error!(error = %e, "reading the primary allowance failed");
                        return refuse(Refusal::Unavailable);
                    }
                };
                let port = uri.port_u16().unwrap_or(443);
                if let Err(refusal) = reach::resolve_addresses(&host, port, &allow).await {
                    tracing::info!(%actor, %refusal, "webhook refused");
                    let bare = host
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string();
                    return refuse(match refusal {
                        reach::Refusal::Unresolved(_) => Refusal::HostUnresolved(bare),
                        _ => Refusal::WebhookAddress(bare),
                    });
                }
            }
            Some(typed)
        }
        _ => return refuse(Refusal::UnknownAction),
    };
    let secret = match state.store.set_webhook(id, url.as_deref(), !operator).await {
        Ok(s) => s,
        Err(crate::store::StoreError::Invalid(_)) => return refuse(Refusal::WebhookUrl),
        Err(e) => {
            tracing::error!(error = %e, "saving the webhook failed");
            return refuse(Refusal::Unavailable);
        }
    };
    if let Err(e) = state
        .store
        .audit_change(id, &actor, "webhook", before.as_deref(), url.as_deref())
        .await
    {
        tracing::error!(error = %e, "audit row not written");
    }
    let Some(secret) = secret else {
        return see_other(&format!("{}?done=webhook-removed", page(&domain)));
    };
    // the guard has checked the session; its CSRF token names it
    let session = req
        .extensions()
        .get::<Option<AdminSession>>()
        .cloned()
        .flatten();
    let reveal = session
        .map(|s| state.auth.reveals.stash(&s.csrf, &reveal_key(id), secret))
        .unwrap_or_default();
    see_other(&format!(
        "{}?done=webhook&reveal={}#webhook-section",
        page(&domain),
        enc(&reveal)
    ))
}
