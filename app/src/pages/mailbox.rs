//! Folders (`/mail/inbox`, `/mail/sent`, `/mail/trash`, the user's own
//! `/mail/folder/{id}`) and search (`/mail/search`): newest first, 50 per
//! page, keyset paging through `?before=`. The trash can be emptied (after
//! a confirmation step).

use leptos::prelude::*;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::backend::{MailPage, MailSummary, SearchParams, Viewer};
use crate::components::shell::{enc, folder_label, use_lang, ErrorBox, MailShell};
use crate::i18n::{short_date, TzOffset};
use crate::mail::{list_mail, search_mail};

#[component]
pub fn InboxPage() -> impl IntoView {
    let t = use_lang().t();
    view! { <MailShell><FolderList folder="inbox".into() title=t.inbox.into()/></MailShell> }
}

#[component]
pub fn SentPage() -> impl IntoView {
    let t = use_lang().t();
    view! { <MailShell><FolderList folder="sent".into() title=t.sent.into()/></MailShell> }
}

#[component]
pub fn TrashPage() -> impl IntoView {
    let t = use_lang().t();
    view! { <MailShell><FolderList folder="trash".into() title=t.trash.into()/></MailShell> }
}

/// One of the user's own folders (`/mail/folder/{id}`).
#[component]
pub fn UserFolderPage() -> impl IntoView {
    let params = use_params_map();
    view! {
        <MailShell>
            {move || {
                let id = params.with(|p| p.get("id")).unwrap_or_default();
                view! { <UserFolder id/> }
            }}
        </MailShell>
    }
}

#[component]
fn UserFolder(id: String) -> impl IntoView {
    let t = use_lang().t();
    let title = use_context::<Viewer>()
        .and_then(|v| {
            v.counts
                .folders
                .iter()
                .find(|f| f.id.to_string() == id)
                .map(|f| match f.special {
                    Some(_) => folder_label(f, t),
                    None => f.name.clone(),
                })
        })
        .unwrap_or_default();
    view! { <FolderList folder=format!("f{id}") title/> }
}

#[component]
pub fn SearchPage() -> impl IntoView {
    view! { <MailShell><SearchBody/></MailShell> }
}

pub(crate) fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        leptos::web_sys::js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

