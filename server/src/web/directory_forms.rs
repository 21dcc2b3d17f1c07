//! The Control Panel's directory sync: save the settings, test them (bind
//! and count), sync now. Plain form posts, each checked for the
//! administrator, their domain and CSRF (the shared guard); changes are
//! audited.

#![allow(clippy::result_large_err)]

use actix_web::{web, HttpRequest, HttpResponse};
use app::backend::Refusal;
use serde::Deserialize;

use super::admin_forms::{guard, is_operator};
use super::forms::{enc, see_other};
use super::WebState;
use crate::store::directories::DirectoryConfig;

fn page(domain: &str) -> String {
    format!("/admin/d/{}/directory", enc(domain))
}

#[derive(Deserialize)]
pub struct SettingsForm {
    csrf: String,
    url: String,
    starttls: Option<String>,
    #[serde(default)]
    ca_file: String,
    #[serde(default)]
    bind_dn: String,
    #[serde(default)]
    bind_password_file: String,
    base_dn: String,
    user_filter: String,
    #[serde(default)]
    group_dn: String,
    /// operators only: plain ldap:// without StartTLS
    allow_plaintext: Option<String>,
    flavor: String,
    #[serde(default)]
    mobile_attr: String,
    #[serde(default)]
    alt_email_attr: String,
    interval_min: String,
    max_disable_pct: String,
}

/// POST /admin/d/{domain}/directory/settings
pub async fn settings(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<SettingsForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let bad = |why: Refusal| {
        see_other(&format!(
            "{}?e=settings&why={}",
            page(&domain),
            enc(&why.code())
        ))
    };
    let Ok(interval) = form.interval_min.trim().parse::<i64>() else {
        return bad(Refusal::DirectoryInterval);
    };
    let Ok(guard_pct) = form.max_disable_pct.trim().parse::<u32>() else {
        return bad(Refusal::DirectoryGuard);
    };
    let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let before = state.store.directory(id).await.ok().flatten();
    let operator = is_operator(&req, &state).await;
    let mut c = DirectoryConfig {
        domain: id,
        url: form.url.trim().to_string(),
        starttls: form.starttls.is_some(),
        ca_file: opt(&form.ca_file),
        bind_dn: form.bind_dn.trim().to_string(),
        bind_password_file: opt(&form.bind_password_file),
        base_dn: form.base_dn.trim().to_string(),
        user_filter: form.user_filter.trim().to_string(),
        group_dn: opt(&form.group_dn),
        flavor: form.flavor.trim().to_string(),
        interval_s: interval.saturating_mul(60),
        max_disable_pct: guard_pct,
        allow_plaintext: form.allow_plaintext.is_some(),
        mobile_attr: form.mobile_attr.trim().to_string(),
        alt_email_attr: form.alt_email_attr.trim().to_string(),
    };
    let cleared = if operator {
        false
    } else {
        domain_admin_rules(&mut c, before.as_ref())
    };
    if let Some(f) = &c.bind_password_file {
        if std::fs::metadata(f).is_err() {
            return bad(Refusal::DirectoryPasswordFile(f.clone()));
        }
    }
    match state.store.set_directory(&c).await {
        Ok(()) => {}
        Err(crate::store::StoreError::Refused(why)) => return bad(why),
        Err(e) => {
            tracing::error!(error = %e, "saving the directory settings failed");
            return HttpResponse::ServiceUnavailable().finish();
        }
    }
    let describe = |c: &DirectoryConfig| {
        format!(
            "{}{} base {} filter {}{}{}",
            c.url,
            if c.starttls { " (StartTLS)" } else { "" },
            c.base_dn,
            c.user_filter,
            c.group_dn
                .as_ref()
                .map(|g| format!(" group {g}"))
                .unwrap_or_default(),
            if c.bind_password_file.is_some() {
                " with a bind password"
            } else {
                ""
            }
        )
    };
    let _ = state
        .store
        .audit_change(
            id,
            &actor,
            "directory settings",
            before.as_ref().map(describe).as_deref(),
            Some(&describe(&c)),
        )
        .await;
    let cleared = if cleared { "&cleared=1" } else { "" };
    see_other(&format!("{}?done=settings{cleared}", page(&domain)))
}

/// What a domain admin may not decide, taken from the operator's settings
/// (`before`): the files on the server (the CA, the bind password's file —
/// else they could send any file of the server to a directory they choose)
/// and plain LDAP. The password's file is kept only while the password
/// still goes where the operator sent it: a new URL, StartTLS switched or
/// another CA clears it until an operator sets it again. True when cleared.
fn domain_admin_rules(c: &mut DirectoryConfig, before: Option<&DirectoryConfig>) -> bool {
    c.ca_file = before.and_then(|b| b.ca_file.clone());
    let same = before.is_some_and(|b| b.same_destination(c));
    c.allow_plaintext = same && before.is_some_and(|b| b.allow_plaintext);
    let had = before.and_then(|b| b.bind_password_file.clone());
    if same {
        c.bind_password_file = had;
        false
    } else {
        c.bind_password_file = None;
        had.is_some()
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// POST /admin/d/{domain}/directory/test: bind and count, nothing changed.
pub async fn test(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, _) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(Some(c)) = state.store.directory(id).await else {
        return see_other(&format!("{}?e=unset", page(&domain)));
    };
    match crate::dirsync::test(&c).await {
        Ok(n) => see_other(&format!("{}?tested=ok&n={n}", page(&domain))),
        Err(e) => see_other(&format!(
            "{}?tested=fail&detail={}",
            page(&domain),
            enc(&e.to_string())
        )),
    }
}

/// POST /admin/d/{domain}/directory/sync: a run now (recorded as any run).
pub async fn sync(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(Some(c)) = state.store.directory(id).await else {
        return see_other(&format!("{}?e=unset", page(&domain)));
    };
    let r = crate::dirsync::sync(&state.store, &c, false, false, |_| {}).await;
    let _ = state
        .store
        .audit_change(id, &actor, "directory sync", None, None)
        .await;
    match r {
        Ok(_) => see_other(&format!("{}?done=sync", page(&domain))),
        Err(_) => see_other(&format!("{}?e=sync", page(&domain))),
    }
}
