//! Email Live Tracking: `/admin/tracking` (an operator's or a domain
//! admin's view), `/admin/tracking/m/:id` (one message's story, with
//! redelivery and download), and `/mail/tracking` (a user's own mail).
//! The filters are a GET form: every result page is a bookmarkable URL and
//! works without JavaScript.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::admin::{get_message_track, get_tracking};
use crate::backend::{AdminViewer, MessageTrack, TrackingLine, TrackingPage, TrackingQuery};
use crate::components::shell::{enc, use_lang, ErrorBox, MailShell};
use crate::i18n::{long_date, size, TzOffset};
use crate::mail::my_tracking;
use crate::pages::admin::AdminShell;

const KEYS: [&str; 11] = [
    "since",
    "until",
    "direction",
    "sender",
    "recipient",
    "subject",
    "status",
    "via",
    "domain",
    "order",
    "after",
];

fn query_of(q: &leptos_router::params::ParamsMap) -> TrackingQuery {
    let g = |k: &str| q.get(k).unwrap_or_default();
    TrackingQuery {
        since: g("since"),
        until: g("until"),
        direction: g("direction"),
        sender: g("sender"),
        recipient: g("recipient"),
        subject: g("subject"),
        status: g("status"),
        via: g("via"),
        domain: g("domain"),
        order: g("order"),
        after: g("after"),
    }
}

/// The query string of `q` (without the page cursor unless `after`).
fn query_string(q: &TrackingQuery, after: Option<&str>) -> String {
    let values = [
        &q.since,
        &q.until,
        &q.direction,
        &q.sender,
        &q.recipient,
        &q.subject,
        &q.status,
        &q.via,
        &q.domain,
        &q.order,
    ];
    let mut parts: Vec<String> = KEYS
        .iter()
        .zip(values)
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    if let Some(a) = after {
        parts.push(format!("after={}", enc(a)));
    }
    parts.join("&")
}

/// `/admin/tracking`
#[component]
pub fn AdminTrackingPage() -> impl IntoView {
    view! { <AdminShell><TrackingBody admin=true/></AdminShell> }
}

/// `/mail/tracking`
#[component]
pub fn MyTrackingPage() -> impl IntoView {
    view! { <MailShell><TrackingBody admin=false/></MailShell> }
}

