//! The Control Panel's outbound page (`/admin/d/{domain}/outbound`): the
//! domain's DKIM keys (make one, sign with it, check its DNS record, stop
//! signing, forget an old one) and how the domain's own server may relay
//! through the submission listener (its networks, its credentials — shown
//! once). The view, then the form posts; each post is checked for the
//! administrator, their domain and CSRF (the shared guard) and audited.

#![allow(clippy::result_large_err)]

use std::time::Duration;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use app::backend::{AdminSession, BackendError, DkimKeyView, OutboundView, Refusal};
use serde::Deserialize;

use super::admin_forms::guard;
use super::backend::{admin_domain_name, unavailable};
use super::forms::{enc, see_other};
use super::{OutboundFacts, WebState};
use crate::auth::Auth;
use crate::queue::mx::{DnsError, HickoryDns};
use crate::relay::access;
use crate::relay::dkim::{self, Algorithm, Published};
use crate::store::{DomainId, Store, StoreError};

fn page(domain: &str) -> String {
    format!("/admin/d/{}/outbound", enc(domain))
}

/// What the reveal of new relay credentials is filed under.
fn reveal_key(domain: DomainId) -> String {
    format!("relay:{}", domain.0)
}

fn key_view(domain: &str, k: &crate::store::relay::DkimKeyRow) -> DkimKeyView {
    let alg = k
        .algorithm
        .parse::<Algorithm>()
        .unwrap_or(Algorithm::RsaSha256);
    DkimKeyView {
        selector: k.selector.clone(),
        algorithm: k.algorithm.clone(),
        active: k.active,
        created_at: k.created_at,
        record_name: format!("{}._domainkey.{domain}", k.selector),
        record_value: dkim::record_text(alg, &k.public_b64),
        zone_line: dkim::zone_line(&k.selector, domain, alg, &k.public_b64),
    }
}

/// The page's data. New relay credentials made by this session are
/// handed over here, under the reveal id of the page the post led to.
pub async fn view(
    store: &Store,
    auth: &Auth,
    facts: &OutboundFacts,
    session: &AdminSession,
    domain: &str,
    reveal: &str,
) -> Result<OutboundView, BackendError> {
    let (id, name) = admin_domain_name(store, session, domain).await?;
    let keys = store.dkim_keys(id).await.map_err(unavailable)?;
    let networks = store
        .relay_networks()
        .await
        .map_err(unavailable)?
        .into_iter()
        .filter(|(d, _)| *d == id)
        .map(|(_, n)| n)
        .collect();
    let has_secret = store
        .relay_secret_hash(id)
        .await
        .map_err(unavailable)?
        .is_some();
    Ok(OutboundView {
        keys: keys.iter().map(|k| key_view(&name, k)).collect(),
        networks,
        has_secret,
        new_secret: auth.reveals.take(&session.csrf, reveal, &reveal_key(id)),
        route: facts.route.clone(),
        submission: facts
            .submission
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        domain: name,
    })
}

/// Back to the page saying which form was refused (`kind`) and why, in
/// codes the page words in the viewer's language.
fn error(domain: &str, kind: &str, why: &[Refusal]) -> HttpResponse {
    let mut to = format!("{}?e={kind}", page(domain));
    for r in why {
        to.push_str(&format!("&why={}", enc(&r.code())));
    }
    see_other(&to)
}

fn done(domain: &str, what: &str, selector: &str) -> HttpResponse {
    see_other(&format!(
        "{}?done={what}&sel={}",
        page(domain),
        enc(selector)
    ))
}

/// The audit row of a change (a failure to write it is logged: the change
/// itself is made).
async fn audit(
    state: &WebState,
    id: DomainId,
    actor: &str,
    action: &str,
    before: Option<&str>,
    after: Option<&str>,
) {
    if let Err(e) = state
        .store
        .audit_change(id, actor, action, before, after)
        .await
    {
        tracing::error!(error = %e, %action, "audit row not written");
    }
}

fn store_error(e: StoreError) -> [Refusal; 1] {
    [match e {
        StoreError::Refused(r) => r,
        StoreError::NotFound(_) => Refusal::NotFound,
        other => {
            tracing::warn!(error = %other, "outbound settings not saved");
            Refusal::Unavailable
        }
    }]
}