#[component]
fn FolderList(folder: String, title: String) -> impl IntoView {
    let t = use_lang().t();
    let q = use_query_map();
    let key = folder.clone();
    let list = Resource::new(
        move || q.with(|q| q.get("before")),
        move |before| list_mail(key.clone(), before),
    );
    let base = match folder.strip_prefix('f') {
        Some(id) => format!("/mail/folder/{id}"),
        None => format!("/mail/{folder}"),
    };
    let folder = folder.as_str();
    // Effects run only in the browser: marks the page as hydrated (e2e tests).
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let sent = folder == "sent" && q.with_untracked(|q| q.get("sent")).as_deref() == Some("1");
    let done = match q.with_untracked(|q| q.get("done")).as_deref() {
        Some("trashed") => Some(t.done_trashed),
        Some("restored") => Some(t.done_restored),
        Some("deleted") => Some(t.done_deleted),
        Some("emptied") => Some(t.done_emptied),
        Some("moved") => Some(t.done_moved),
        _ => None,
    };
    let confirm_empty =
        folder == "trash" && q.with_untracked(|q| q.get("confirm")).as_deref() == Some("empty");
    let csrf = use_context::<Viewer>().map(|v| v.csrf).unwrap_or_default();
    let trash_tools = (folder == "trash").then(|| {
        view! {
            <p class="muted" id="trash-note">{t.trash_note}</p>
            {if confirm_empty {
                view! {
                    <div class="confirm warning" role="alertdialog" aria-labelledby="confirm-text" id="confirm-box">
                        <p id="confirm-text">{t.confirm_empty_trash}</p>
                        <form method="post" action="/mail/trash/empty">
                            <input type="hidden" name="csrf" value=csrf.clone()/>
                            <button type="submit" class="primary" id="empty-confirm">{t.empty_trash}</button>
                            " "
                            <a href="/mail/trash" rel="external">{t.cancel}</a>
                        </form>
                    </div>
                }.into_any()
            } else {
                view! {
                    <p><a href="/mail/trash?confirm=empty" rel="external" id="empty-trash">{t.empty_trash}</a></p>
                }.into_any()
            }}
        }
    });
    view! {
        <h1 data-hydrated=move || hydrated.get().then_some("true")>{title}</h1>
        {sent.then(|| view! { <p class="alert notice" role="status" id="sent-notice">{t.c_sent}</p> })}
        {done.map(|d| view! { <p class="alert notice" role="status" id="notice">{d}</p> })}
        {trash_tools}
        <Transition fallback=|| view! { <p class="loading">"…"</p> }>
            {move || {
                let base = base.clone();
                Suspend::new(async move {
                    match list.await {
                        Ok(page) => view! { <MailTable page base empty=t.empty_folder/> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// The list of messages and the pager.
#[component]
fn MailTable(page: MailPage, base: String, empty: &'static str) -> impl IntoView {
    let lang = use_lang();
    let t = lang.t();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    let now = now_ms();
    let sep = if base.contains('?') { '&' } else { '?' };
    let older = page
        .next
        .clone()
        .map(|c| format!("{base}{sep}before={}", enc(&c)));
    if page.items.is_empty() {
        return view! { <p class="empty" id="mail-empty">{empty}</p> }.into_any();
    }
    let rows = page
        .items
        .into_iter()
        .map(|m: MailSummary| {
            let href = format!("/mail/m/{}", m.id);
            let class = if m.seen { "mail" } else { "mail unread" };
            let subject = if m.subject.trim().is_empty() {
                t.no_subject.to_string()
            } else {
                m.subject.clone()
            };
            let who = if base.starts_with("/mail/sent") { &m.to } else { &m.from };
            let who_full = who.clone();
            let who = short_name(who);
            view! {
                <li class=class>
                    <A href=href>
                        <span class="who" title=who_full>{who}</span>
                        <span class="subject">{subject}</span>
                        <span class="marks">
                            {(m.attachments > 0).then(|| view! {
                                <svg class="clip" viewBox="0 0 24 24" width="16" height="16" role="img" aria-label=t.attachments>
                                    <title>{t.attachments}</title>
                                    <path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"
                                        d="M21 11.5l-8.5 8.5a5 5 0 0 1-7-7L14 4.5a3.5 3.5 0 0 1 5 5L10.5 18a2 2 0 0 1-3-3L15 7.5"/>
                                </svg>
                            })}
                            {m.during_outage.then(|| view! {
                                <span class="via" title=t.via_continuity>{t.via_continuity}</span>
                            })}
                        </span>
                        <time class="when">{short_date(m.received_at, now, tz, lang)}</time>
                    </A>
                </li>
            }
        })
        .collect_view();
    view! {
        <ul class="maillist" id="mail-list">{rows}</ul>
        <nav class="pager">
            {older.map(|href| view! { <A href=href attr:class="older" attr:id="older">{t.older}" →"</A> })}
        </nav>
    }
    .into_any()
}

/// "Name <addr>, Other <b>" -> "Name, Other" (the addresses stay in the title).
pub(crate) fn short_name(list: &str) -> String {
    list.split(", ")
        .map(|a| match a.rfind(" <") {
            Some(i) if a.ends_with('>') && i > 0 => a[..i].trim_matches('"').to_string(),
            _ => a.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn params_from_query(q: &leptos_router::params::ParamsMap) -> SearchParams {
    let g = |k: &str| q.get(k).unwrap_or_default();
    SearchParams {
        q: g("q"),
        from: g("from"),
        to: g("to"),
        subject: g("subject"),
        since: g("since"),
        until: g("until"),
        attachment: matches!(g("attachment").as_str(), "1" | "on" | "true"),
        folder: g("folder"),
    }
}

fn params_query(p: &SearchParams) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("q", &p.q),
        ("from", &p.from),
        ("to", &p.to),
        ("subject", &p.subject),
        ("since", &p.since),
        ("until", &p.until),
        ("folder", &p.folder),
    ] {
        if !v.is_empty() {
            parts.push(format!("{k}={}", enc(v)));
        }
    }
    if p.attachment {
        parts.push("attachment=1".into());
    }
    parts.join("&")
}

#[component]
fn SearchBody() -> impl IntoView {
    let t = use_lang().t();
    let q = use_query_map();
    let params = move || q.with(params_from_query);
    let results = Resource::new(
        move || (params(), q.with(|q| q.get("before"))),
        |(p, before)| async move {
            if p.is_empty() {
                Ok(None)
            } else {
                search_mail(p, before).await.map(Some)
            }
        },
    );
    let p0 = q.with_untracked(params_from_query);
    view! {
        <h1>{t.search}</h1>
        <Form method="GET" action="/mail/search" attr:class="search" attr:role="search">
            <label class="wide">
                {t.search_words}
                <input type="search" name="q" value=p0.q.clone() id="search-q" data-key="/"/>
            </label>
            <label>{t.from}<input type="text" name="from" value=p0.from.clone()/></label>
            <label>{t.to}<input type="text" name="to" value=p0.to.clone()/></label>
            <label>{t.subject}<input type="text" name="subject" value=p0.subject.clone()/></label>
            <label>{t.since}<input type="date" name="since" value=p0.since.clone()/></label>
            <label>{t.until}<input type="date" name="until" value=p0.until.clone()/></label>
            <label>
                {t.folder}
                <select name="folder">
                    <option value="" selected=p0.folder.is_empty()>{t.all_folders}</option>
                    <option value="inbox" selected=p0.folder == "inbox">{t.inbox}</option>
                    <option value="sent" selected=p0.folder == "sent">{t.sent}</option>
                    <option value="trash" selected=p0.folder == "trash">{t.trash}</option>
                </select>
            </label>
            <label class="check">
                <input type="checkbox" name="attachment" value="1" checked=p0.attachment/>
                {t.has_attachment}
            </label>
            <button type="submit" class="primary">{t.search}</button>
        </Form>
        <Transition fallback=|| view! { <p class="loading">"…"</p> }>
            {move || Suspend::new(async move {
                match results.await {
                    Ok(Some(page)) => {
                        let base = format!("/mail/search?{}", params_query(&params()));
                        view! { <MailTable page base empty=t.no_results/> }.into_any()
                    }
                    Ok(None) => ().into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}
