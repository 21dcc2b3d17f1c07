//! `/admin/d/:domain/directory`: the domain's directory sync — settings,
//! a test (bind and count), sync now, and the last run with its changes.
//! Plain form posts (the server's `web::directory_forms`).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::admin::get_directory;
use crate::backend::{AdminViewer, DirectoryView};
use crate::components::shell::{enc, use_lang, Detail, ErrorBox};
use crate::i18n::{long_date, refusals_text, sync_summary, TzOffset};
use crate::pages::admin::AdminShell;

#[component]
pub fn DirectoryPage() -> impl IntoView {
    view! { <AdminShell><DirectoryBody/></AdminShell> }
}

#[component]
fn DirectoryBody() -> impl IntoView {
    let params = use_params_map();
    let q = use_query_map();
    let res = Resource::new(
        move || {
            (
                params.with(|p| p.get("domain")).unwrap_or_default(),
                q.with(|q| q.to_query_string()),
            )
        },
        |(d, _)| get_directory(d),
    );
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Transition fallback=|| view! { <p class="loading">"…"</p> }>
            {move || Suspend::new(async move {
                match res.await {
                    Ok(v) => view! { <Directory v hydrated/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Directory(v: DirectoryView, hydrated: RwSignal<bool>) -> impl IntoView {
    let lang = use_lang();
    let at = lang.a();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    let admin = use_context::<AdminViewer>();
    let operator = admin.as_ref().is_some_and(|a| a.operator);
    let csrf = admin.map(|a| a.csrf).unwrap_or_default();
    let q = use_query_map();
    let get = move |k: &str| q.with_untracked(|q| q.get(k)).unwrap_or_default();
    let base = format!("/admin/d/{}/directory", enc(&v.domain));
    let notice = match get("done").as_str() {
        "settings" => Some(at.dir_done_settings),
        "sync" => Some(at.dir_done_sync),
        _ => None,
    };
    let error = match get("e").as_str() {
        "sync" => Some(at.dir_e_sync.to_string()),
        "unset" => Some(at.dir_e_unset.to_string()),
        "settings" => Some(format!(
            "{} {}",
            at.dir_e_settings,
            refusals_text(
                lang,
                &q.with_untracked(|q| q.get_all("why")).unwrap_or_default()
            )
        )),
        _ => None,
    };
    let tested = match get("tested").as_str() {
        "ok" => Some((true, format!("{} {}", at.dir_tested_ok, get("n")))),
        "fail" => Some((false, at.dir_tested_fail.to_string())),
        _ => None,
    };
    let detail = Some(get("detail")).filter(|d| !d.is_empty());
    let list = |title: &'static str, id: &'static str, items: Vec<String>| {
        (!items.is_empty()).then(|| view! {
            <h3>{title}" ("{items.len()}")"</h3>
            <ul class="audit" id=id>{items.into_iter().map(|a| view! { <li>{a}</li> }).collect_view()}</ul>
        })
    };
    view! {
        <nav class="crumbs" aria-label=use_lang().a().breadcrumb>
            <A href="/admin">{at.control_panel}</A>" › "{v.domain.clone()}" › "
            <A href=format!("/admin/d/{}/continuity", enc(&v.domain))>{at.continuity_service}</A>" › "{at.dir_title}
        </nav>
        <h1 data-hydrated=move || hydrated.get().then_some("true")>{at.dir_title}</h1>
        {notice.map(|n| view! { <p class="alert notice" role="status" id="notice">{n}</p> })}
        {(get("cleared") == "1").then(|| view! { <p class="alert error" role="alert" id="cleared">{at.dir_cleared}</p> })}
        {error.map(|e| view! { <p class="alert error" role="alert" id="error">{e}</p> })}
        {tested.map(|(ok, text)| view! {
            <div class=if ok { "alert notice" } else { "alert error" } id="tested">{text}<Detail text=detail.clone()/></div>
        })}
        {(!v.configured).then(|| view! { <p class="muted">{at.dir_none}</p> })}
        <section class="card">
            <form method="post" action=format!("{base}/settings") class="primary-form" id="directory-settings">
                <input type="hidden" name="csrf" value=csrf.clone()/>
                <label class="wide">{at.dir_url}<input type="text" name="url" value=v.url.clone() required placeholder="ldaps://dc.example.com"/></label>
                <label class="check"><input type="checkbox" name="starttls" value="1" checked=v.starttls/>{at.dir_starttls}</label>
                {operator.then(|| view! {
                    <label class="check"><input type="checkbox" name="allow_plaintext" value="1" checked=v.allow_plaintext/>{at.dir_allow_plain}</label>
                })}
                <label class="wide">{at.dir_ca}<input type="text" name="ca_file" value=v.ca_file.clone() readonly=!operator/></label>
                <label class="wide">{at.dir_bind_dn}<input type="text" name="bind_dn" value=v.bind_dn.clone()/></label>
                <label class="wide">{at.dir_pw_file}<input type="text" name="bind_password_file" value=v.bind_password_file.clone() readonly=!operator/>
                    <span class="muted">{at.dir_pw_note}" "{(!operator).then_some(at.dir_files_operator)}</span></label>
                <label class="wide">{at.dir_base}<input type="text" name="base_dn" value=v.base_dn.clone() required/></label>
                <label class="wide">{at.dir_filter}<input type="text" name="user_filter" value=v.user_filter.clone() required/></label>
                <label class="wide">{at.dir_group}<input type="text" name="group_dn" value=v.group_dn.clone()/></label>
                <label>{at.dir_mobile_attr}<input type="text" name="mobile_attr" id="mobile-attr" value=v.mobile_attr.clone()/></label>
                <label>{at.dir_alt_attr}<input type="text" name="alt_email_attr" id="alt-email-attr" value=v.alt_email_attr.clone()/></label>
                <label>{at.dir_kind}
                    <select name="flavor">
                        <option value="openldap" selected=v.flavor == "openldap">"OpenLDAP"</option>
                        <option value="ad" selected=v.flavor == "ad">"Active Directory"</option>
                    </select>
                </label>
                <label>{at.dir_every}<input type="number" name="interval_min" min="1" max="10080" value=v.interval_min.to_string()/></label>
                <label>{at.dir_guard}<input type="number" name="max_disable_pct" min="0" max="100" value=v.max_disable_pct.to_string()/></label>
                <div class="buttons"><button type="submit" class="primary">{at.dir_save}</button></div>
            </form>
            {v.configured.then(|| view! {
                <div class="state-actions">
                    <form method="post" action=format!("{base}/test")>
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <button type="submit" id="directory-test">{at.dir_test}</button>
                    </form>
                    <form method="post" action=format!("{base}/sync")>
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <button type="submit" id="directory-sync">{at.dir_sync}</button>
                    </form>
                </div>
            })}
        </section>
        <section class="card" id="last-run">
            <h2>{at.dir_last}</h2>
            {match v.last_at {
                None => view! { <p class="muted">{at.dir_never}</p> }.into_any(),
                Some(t) => view! {
                    <div class=if v.last_ok { "ok" } else { "alert error" } id="last-result">
                        <time>{long_date(t, tz, lang)}</time>" · "
                        {if v.last_ok { at.dir_ok } else { at.dir_failed }}
                        {match (v.last_ok, v.last_seen) {
                            (true, Some(seen)) => view! {
                                " · "{sync_summary(lang, seen, [v.added.len(), v.updated.len(), v.disabled.len(), v.enabled.len(), v.warnings.len()])}
                            }.into_any(),
                            _ => view! { <Detail text=Some(v.last_result.clone())/> }.into_any(),
                        }}
                    </div>
                }.into_any(),
            }}
            {list(at.dir_added, "dir-added", v.added.clone())}
            {list(at.dir_updated, "dir-updated", v.updated.clone())}
            {list(at.dir_disabled, "dir-disabled", v.disabled.clone())}
            {list(at.dir_enabled, "dir-enabled", v.enabled.clone())}
            {(!v.warnings.is_empty()).then(|| view! {
                <details class="detail" id="dir-warnings-box">
                    <summary>{at.dir_warnings}" ("{v.warnings.len()}")"</summary>
                    <ul class="audit" id="dir-warnings">{v.warnings.iter().map(|a| view! { <li>{a.clone()}</li> }).collect_view()}</ul>
                </details>
            })}
        </section>
    }
}