#[derive(Deserialize)]
pub struct NewKeyForm {
    csrf: String,
    algorithm: String,
    #[serde(default)]
    selector: String,
}

/// POST /admin/d/{domain}/outbound/dkim/new — a new key that signs from now
/// on (the previous one kept, inactive, to go back to).
pub async fn new_key(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<NewKeyForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let algorithm = match form.algorithm.as_str() {
        "rsa" => Algorithm::RsaSha256,
        "ed25519" => Algorithm::Ed25519Sha256,
        _ => return error(&domain, "dkim", &[Refusal::DkimAlgorithm]),
    };
    let existing: Vec<String> = match state.store.dkim_keys(id).await {
        Ok(k) => k.into_iter().map(|k| k.selector).collect(),
        Err(e) => return error(&domain, "dkim", &store_error(e)),
    };
    let selector = match form.selector.trim().to_ascii_lowercase() {
        s if s.is_empty() => dkim::default_selector(&existing),
        s => s,
    };
    if !crate::store::relay::valid_selector(&selector) {
        return error(&domain, "dkim", &[Refusal::DkimSelector(selector)]);
    }
    let key = match tokio::task::spawn_blocking(move || dkim::generate(algorithm, 2048)).await {
        Ok(Ok(k)) => k,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "making a DKIM key failed");
            return error(&domain, "dkim", &[Refusal::DkimKeygen]);
        }
        Err(_) => return error(&domain, "dkim", &[Refusal::DkimKeygen]),
    };
    let row = match state
        .store
        .add_dkim_key(
            id,
            &selector,
            algorithm.as_str(),
            &key.private_der,
            &key.public_b64,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return error(&domain, "dkim", &store_error(e)),
    };
    audit(
        &state,
        id,
        &actor,
        "dkim key",
        None,
        Some(&format!("{} {} (signing)", row.selector, row.algorithm)),
    )
    .await;
    done(&domain, "dkim-new", &row.selector)
}

#[derive(Deserialize)]
pub struct SelectorForm {
    csrf: String,
    #[serde(default)]
    selector: String,
}

/// POST /admin/d/{domain}/outbound/dkim/use — sign with this key.
pub async fn use_key(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<SelectorForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let before = active_selector(&state.store, id).await;
    match state
        .store
        .set_dkim_signing(id, true, Some(form.selector.trim()))
        .await
    {
        Ok(Some(k)) => {
            audit(
                &state,
                id,
                &actor,
                "dkim signing",
                before.as_deref(),
                Some(&k.selector),
            )
            .await;
            done(&domain, "dkim-on", &k.selector)
        }
        Ok(None) => error(&domain, "dkim", &[Refusal::DkimNoneSigns]),
        Err(e) => error(&domain, "dkim", &store_error(e)),
    }
}

async fn active_selector(store: &Store, id: DomainId) -> Option<String> {
    store
        .active_dkim_key(id)
        .await
        .ok()
        .flatten()
        .map(|k| k.selector)
}

/// POST /admin/d/{domain}/outbound/dkim/off — stop signing (keys kept).
pub async fn signing_off(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<SelectorForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let before = active_selector(&state.store, id).await;
    match state.store.set_dkim_signing(id, false, None).await {
        Ok(_) => {
            audit(
                &state,
                id,
                &actor,
                "dkim signing",
                before.as_deref(),
                Some("off"),
            )
            .await;
            done(&domain, "dkim-off", "")
        }
        Err(e) => error(&domain, "dkim", &store_error(e)),
    }
}

/// POST /admin/d/{domain}/outbound/dkim/delete — forget an inactive key.
pub async fn delete_key(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<SelectorForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let selector = form.selector.trim();
    match state.store.delete_dkim_key(id, selector).await {
        Ok(()) => {
            audit(&state, id, &actor, "dkim key deleted", Some(selector), None).await;
            done(&domain, "dkim-deleted", selector)
        }
        Err(e) => error(&domain, "dkim", &store_error(e)),
    }
}

