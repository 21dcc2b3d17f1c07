//! The Control Panel: `/admin` (the scope selection: which domain to
//! manage) and `/admin/d/:domain/continuity` (Security settings >
//! Continuity Service), following the seed manual's procedures word for
//! word in French. Changes are plain form posts; confirmation steps are
//! pages of their own (`?confirm=`), so everything works without
//! JavaScript; hydrated, the user suggestions appear as you type.

use leptos::prelude::*;
use leptos_router::components::{Redirect, A};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::admin::{get_admin, get_continuity, suggest};
use crate::backend::{AdminViewer, BackendError, ContinuityView, Reason};
use crate::components::shell::{enc, use_lang, Detail, ErrorBox, LangSwitch};
use crate::i18n::{long_date, mode_name, reason_text, tls_mode_name, TzOffset};
use crate::pages::webhook::WebhookPanel;

/// The frame of every admin page; `children` see the [`AdminViewer`].
#[component]
pub(crate) fn AdminShell(children: ChildrenFn) -> impl IntoView {
    let admin = Resource::new(|| (), |_| get_admin());
    let children = StoredValue::new(children);
    let lang = use_lang();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"…"</p> }>
            {move || Suspend::new(async move {
                match admin.await {
                    Ok(Some(a)) => {
                        provide_context(a.clone());
                        view! {
                            <AdminTopBar a=a.clone()/>
                            <main id="content" class="admin">{children.with_value(|c| c())}</main>
                        }.into_any()
                    }
                    Ok(None) | Err(BackendError::Unauthorized) => view! {
                        <p class="alert">{lang.t().session_expired}</p>
                        <Redirect path="/login?expired=1&next=/admin"/>
                    }.into_any(),
                    Err(e) => view! { <main><ErrorBox error=e/></main> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AdminTopBar(a: AdminViewer) -> impl IntoView {
    let lang = use_lang();
    let (t, at) = (lang.t(), lang.a());
    let role = if a.operator {
        at.operator
    } else {
        at.domain_admin
    };
    view! {
        <a class="skip" href="#content">{t.skip_to_content}</a>
        <header class="topbar admin">
            <A href="/admin" attr:class="brand">"Continuity · "{at.control_panel}</A>
            <form method="get" action="/admin" class="scope-select">
                <label>
                    {at.scope_selection}" "
                    <select name="domain" id="scope-selection">
                        {a.domains.iter().map(|d| view! { <option value=d.clone()>{d.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <button type="submit">"OK"</button>
            </form>
            <A href="/admin/tracking" attr:class="nav-link" attr:id="nav-tracking">{lang.tr().title}</A>
            <span class="who">{a.address.clone()}" ("{role}")"</span>
            <LangSwitch/>
            <form method="post" action="/admin/logout" class="logout">
                <input type="hidden" name="csrf" value=a.csrf.clone()/>
                <button type="submit">{t.log_out}</button>
            </form>
        </header>
    }
}

/// `/admin`: the scope selection (`?domain=` goes to that domain).
#[component]
pub fn AdminHome() -> impl IntoView {
    view! { <AdminShell><AdminHomeBody/></AdminShell> }
}

#[component]
fn AdminHomeBody() -> impl IntoView {
    let at = use_lang().a();
    let q = use_query_map();
    let a = use_context::<AdminViewer>();
    let chosen = q
        .with_untracked(|q| q.get("domain"))
        .filter(|d| !d.is_empty());
    if let Some(d) = chosen {
        return view! { <Redirect path=format!("/admin/d/{}/continuity", enc(&d))/> }.into_any();
    }
    let domains = a.map(|a| a.domains).unwrap_or_default();
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <h1 data-hydrated=move || hydrated.get().then_some("true")>{at.control_panel}</h1>
        <h2>{at.scope_selection}</h2>
        {if domains.is_empty() {
            view! { <p class="empty">{at.no_domains}</p> }.into_any()
        } else {
            view! {
                <p class="lede">{at.choose_domain}</p>
                <ul class="domains" id="domains">
                    {domains.into_iter().map(|d| view! {
                        <li><A href=format!("/admin/d/{}/continuity", enc(&d))>{d.clone()}</A></li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        <crate::pages::security::SecuritySection side=crate::pages::security::SecuritySide::Admin/>
    }
    .into_any()
}

/// `/admin/d/:domain/continuity`
#[component]
pub fn ContinuityPage() -> impl IntoView {
    view! { <AdminShell><ContinuityBody/></AdminShell> }
}

#[component]
fn ContinuityBody() -> impl IntoView {
    let params = use_params_map();
    let domain = move || params.with(|p| p.get("domain")).unwrap_or_default();
    let q = use_query_map();
    // refetch after every form post (the query string changes)
    let view_res = Resource::new(
        move || {
            (
                domain(),
                q.with(|q| q.to_query_string()),
                q.with(|q| q.get("reveal")).unwrap_or_default(),
            )
        },
        |(d, _, reveal)| get_continuity(d, reveal),
    );
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Transition fallback=|| view! { <p class="loading">"…"</p> }>
            {move || Suspend::new(async move {
                match view_res.await {
                    Ok(v) => view! { <Continuity v hydrated/> }.into_any(),
                    Err(e) => {
                        #[cfg(feature = "ssr")]
                        if e == BackendError::NotFound {
                            if let Some(r) = use_context::<leptos_actix::ResponseOptions>() {
                                r.set_status(actix_web::http::StatusCode::NOT_FOUND);
                            }
                        }
                        view! { <ErrorBox error=e/> }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn Continuity(v: ContinuityView, hydrated: RwSignal<bool>) -> impl IntoView {
    let lang = use_lang();
    let at = lang.a();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    let csrf = use_context::<AdminViewer>()
        .map(|a| a.csrf)
        .unwrap_or_default();
    let q = use_query_map();
    let get = move |k: &str| q.with_untracked(|q| q.get(k)).unwrap_or_default();
    let base = format!("/admin/d/{}/continuity", enc(&v.domain));
    let confirm = get("confirm");
    let done = get("done");
    let added = get("added");
    let error = match get("e").as_str() {
        "short" => Some(at.e_short),
        "address" => Some(at.e_address),
        "unknown" => Some(at.e_unknown),
        "other" => Some(at.e_other),
        "duplicate" => Some(at.e_duplicate),
        "deactivated" => Some(at.e_deactivated),
        "scope" => Some(at.e_scope),
        _ => None,
    };
    let sent = get("sent");
    let tested = get("tested");
    let tested_reply = get("reply");
    let bad_field = get("field");
    let notice = match done.as_str() {
        "emergency-on" => Some(format!(
            "{} {}",
            at.done_emergency_on,
            if sent.is_empty() {
                "0".into()
            } else {
                sent.clone()
            }
        )),
        "emergency-off" => Some(at.done_emergency_off.to_string()),
        "resend" => Some(at.done_resend.to_string()),
        "reset" => Some(at.done_reset.to_string()),
        "primary" => Some(at.done_primary.to_string()),
        d if d.starts_with("state-") => {
            Some(format!("{} {}", at.done_state, mode_name(lang, &d[6..])))
        }
        "webhook" => Some(at.done_webhook.to_string()),
        "notify" => Some(lang.nt().done_notify.to_string()),
        "second-factor" => Some(lang.sec().done_required.to_string()),
        "webhook-removed" => Some(at.done_webhook_removed.to_string()),
        "activated" => Some(at.done_activated.to_string()),
        "deactivated" => Some(at.done_deactivated.to_string()),
        "scope" => Some(if v.scope == "all" {
            at.applies_to_all.to_string()
        } else {
            at.done_scope.to_string()
        }),
        "removed" => Some(at.done_removed.to_string()),
        _ if !added.is_empty() => Some(format!("{} {added}", at.done_added)),
        _ => None,
    };
    let show_add = get("add") == "1" || error.is_some();
    let typed = get("q");

    // the confirmation steps
    let confirm_box = match confirm.as_str() {
        "activate" | "deactivate" => {
            let on = confirm == "activate";
            Some(view! {
                <div class="confirm" role="alertdialog" aria-labelledby="confirm-text" id="confirm-box">
                    <p id="confirm-text">{if on { at.confirm_activate } else { at.confirm_deactivate }}</p>
                    <form method="post" action=format!("{base}/enabled")>
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="enabled" value=if on { "1" } else { "0" }/>
                        <input type="hidden" name="confirm" value="1"/>
                        <button type="submit" class="primary">{at.confirm}</button>
                        " "
                        <a href=base.clone() rel="external">{at.cancel}</a>
                    </form>
                </div>
            }.into_any())
        }
        "all" => Some(view! {
            <div class="confirm warning" role="alertdialog" aria-labelledby="confirm-text" id="confirm-box">
                <p id="confirm-text"><strong>{at.important}</strong>" "{at.switch_warning}</p>
                <form method="post" action=format!("{base}/scope")>
                    <input type="hidden" name="csrf" value=csrf.clone()/>
                    <input type="hidden" name="scope" value="all"/>
                    <input type="hidden" name="confirm" value="1"/>
                    <button type="submit" class="primary">{at.confirm}</button>
                    " "
                    <a href=base.clone() rel="external">{at.cancel}</a>
                </form>
            </div>
        }.into_any()),
        _ => None,
    };

    let domain = v.domain.clone();
    let users = v.users.clone();
    view! {
        <nav class="crumbs" aria-label=use_lang().a().breadcrumb>
            <A href="/admin">{at.control_panel}</A>" › "{v.domain.clone()}" › "{at.security_settings}" › "{at.continuity_service}
        </nav>
        <h1 data-hydrated=move || hydrated.get().then_some("true")>
            {at.security_settings}" > "{at.continuity_service}
        </h1>
        <p class="related">
            <A href=format!("/admin/d/{}/directory", enc(&v.domain)) attr:id="directory-link">{at.dir_link}</A>
            " · "
            <A href=format!("/admin/d/{}/outbound", enc(&v.domain)) attr:id="outbound-link">{lang.ob().link}</A>
        </p>
        {notice.map(|n| view! { <p class="alert notice" role="status" id="notice">{n}</p> })}
        {confirm_box}
        <section class="card" id="service">
            <p id="service-status">{if v.enabled { at.status_on } else { at.status_off }}</p>
            <form method="post" action=format!("{base}/enabled")>
                <input type="hidden" name="csrf" value=csrf.clone()/>
                <input type="hidden" name="enabled" value=if v.enabled { "0" } else { "1" }/>
                <button type="submit" class=if v.enabled { "" } else { "primary" } id="toggle-service">
                    {if v.enabled { at.deactivate } else { at.activate }}
                </button>
            </form>
            <div class="important">
                <p><strong>{at.important}</strong>" "{at.standby_text}</p>
                <p class="muted">{at.archive_text}</p>
            </div>
        </section>
        {v.enabled.then(|| view! {
            <section class="card" id="scope">
                <form method="post" action=format!("{base}/scope") class="scope">
                    <input type="hidden" name="csrf" value=csrf.clone()/>
                    <label class="check">
                        <input type="radio" name="scope" value="all" checked=v.scope == "all"/>
                        {at.all_users}
                    </label>
                    <label class="check">
                        <input type="radio" name="scope" value="selected" checked=v.scope == "selected"/>
                        {at.selected_users_only}
                    </label>
                    <button type="submit">{at.save}</button>
                </form>
                {(v.scope == "all").then(|| view! { <p class="muted">{at.applies_to_all}</p> })}
            </section>
        })}
        {(v.enabled && v.scope == "selected").then(|| view! {
            <section class="card" id="continuity-users">
                <h2>{at.continuity_users}</h2>
                {if show_add {
                    view! { <AddUser domain=domain.clone() base=base.clone() csrf=csrf.clone() typed=typed.clone() error/> }.into_any()
                } else {
                    view! {
                        <p><a href=format!("{base}?add=1") class="button" id="open-add">{at.add}</a></p>
                    }.into_any()
                }}
                {if users.is_empty() {
                    view! { <p class="empty">{at.no_selected_users}</p> }.into_any()
                } else {
                    view! {
                        <table class="users" id="users-table">
                            <thead><tr><th>{at.user}</th><th>{at.remove_user}</th></tr></thead>
                            <tbody>
                                {users.iter().map(|u| view! {
                                    <tr>
                                        <td>{u.address.clone()}{(!u.display_name.is_empty()).then(|| view! { <span class="muted">" — "{u.display_name.clone()}</span> })}</td>
                                        <td>
                                            <form method="post" action=format!("{base}/users/{}/remove", u.id)>
                                                <input type="hidden" name="csrf" value=csrf.clone()/>
                                                <button type="submit" class="cross" title=at.remove_user
                                                    aria-label=format!("{} {}", at.remove_user, u.address)>"✕"</button>
                                            </form>
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>
        })}
        <section class="card" id="emergency">
            <h2>{at.emergency_password}</h2>
            <p class="muted">{at.emergency_text}</p>
            <form method="post" action=format!("{base}/emergency")>
                <input type="hidden" name="csrf" value=csrf.clone()/>
                <input type="hidden" name="enabled" value=if v.emergency_enabled { "0" } else { "1" }/>
                <button type="submit" class=if v.emergency_enabled { "" } else { "primary" } id="toggle-emergency">
                    {if v.emergency_enabled { at.emergency_deactivate } else { at.emergency_activate }}
                </button>
            </form>
            {(!v.emergency.is_empty()).then(|| view! {
                <table class="users" id="emergency-table">
                    <thead><tr><th>{at.user}</th><th>{at.state}</th><th></th></tr></thead>
                    <tbody>
                        {v.emergency.iter().map(|u| {
                            let status = match u.status.as_str() { "set" => at.status_set, "invited" => at.status_invited, _ => at.status_none };
                            let source = if u.source == "ldap" { at.source_ldap } else { at.source_local };
                            view! {
                                <tr data-user=u.address.clone()>
                                    <td>{u.address.clone()}<span class="muted">" ("{source}")"</span></td>
                                    <td class=format!("status {}", u.status)>{status}</td>
                                    <td class="actions">
                                        <form method="post" action=format!("{base}/emergency/{}/resend", u.id)>
                                            <input type="hidden" name="csrf" value=csrf.clone()/>
                                            <button type="submit" aria-label=format!("{} {}", at.resend, u.address)>{at.resend}</button>
                                        </form>
                                        {(u.status == "set").then(|| view! {
                                            <form method="post" action=format!("{base}/emergency/{}/reset", u.id)>
                                                <input type="hidden" name="csrf" value=csrf.clone()/>
                                                <button type="submit" aria-label=format!("{} {}", at.reset, u.address)>{at.reset}</button>
                                            </form>
                                        })}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </section>
        <section class="card" id="primary">
            <h2>{at.primary_server}</h2>
            <p id="domain-state" class=format!("state {}", v.state)>
                <strong>{at.state}" : "</strong>
                {match v.state.as_str() { "outage" => at.state_outage, "recovering" => at.state_recovering, "drill" => at.state_drill, _ => at.state_normal }}
            </p>
            <div class="state-actions">
                {(v.state == "normal" || v.state == "recovering").then(|| view! {
                    <form method="post" action=format!("{base}/state")>
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="action" value="activate"/>
                        <button type="submit" id="activate-now">{at.activate_now}</button>
                    </form>
                })}
                {(v.state == "outage" || v.state == "drill").then(|| view! {
                    <form method="post" action=format!("{base}/state")>
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="action" value="end"/>
                        <button type="submit" id="end-continuity">{at.end_continuity}</button>
                    </form>
                })}
                {(v.state == "normal").then(|| view! {
                    <form method="post" action=format!("{base}/state") class="drill">
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="action" value="drill"/>
                        <label>{at.drill_minutes}<input type="number" name="minutes" min="1" max="1440" value="30"/></label>
                        <button type="submit" id="start-drill">{at.start_drill}</button>
                    </form>
                })}
            </div>
            {(get("e") == "state").then(|| view! { <p class="alert error" role="alert">{at.e_state}</p> })}
            {(tested == "ok").then(|| view! { <p class="alert notice" id="tested">{at.tested_ok}" "<code>{tested_reply.clone()}</code></p> })}
            {(tested == "fail").then(|| view! { <div class="alert error" id="tested">{at.tested_fail}<Detail text=Some(tested_reply.clone())/></div> })}
            {(get("e") == "primary").then(|| {
                let text = match get("why").as_str() {
                    "address" => at.e_primary_address.to_string(),
                    "port" => at.e_primary_port.to_string(),
                    "unresolved" => at.e_primary_unresolved.to_string(),
                    _ if bad_field == "probe_rcpt" => at.e_primary_rcpt.to_string(),
                    _ => format!("{} {}", at.e_primary, bad_field),
                };
                view! { <p class="alert error" role="alert" id="primary-error">{text}</p> }
            })}
            <form method="post" action=format!("{base}/primary") class="primary-form">
                <input type="hidden" name="csrf" value=csrf.clone()/>
                <label>{at.host}<input type="text" name="host" value=v.primary.host.clone() required/></label>
                <label>{at.port}<input type="number" name="port" min="1" max="65535" value=v.primary.port.to_string() required/></label>
                <label>{at.tls_mode}
                    <select name="tls">
                        {["none", "opportunistic", "required", "implicit"].into_iter().map(|m| view! {
                            <option value=m selected=v.primary.tls == m>{tls_mode_name(lang, m)}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>{at.probe_interval}<input type="number" name="interval" min="1" max="3600" value=v.primary.interval_s.to_string()/></label>
                <label>{at.probe_timeout}<input type="number" name="timeout" min="1" max="300" value=v.primary.timeout_s.to_string()/></label>
                <label>{at.fail_after}<input type="number" name="fail_after" min="1" max="100" value=v.primary.fail_after.to_string()/></label>
                <label>{at.recover_after}<input type="number" name="recover_after" min="1" max="100" value=v.primary.recover_after.to_string()/></label>
                <label class="wide">{at.probe_rcpt}<input type="text" name="probe_rcpt" value=v.primary.probe_rcpt.clone()/></label>
                <div class="buttons">
                    <button type="submit" name="action" value="save" class="primary">{at.save}</button>
                    <button type="submit" name="action" value="test" id="test-connection">{at.test_connection}</button>
                </div>
            </form>
            <h3>{at.held_title}</h3>
            {if v.held.waiting == 0 {
                view! { <p id="held-queue" data-waiting="0">{at.held_none}</p> }.into_any()
            } else {
                view! {
                    <p id="held-queue" data-waiting=v.held.waiting.to_string()>
                        {at.held_waiting}" "<strong>{v.held.waiting}</strong>
                        " ("{at.held_via}" "{v.held.via_continuity}")"
                        {v.held.oldest.map(|o| format!(" · {} {}", at.held_oldest, long_date(o, tz, lang)))}
                    </p>
                }.into_any()
            }}
            {v.report.clone().map(|r| view! {
                <h3>{at.report_title}</h3>
                <p class="muted" id="report-window">
                    {match r.end {
                        Some(end) => format!(
                            "{} {} {} {}",
                            at.report_from,
                            long_date(r.start, tz, lang),
                            at.report_to,
                            long_date(end, tz, lang)
                        ),
                        None => format!(
                            "{} {}, {}",
                            at.report_since,
                            long_date(r.start, tz, lang),
                            at.report_ongoing
                        ),
                    }}
                </p>
                {if r.lines.is_empty() {
                    view! { <p id="report-empty">{at.report_empty}</p> }.into_any()
                } else {
                    view! {
                        <table class="users" id="report">
                            <thead><tr>
                                <th>{at.r_user}</th><th>{at.r_held}</th><th>{at.r_delivered}</th>
                                <th>{at.r_pending}</th><th>{at.r_failed}</th><th>{at.r_sent}</th>
                            </tr></thead>
                            <tbody>
                                {r.lines.into_iter().map(|l| view! {
                                    <tr data-user=l.address.clone()>
                                        <td>{l.address.clone()}</td><td>{l.held}</td><td>{l.delivered}</td>
                                        <td>{l.pending}</td><td>{l.failed}</td><td>{l.sent}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            })}
            <WebhookPanel
                base=base.clone()
                csrf=csrf.clone()
                url=v.webhook.clone()
                secret=v.webhook_secret.clone()
                log=v.webhook_log.clone()
            />
            <crate::pages::notify::NoticesPanel base=base.clone() csrf=csrf.clone() v=v.notices.clone()/>
            <crate::pages::security::UsersSecondFactor base=base.clone() csrf=csrf.clone() required=v.users_second_factor/>
            {(!v.timeline.is_empty()).then(|| view! {
                <h3>{at.timeline}</h3>
                <ul class="audit" id="timeline">
                    {v.timeline.iter().map(|t| view! {
                        <li>
                            <time>{long_date(t.at, tz, lang)}</time>" · "{mode_name(lang, &t.from)}" → "{mode_name(lang, &t.to)}" · "
                            {let (said, detail) = reason_text(lang, &Reason::parse(&t.reason));
                            view! {
                                {said}
                                <Detail text=detail/>
                            }}
                        </li>
                    }).collect_view()}
                </ul>
            })}
        </section>
        <section class="card" id="audit">
            <h2>{at.audit}</h2>
            <ul class="audit">
                {v.audit.iter().map(|e| view! {
                    <li>
                        <time>{long_date(e.at, tz, lang)}</time>" · "{e.actor.clone()}" · "{e.action.clone()}
                        {(!e.before.is_empty() || !e.after.is_empty()).then(|| view! {
                            <span class="muted">" ("{e.before.clone()}" → "{e.after.clone()}")"</span>
                        })}
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
}

/// The extended view opened by **Ajouter**: type at least three characters,
/// pick a suggestion, **Ajouter**.
#[component]
fn AddUser(
    domain: String,
    base: String,
    csrf: String,
    typed: String,
    error: Option<&'static str>,
) -> impl IntoView {
    let at = use_lang().a();
    let text = RwSignal::new(typed.clone());
    let d = domain.clone();
    let suggestions = Resource::new(
        move || text.get(),
        move |fragment| {
            let d = d.clone();
            async move {
                if fragment.trim().chars().count() < 3 {
                    Ok(Vec::new())
                } else {
                    suggest(d, fragment).await
                }
            }
        },
    );
    view! {
        <form method="post" action=format!("{base}/users/add") class="add-user" id="add-user">
            <input type="hidden" name="csrf" value=csrf/>
            <label>
                {at.select_user}
                <input type="text" name="address" id="select-user" autocomplete="off"
                    value=typed minlength="3" required
                    on:input=move |ev| text.set(event_target_value(&ev))
                    prop:value=move || text.get()/>
            </label>
            <p class="muted">{at.autocomplete_hint}</p>
            {error.map(|e| view! { <p class="alert error" role="alert" id="add-error">{e}</p> })}
            <Transition>
                {move || suggestions.get().and_then(|r| r.ok()).filter(|s| !s.is_empty()).map(|list| view! {
                    <ul class="suggestions" id="suggestions" role="listbox">
                        {list.into_iter().map(|s| {
                            let a = s.address.clone();
                            view! {
                                <li role="option">
                                    <button type="button" class="suggestion"
                                        on:click=move |_| text.set(a.clone())>
                                        {s.address.clone()}
                                        {(!s.display_name.is_empty()).then(|| view! { <span class="muted">" — "{s.display_name.clone()}</span> })}
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                })}
            </Transition>
            <button type="submit" class="primary" id="add-submit">{at.add}</button>
        </form>
    }
}
