//! `/admin/d/:domain/outbound`: how the domain's mail leaves through
//! Continuity — its DKIM keys with the DNS record to publish (make one,
//! sign with it, check DNS, stop signing, delete an old one) and relaying
//! for the domain's own server (networks, credentials shown once). Plain
//! form posts (the server's `web::outbound_admin`).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::admin::get_outbound;
use crate::backend::{AdminViewer, DkimKeyView, OutboundView};
use crate::components::shell::{enc, use_lang, Detail, ErrorBox};
use crate::i18n::{long_date, refusals_text, TzOffset};
use crate::pages::admin::AdminShell;

#[component]
pub fn OutboundPage() -> impl IntoView {
    view! { <AdminShell><OutboundBody/></AdminShell> }
}

#[component]
fn OutboundBody() -> impl IntoView {
    let params = use_params_map();
    let q = use_query_map();
    let res = Resource::new(
        move || {
            (
                params.with(|p| p.get("domain")).unwrap_or_default(),
                q.with(|q| q.to_query_string()),
                q.with(|q| q.get("reveal")).unwrap_or_default(),
            )
        },
        |(d, _, reveal)| get_outbound(d, reveal),
    );
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Transition fallback=|| view! { <p class="loading">"…"</p> }>
            {move || Suspend::new(async move {
                match res.await {
                    Ok(v) => view! { <Outbound v hydrated/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Outbound(v: OutboundView, hydrated: RwSignal<bool>) -> impl IntoView {
    let lang = use_lang();
    let (at, ot) = (lang.a(), lang.ob());
    let csrf = use_context::<AdminViewer>()
        .map(|a| a.csrf)
        .unwrap_or_default();
    let q = use_query_map();
    let get = move |k: &str| q.with_untracked(|q| q.get(k)).unwrap_or_default();
    let base = format!("/admin/d/{}/outbound", enc(&v.domain));
    let sel = get("sel");
    let notice = match get("done").as_str() {
        "dkim-new" => Some(format!("{} {sel}", ot.done_new)),
        "dkim-on" => Some(format!("{} {sel}", ot.done_on)),
        "dkim-off" => Some(ot.done_off.to_string()),
        "dkim-deleted" => Some(format!("{} {sel}", ot.done_deleted)),
        "networks" => Some(ot.done_networks.to_string()),
        "secret" => Some(ot.done_secret.to_string()),
        "secret-removed" => Some(ot.done_secret_removed.to_string()),
        _ => None,
    };
    let why = refusals_text(
        lang,
        &q.with_untracked(|q| q.get_all("why")).unwrap_or_default(),
    );
    let error = match get("e").as_str() {
        "dkim" => Some(format!("{} {why}", ot.e_dkim)),
        "networks" => Some(format!("{} {why}", ot.e_networks)),
        "secret" => Some(format!("{} {why}", ot.e_secret)),
        _ => None,
    };
    let detail = Some(get("detail")).filter(|d| !d.is_empty());
    let record = format!("{sel}._domainkey.{}", v.domain);
    let dns = match get("dns").as_str() {
        "ok" => Some((true, format!("{} {record}", ot.dns_ok))),
        "different" => Some((false, format!("{} {sel} ({record})", ot.dns_different))),
        "revoked" => Some((false, format!("{} {record}", ot.dns_revoked))),
        "missing" => Some((false, format!("{} {record}", ot.dns_missing))),
        "failed" => Some((false, ot.dns_failed.to_string())),
        _ => None,
    };
    let confirm_box = match get("confirm").as_str() {
        c @ ("secret-new" | "secret-remove") => {
            let new = c == "secret-new";
            Some(view! {
                <div class="confirm warning" role="alertdialog" aria-labelledby="confirm-text" id="confirm-box">
                    <p id="confirm-text">{if new { ot.confirm_replace } else { ot.confirm_remove }}</p>
                    <form method="post" action=format!("{base}/secret")>
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="action" value=if new { "new" } else { "remove" }/>
                        <input type="hidden" name="confirm" value="1"/>
                        <button type="submit" class="primary">{ot.confirm}</button>
                        " "
                        <a href=base.clone() rel="external">{ot.cancel}</a>
                    </form>
                </div>
            })
        }
        _ => None,
    };
    let active = v.keys.iter().find(|k| k.active).map(|k| k.selector.clone());
    let route = match v.route.as_str() {
        "" => view! { <p class="alert error" id="route">{ot.route_none}</p> }.into_any(),
        "direct" => view! { <p id="route">{ot.route_direct}</p> }.into_any(),
        host => view! { <p id="route">{ot.route_smarthost}" "<code>{host.to_string()}</code></p> }
            .into_any(),
    };
    let submission = if v.submission.is_empty() {
        view! { <p class="muted" id="submission">{ot.submission_off}</p> }.into_any()
    } else {
        view! { <p id="submission">{ot.submission_on}" "<code>{v.submission.clone()}</code></p> }
            .into_any()
    };
    let keys = v.keys.clone();
    view! {
        <nav class="crumbs" aria-label=use_lang().a().breadcrumb>
            <A href="/admin">{at.control_panel}</A>" › "{v.domain.clone()}" › "
            <A href=format!("/admin/d/{}/continuity", enc(&v.domain))>{at.continuity_service}</A>" › "{ot.title}
        </nav>
        <h1 data-hydrated=move || hydrated.get().then_some("true")>{ot.title}</h1>
        {notice.map(|n| view! { <p class="alert notice" role="status" id="notice">{n}</p> })}
        {error.map(|e| view! { <p class="alert error" role="alert" id="error">{e}</p> })}
        {dns.map(|(ok, text)| view! {
            <div class=if ok { "alert notice" } else { "alert error" } role="status" id="dns-result">{text}<Detail text=detail.clone()/></div>
        })}
        {v.new_secret.clone().map(|secret| view! {
            <section class="card reveal" id="new-secret">
                <p class="alert warning"><strong>{ot.shown_once}</strong></p>
                <dl>
                    <dt>{ot.user}</dt><dd><code id="relay-user">{v.domain.clone()}</code></dd>
                    <dt>{ot.password}</dt><dd><code id="relay-password">{secret}</code></dd>
                </dl>
            </section>
        })}
        {confirm_box}
        <section class="card" id="route-card">
            <h2>{ot.route_title}</h2>
            {route}
            {submission}
        </section>
        <section class="card" id="dkim">
            <h2>{ot.dkim_title}</h2>
            <p class="muted">{ot.dkim_intro}</p>
            <p id="signing">{match active.clone() {
                Some(s) => view! { {ot.signing_with}" "<strong>{s}</strong> }.into_any(),
                None => view! { {ot.signing_off} }.into_any(),
            }}</p>
            {if keys.is_empty() {
                view! { <p class="empty">{ot.no_keys}</p> }.into_any()
            } else {
                view! {
                    <ul class="dkim-keys" id="dkim-keys">
                        {keys.into_iter().map(|k| view! { <KeyItem k csrf=csrf.clone() base=base.clone()/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {active.is_some().then(|| view! {
                <form method="post" action=format!("{base}/dkim/off") class="inline">
                    <input type="hidden" name="csrf" value=csrf.clone()/>
                    <button type="submit" id="dkim-off">{ot.stop_signing}</button>
                </form>
            })}
            <h3>{ot.new_key}</h3>
            <form method="post" action=format!("{base}/dkim/new") class="primary-form" id="dkim-new">
                <input type="hidden" name="csrf" value=csrf.clone()/>
                <label>{ot.algorithm}
                    <select name="algorithm">
                        <option value="rsa" selected>{ot.rsa}</option>
                        <option value="ed25519">{ot.ed25519}</option>
                    </select>
                </label>
                <label>{ot.selector_hint}<input type="text" name="selector" maxlength="63" pattern="[A-Za-z0-9.\\-]*"/></label>
                <div class="buttons"><button type="submit" class="primary">{ot.generate}</button></div>
            </form>
            <p class="muted">{ot.new_key_note}</p>
        </section>
        <section class="card" id="relay">
            <h2>{ot.relay_title}</h2>
            <p class="muted">{ot.relay_intro}</p>
            <form method="post" action=format!("{base}/networks") id="relay-networks">
                <input type="hidden" name="csrf" value=csrf.clone()/>
                <label class="wide">{ot.networks}
                    <textarea name="networks" rows="4">{v.networks.join("\n")}</textarea>
                </label>
                <p class="muted">{ot.networks_hint}</p>
                <div class="buttons"><button type="submit">{ot.save_networks}</button></div>
            </form>
            <h3>{ot.credentials}</h3>
            <p id="credentials">{if v.has_secret { ot.credentials_set } else { ot.credentials_none }}</p>
            <div class="state-actions">
                <form method="post" action=format!("{base}/secret")>
                    <input type="hidden" name="csrf" value=csrf.clone()/>
                    <input type="hidden" name="action" value="new"/>
                    <button type="submit" id="secret-new">
                        {if v.has_secret { ot.replace_credentials } else { ot.make_credentials }}
                    </button>
                </form>
                {v.has_secret.then(|| view! {
                    <form method="post" action=format!("{base}/secret")>
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="action" value="remove"/>
                        <button type="submit" id="secret-remove">{ot.remove_credentials}</button>
                    </form>
                })}
            </div>
        </section>
    }
}

#[component]
fn KeyItem(k: DkimKeyView, csrf: String, base: String) -> impl IntoView {
    let lang = use_lang();
    let ot = lang.ob();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    let hidden = |csrf: &str, sel: &str| {
        view! {
            <input type="hidden" name="csrf" value=csrf.to_string()/>
            <input type="hidden" name="selector" value=sel.to_string()/>
        }
    };
    let id = format!("key-{}", k.selector);
    view! {
        <li class=if k.active { "dkim-key active" } else { "dkim-key" } id=id.clone()>
            <p>
                <strong class="selector">{k.selector.clone()}</strong>" · "{k.algorithm.clone()}" · "
                {ot.created}" "<time>{long_date(k.created_at, tz, lang)}</time>" · "
                <span class="state">{if k.active { ot.signing } else { ot.inactive }}</span>
            </p>
            <dl class="record">
                <dt>{ot.record_name}</dt><dd><code class="record-name">{k.record_name.clone()}</code></dd>
                <dt id=format!("{id}-value")>{ot.record_value}</dt>
                <dd><textarea class="record-value" readonly rows="3" aria-labelledby=format!("{id}-value")>{k.record_value.clone()}</textarea></dd>
                <dt id=format!("{id}-zone")>{ot.zone_line}</dt>
                <dd><textarea class="zone-line" readonly rows="3" aria-labelledby=format!("{id}-zone")>{k.zone_line.clone()}</textarea></dd>
            </dl>
            <div class="state-actions">
                <form method="post" action=format!("{base}/dkim/check")>
                    {hidden(&csrf, &k.selector)}
                    <button type="submit" class="check-dns">{ot.check_dns}</button>
                </form>
                {(!k.active).then(|| view! {
                    <form method="post" action=format!("{base}/dkim/use")>
                        {hidden(&csrf, &k.selector)}
                        <button type="submit" class="use-key">{ot.use_key}</button>
                    </form>
                    <form method="post" action=format!("{base}/dkim/delete")>
                        {hidden(&csrf, &k.selector)}
                        <button type="submit" class="delete-key">{ot.delete_key}</button>
                    </form>
                })}
            </div>
        </li>
    }
}