/// POST /admin/d/{domain}/outbound/dkim/check — is the key's record in
/// DNS, and is it ours?
pub async fn check_key(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<SelectorForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, _) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let selector = form.selector.trim().to_string();
    let (key, name) = match (
        state.store.dkim_keys(id).await,
        state.store.domain(id).await,
    ) {
        (Ok(keys), Ok(Some(d))) => (keys.into_iter().find(|k| k.selector == selector), d.name),
        _ => return error(&domain, "dkim", &[Refusal::Unavailable]),
    };
    let Some(key) = key else {
        return error(&domain, "dkim", &[Refusal::DkimNoSuchKey(selector)]);
    };
    let record = format!("{selector}._domainkey.{name}");
    let outcome = match HickoryDns::new(&state.outbound.nameservers, Duration::from_secs(3)) {
        Err(e) => Err(e),
        Ok(dns) => match dns.txt(&record).await {
            Ok(found) => Ok(dkim::check_published(&found, &key.public_b64)),
            Err(DnsError::NoSuchDomain | DnsError::NoRecords) => Ok(Published::Missing),
            Err(DnsError::Failed(e)) => Err(e),
        },
    };
    let result = match outcome {
        Ok(Published::Matches) => "ok".to_string(),
        Ok(Published::Different) => "different".into(),
        Ok(Published::Revoked) => "revoked".into(),
        Ok(Published::Missing) => "missing".into(),
        Err(why) => format!("failed&detail={}", enc(&why)),
    };
    see_other(&format!(
        "{}?dns={result}&sel={}",
        page(&domain),
        enc(&selector)
    ))
}

#[derive(Deserialize)]
pub struct NetworksForm {
    csrf: String,
    #[serde(default)]
    networks: String,
}

/// POST /admin/d/{domain}/outbound/networks — where the domain's server
/// relays from (one network per line; empty: none).
pub async fn networks(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<NetworksForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let nets = match access::parse_networks(&form.networks, access::Who::DomainAdmin) {
        Ok(n) => n,
        Err(why) => return error(&domain, "networks", &why),
    };
    let before: Vec<String> = state
        .store
        .relay_networks()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|(d, _)| *d == id)
        .map(|(_, n)| n)
        .collect();
    if let Err(e) = state.store.set_relay_networks(id, &nets).await {
        return error(&domain, "networks", &store_error(e));
    }
    audit(
        &state,
        id,
        &actor,
        "relay networks",
        Some(&before.join(", ")),
        Some(&nets.join(", ")),
    )
    .await;
    done(&domain, "networks", "")
}

#[derive(Deserialize)]
pub struct SecretForm {
    csrf: String,
    /// "new" or "remove".
    action: String,
    confirm: Option<String>,
}

/// POST /admin/d/{domain}/outbound/secret — new relay credentials (shown
/// once, on the next page, to this session only) or none. Replacing or
/// removing credentials in use asks for confirmation first: the domain's
/// server stops relaying until it has the new ones.
pub async fn secret(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<SecretForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let has = match state.store.relay_secret_hash(id).await {
        Ok(h) => h.is_some(),
        Err(e) => return error(&domain, "secret", &store_error(e)),
    };
    let action = match form.action.as_str() {
        a @ ("new" | "remove") => a,
        _ => return error(&domain, "secret", &[Refusal::UnknownAction]),
    };
    if has && form.confirm.as_deref() != Some("1") {
        return see_other(&format!("{}?confirm=secret-{action}", page(&domain)));
    }
    if action == "remove" {
        if let Err(e) = state.store.set_relay_secret(id, None).await {
            return error(&domain, "secret", &store_error(e));
        }
        audit(
            &state,
            id,
            &actor,
            "relay credentials",
            Some("set"),
            Some("none"),
        )
        .await;
        return done(&domain, "secret-removed", "");
    }
    let (value, hash) = access::new_secret();
    if let Err(e) = state.store.set_relay_secret(id, Some(&hash)).await {
        return error(&domain, "secret", &store_error(e));
    }
    audit(
        &state,
        id,
        &actor,
        "relay credentials",
        Some(if has { "set" } else { "none" }),
        Some("new"),
    )
    .await;
    // the guard has checked the session; its CSRF token names it
    let session = req
        .extensions()
        .get::<Option<AdminSession>>()
        .cloned()
        .flatten();
    let reveal = session
        .map(|s| state.auth.reveals.stash(&s.csrf, &reveal_key(id), value))
        .unwrap_or_default();
    see_other(&format!(
        "{}?done=secret&reveal={}",
        page(&domain),
        enc(&reveal)
    ))
}