#[component]
fn TrackingBody(admin: bool) -> impl IntoView {
    let lang = use_lang();
    let tr = lang.tr();
    let q = use_query_map();
    let page = Resource::new(
        move || q.with(query_of),
        move |query| async move {
            if admin {
                get_tracking(query).await
            } else {
                my_tracking(query).await
            }
        },
    );
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let base = if admin {
        "/admin/tracking"
    } else {
        "/mail/tracking"
    };
    view! {
        <h1 data-hydrated=move || hydrated.get().then_some("true")>
            {if admin { tr.title } else { tr.my_title }}
        </h1>
        <Transition fallback=|| view! { <p class="loading">"…"</p> }>
            {move || Suspend::new(async move {
                let query = q.with_untracked(query_of);
                match page.await {
                    Ok(p) => view! { <Filters query=query.clone() domains=p.domains.clone() admin base/><Results page=p query admin base/> }.into_any(),
                    Err(e) => view! { <Filters query domains=vec![] admin base/><ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Filters(
    query: TrackingQuery,
    domains: Vec<String>,
    admin: bool,
    base: &'static str,
) -> impl IntoView {
    let tr = use_lang().tr();
    let sel = |options: Vec<(&'static str, &'static str)>, name: &'static str, current: String| {
        view! {
            <select name=name>
                {options.into_iter().map(|(v, label)| view! {
                    <option value=v selected=current == v>{label}</option>
                }).collect_view()}
            </select>
        }
    };
    view! {
        <form method="get" action=base class="card filters" id="tracking-filters" role="search">
            <h2 class="visually-hidden">{tr.filters}</h2>
            <label>{tr.since}<input type="date" name="since" value=query.since.clone()/></label>
            <label>{tr.until}<input type="date" name="until" value=query.until.clone()/></label>
            <label>{tr.sender}<input type="text" name="sender" value=query.sender.clone()/></label>
            <label>{tr.recipient}<input type="text" name="recipient" value=query.recipient.clone()/></label>
            <label>{tr.subject}<input type="text" name="subject" value=query.subject.clone()/></label>
            <label>{tr.status}{sel(vec![
                ("", tr.any), ("queued", tr.queued), ("delivered", tr.delivered), ("delayed", tr.delayed),
                ("bounced", tr.bounced), ("expired", tr.expired), ("rejected", tr.rejected),
            ], "status", query.status.clone())}</label>
            <label>{tr.via}{sel(vec![("", tr.any), ("yes", tr.yes), ("no", tr.no)], "via", query.via.clone())}</label>
            {admin.then(|| view! {
                <label>{tr.direction}{sel(vec![("", tr.any), ("in", tr.inbound), ("out", tr.outbound)], "direction", query.direction.clone())}</label>
                <label>{tr.domain}
                    <select name="domain">
                        <option value="">{tr.all_domains}</option>
                        {domains.iter().map(|d| view! {
                            <option value=d.clone() selected=query.domain.eq_ignore_ascii_case(d)>{d.clone()}</option>
                        }).collect_view()}
                    </select>
                </label>
            })}
            <label>{tr.order}{sel(vec![("", tr.newest), ("oldest", tr.oldest)], "order", query.order.clone())}</label>
            <div class="buttons">
                <button type="submit" class="primary">{tr.apply}</button>
                <a href=base>{tr.reset}</a>
                {admin.then(|| view! {
                    <a href=format!("/admin/tracking.csv?{}", query_string(&query, None)) id="export-csv" download>{tr.export_csv}</a>
                })}
            </div>
        </form>
    }
}

#[component]
fn Results(
    page: TrackingPage,
    query: TrackingQuery,
    admin: bool,
    base: &'static str,
) -> impl IntoView {
    let lang = use_lang();
    let tr = lang.tr();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    if page.rows.is_empty() {
        return view! { <p class="empty" id="tracking-empty">{tr.none}</p> }.into_any();
    }
    let next = page
        .next
        .as_deref()
        .map(|n| format!("{base}?{}", query_string(&query, Some(n))));
    view! {
        <table class="tracking" id="tracking">
            <thead><tr>
                <th>{tr.time}</th><th>{tr.sender}</th><th>{tr.recipient}</th><th>{tr.subject}</th>
                <th>{tr.status}</th><th>{tr.reply}</th>
            </tr></thead>
            <tbody>
                {page.rows.into_iter().map(|r: TrackingLine| {
                    let link = (admin && !r.refused).then(|| r.message.map(|m| format!("/admin/tracking/m/{m}"))).flatten();
                    let subject = if r.subject.is_empty() { "—".to_string() } else { r.subject.clone() };
                    view! {
                        <tr class=format!("status-{}", r.status) data-status=r.status.clone()>
                            <td><time>{long_date(r.at, tz, lang)}</time></td>
                            <td>{r.mail_from.clone()}</td>
                            <td>{r.rcpt.clone()}</td>
                            <td>{match link {
                                Some(l) => view! { <A href=l>{subject}</A> }.into_any(),
                                None => view! { <span>{subject}</span> }.into_any(),
                            }}</td>
                            <td>
                                <span class=format!("badge {}", r.status)>{tr.status(&r.status)}</span>
                                {r.via_continuity.then(|| view! { <span class="badge via">{tr.via_mark}</span> })}
                            </td>
                            <td class="reply">{r.last_reply.clone()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {next.map(|n| view! { <p class="pager"><A href=n attr:id="tracking-next">{tr.more}" →"</A></p> })}
    }
    .into_any()
}

/// `/admin/tracking/m/:id`
#[component]
pub fn MessageTrackPage() -> impl IntoView {
    view! { <AdminShell><MessageTrackBody/></AdminShell> }
}

#[component]
fn MessageTrackBody() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .with(|p| p.get("id"))
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let q = use_query_map();
    let track = Resource::new(
        move || (id(), q.with(|q| q.to_query_string())),
        |(id, _)| get_message_track(id),
    );
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let tr = use_lang().tr();
    view! {
        <p><A href="/admin/tracking">"← "{tr.back}</A></p>
        <Transition fallback=|| view! { <p class="loading">"…"</p> }>
            {move || Suspend::new(async move {
                match track.await {
                    Ok(m) => view! { <Story m hydrated/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Story(m: MessageTrack, hydrated: RwSignal<bool>) -> impl IntoView {
    let lang = use_lang();
    let tr = lang.tr();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    let csrf = use_context::<AdminViewer>()
        .map(|a| a.csrf)
        .unwrap_or_default();
    let q = use_query_map();
    let done = q.with_untracked(|q| q.get("done")).unwrap_or_default();
    let err = q.with_untracked(|q| q.get("e")).unwrap_or_default();
    let subject = if m.subject.is_empty() {
        "—".to_string()
    } else {
        m.subject.clone()
    };
    view! {
        <h1 data-hydrated=move || hydrated.get().then_some("true")>{subject}</h1>
        {(done == "redeliver").then(|| view! { <p class="alert notice" role="status" id="redelivered">{tr.done_redeliver}</p> })}
        {(err == "redeliver").then(|| view! { <p class="alert error" role="alert">{tr.e_redeliver}</p> })}
        <section class="card" id="message-facts">
            <dl class="headers">
                <dt>{tr.sender}</dt><dd>{m.from.clone()}" <"{m.mail_from.clone()}">"</dd>
                <dt>{tr.time}</dt><dd>{long_date(m.received_at, tz, lang)}</dd>
                <dt>{tr.received_from}</dt>
                <dd>{m.client_ip.clone()}" ("{m.helo.clone()}")"{m.tls.then_some(" · TLS")}</dd>
                <dt>{tr.size}</dt><dd>{size(m.size, lang)}</dd>
            </dl>
            {if m.archived {
                view! { <a href=format!("/admin/tracking/m/{}/raw", m.id) id="download-eml" download>{tr.download}</a> }.into_any()
            } else {
                view! { <p class="muted">{tr.not_archived}</p> }.into_any()
            }}
        </section>
        <section class="card">
            <h2>{tr.deliveries}</h2>
            <table class="tracking" id="message-deliveries">
                <thead><tr><th>{tr.recipient}</th><th>{tr.status}</th><th>{tr.reply}</th><th></th></tr></thead>
                <tbody>
                    {m.deliveries.iter().map(|d| {
                        let final_ = matches!(d.status.as_str(), "delivered" | "bounced" | "expired");
                        view! {
                            <tr data-rcpt=d.rcpt.clone()>
                                <td>{d.rcpt.clone()}</td>
                                <td>
                                    <span class=format!("badge {}", d.status)>{tr.status(&d.status)}</span>
                                    {d.via_continuity.then(|| view! { <span class="badge via">{tr.via_mark}</span> })}
                                    <span class="muted">" ("{d.attempts}" "{tr.attempts}")"</span>
                                </td>
                                <td class="reply">{d.last_reply.clone()}</td>
                                <td>{(final_ && m.archived).then(|| view! {
                                    <form method="post" action=format!("/admin/tracking/d/{}/redeliver", d.id)>
                                        <input type="hidden" name="csrf" value=csrf.clone()/>
                                        <button type="submit" aria-label=format!("{} {}", tr.redeliver, d.rcpt)>{tr.redeliver}</button>
                                    </form>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="card">
            <h2>{tr.history}</h2>
            <ol class="timeline" id="message-timeline">
                {m.events.iter().map(|e| view! {
                    <li data-kind=e.kind.clone()>
                        <time>{long_date(e.at, tz, lang)}</time>" · "<strong>{tr.event(&e.kind)}</strong>
                        {(!e.rcpt.is_empty()).then(|| format!(" · {}", e.rcpt))}
                        {(!e.detail.is_empty()).then(|| view! { <span class="muted">" · "{e.detail.clone()}</span> })}
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}
