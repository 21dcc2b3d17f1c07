//! Users told of starts and ends: the Settings card where a user gives a
//! backup address (proved by a link) and a mobile (proved by a texted
//! code), and the Control Panel's panel — the domain's switches, who was
//! told of its last event on which channel and what failed, and sending
//! that again. Plain form posts (the server's `web::notify_forms`).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::backend::{ContactPointView, ContactsView, NoticesView};
use crate::components::shell::{use_lang, Detail};
use crate::i18n::{long_date, NotifyStrings, TzOffset};

/// The Settings card.
#[component]
pub fn ContactsSection() -> impl IntoView {
    let view = Resource::new(|| (), |_| crate::mail::get_contacts());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                view.await.ok().map(|v| view! { <Contacts v/> })
            })}
        </Suspense>
    }
}

fn source_note(n: &'static NotifyStrings, p: &ContactPointView) -> Option<&'static str> {
    match p.source.as_str() {
        "admin" => Some(n.by_admin),
        "directory" => Some(n.by_directory),
        _ => None,
    }
}

#[component]
fn Contacts(v: ContactsView) -> impl IntoView {
    let n = use_lang().nt();
    let q = use_query_map();
    let get = move |k: &str| q.with_untracked(|q| q.get(k)).unwrap_or_default();
    let done = match get("contact").as_str() {
        "email" => Some(n.done_email),
        "email-verified" => Some(n.done_email_verified),
        "mobile" => Some(n.done_mobile),
        "mobile-verified" => Some(n.done_mobile_verified),
        "removed" => Some(n.done_removed),
        _ => None,
    };
    let error = match get("ce").as_str() {
        "address" => Some(n.e_address),
        "own" => Some(n.e_own),
        "mobile" => Some(n.e_mobile),
        "no-gateway" => Some(n.no_sms),
        "not-sent" => Some(n.e_not_sent),
        "code" => Some(n.e_code),
        "link" => Some(n.e_link),
        "unavailable" => Some(n.e_unavailable),
        _ => None,
    };
    let csrf = v.csrf.clone();
    let email_state = v.alt_email.as_ref().map(|p| {
        let note = source_note(n, p);
        view! {
            <p class="muted" id="alt-email-state" data-verified=p.verified.to_string()>
                {if p.verified { n.email_verified } else { n.email_waiting }}
                {note.map(|t| view! { " "{t} })}
            </p>
        }
    });
    let mobile_state = v.mobile.as_ref().map(|p| {
        let note = source_note(n, p);
        view! {
            <p class="muted" id="mobile-state" data-verified=p.verified.to_string()>
                {if p.verified { n.mobile_verified } else { n.mobile_unverified }}
                {note.map(|t| view! { " "{t} })}
            </p>
        }
    });
    let code_form = (v.mobile_waiting && v.mobile.as_ref().is_some_and(|p| !p.verified)).then(|| {
        view! {
            <form method="post" action="/settings/contacts/mobile/confirm" class="stack">
                <input type="hidden" name="csrf" value=csrf.clone()/>
                <label>
                    {n.mobile_waiting}
                    <input type="text" name="code" id="mobile-code" required autocomplete="one-time-code"
                        inputmode="numeric" maxlength="8"/>
                </label>
                <div class="buttons"><button type="submit" id="mobile-confirm">{n.confirm}</button></div>
            </form>
        }
    });
    view! {
        <section class="card" id="contacts">
            <h2>{n.title}</h2>
            <p class="muted">{n.intro}</p>
            {done.map(|d| view! { <p class="alert notice" role="status" id="contacts-done">{d}</p> })}
            {error.map(|e| view! { <p class="alert error" role="alert" id="contacts-error">{e}</p> })}
            <form method="post" action="/settings/contacts/email" class="stack">
                <input type="hidden" name="csrf" value=csrf.clone()/>
                <label>
                    {n.alt_email}
                    <input type="email" name="value" id="alt-email" autocomplete="email"
                        value=v.alt_email.as_ref().map(|p| p.value.clone()).unwrap_or_default()/>
                </label>
                {email_state}
                <div class="buttons">
                    <button type="submit" name="action" value="save" id="alt-email-save">{n.save}</button>
                    {v.alt_email.is_some().then(|| view! {
                        <button type="submit" name="action" value="remove">{n.remove}</button>
                    })}
                </div>
            </form>
            {if v.sms || v.mobile.is_some() {
                view! {
                    <form method="post" action="/settings/contacts/mobile" class="stack">
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <label>
                            {n.mobile}
                            <input type="tel" name="value" id="mobile" autocomplete="tel"
                                value=v.mobile.as_ref().map(|p| p.value.clone()).unwrap_or_default()/>
                        </label>
                        {mobile_state}
                        <div class="buttons">
                            <button type="submit" name="action" value="save" id="mobile-save">{n.save}</button>
                            {v.mobile.is_some().then(|| view! {
                                <button type="submit" name="action" value="remove">{n.remove}</button>
                            })}
                        </div>
                    </form>
                    {code_form}
                }
                .into_any()
            } else {
                view! { <p class="muted" id="no-sms">{n.no_sms}</p> }.into_any()
            }}
        </section>
    }
}

/// The Control Panel's panel on a domain's Continuity Service page.
#[component]
pub fn NoticesPanel(base: String, csrf: String, v: NoticesView) -> impl IntoView {
    let lang = use_lang();
    let n = lang.nt();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    let q = use_query_map();
    let resent = q.with_untracked(|q| q.get("resent"));
    let lines = v
        .lines
        .iter()
        .map(|l| {
            let status = match l.status.as_str() {
                "queued" => n.st_queued,
                "sent" => n.st_sent,
                "failed" => n.st_failed,
                _ => n.st_skipped,
            };
            let why = match l.detail.as_str() {
                "quiet" => Some(n.why_quiet.to_string()),
                "cap" => Some(n.why_cap.to_string()),
                "no-gateway" => Some(n.why_no_gateway.to_string()),
                "failing-domain" => Some(n.why_failing.to_string()),
                _ => None,
            };
            let technical = (why.is_none() && l.status == "failed").then(|| l.detail.clone());
            view! {
                <tr data-notice=format!("{}:{}:{}", l.user, l.kind, l.channel) data-status=l.status.clone()>
                    <td>{l.user.clone()}</td>
                    <td>{if l.kind == "start" { n.start } else { n.end }}" · "<time>{long_date(l.at, tz, lang)}</time></td>
                    <td>{if l.channel == "sms" { "SMS" } else { n.email }}" "<code>{l.address.clone()}</code></td>
                    <td>
                        {status}
                        {why.map(|w| view! { " ("{w}")" })}
                        {l.delivery.clone().map(|d| view! { " · "{n.delivery}" "{d} })}
                        <Detail text=technical/>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h3 id="notices-section">{n.cp_title}</h3>
        <p class="muted">{n.cp_intro}</p>
        {resent.map(|k| view! { <p class="alert notice" role="status" id="notices-resent">{n.done_resent}" "{k}</p> })}
        {(!v.sms).then(|| view! { <p class="hint" id="notices-no-sms">{n.cp_no_sms}</p> })}
        <form method="post" action=format!("{base}/notify") class="stack" id="notify-form">
            <input type="hidden" name="csrf" value=csrf.clone()/>
            <label class="check">
                <input type="checkbox" name="users" value="on" id="notify-users" checked=v.users_on/>
                " "{n.cp_on}
            </label>
            <label class="check">
                <input type="checkbox" name="drills" value="on" id="notify-drills" checked=v.drills_on/>
                " "{n.cp_drills}
            </label>
            <div class="buttons"><button type="submit" id="notify-save">{n.cp_save}</button></div>
        </form>
        {if v.lines.is_empty() {
            view! { <p class="muted" id="notices-none">{n.cp_none}</p> }.into_any()
        } else {
            view! {
                <table class="list" id="notices">
                    <thead><tr>
                        <th>{n.cp_user}</th><th>{n.cp_event}</th><th>{n.cp_channel}</th><th>{n.cp_status}</th>
                    </tr></thead>
                    <tbody>{lines}</tbody>
                </table>
                <form method="post" action=format!("{base}/notify/resend")>
                    <input type="hidden" name="csrf" value=csrf.clone()/>
                    <button type="submit" id="notices-resend">{n.resend}</button>
                </form>
            }
            .into_any()
        }}
    }
}
