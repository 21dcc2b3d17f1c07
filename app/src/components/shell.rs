//! The frame around every logged-in page: top bar (who, language, log out),
//! the continuity banner, the folder navigation with counts, and the skip
//! link. Not logged in: a redirect to the login page (works without
//! JavaScript: the server answers with a 302).

use leptos::prelude::*;
use leptos_router::components::{Redirect, A};
use leptos_router::hooks::use_location;

use crate::backend::{BackendError, FolderInfo, FolderUse, Viewer};
use crate::i18n::Lang;
use crate::mail::{get_counts, get_viewer};

/// The language of this page.
pub fn use_lang() -> Lang {
    use_context::<Lang>().unwrap_or_default()
}

/// Percent-encode for a query value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The current path and query (to come back to after a login or a switch).
fn here() -> String {
    let loc = use_location();
    let path = loc.pathname.get_untracked();
    let search = loc.search.get_untracked();
    if search.is_empty() {
        path
    } else {
        format!("{path}?{search}")
    }
}

/// A link that switches the language (served by the server, full reload).
#[component]
pub fn LangSwitch() -> impl IntoView {
    let lang = use_lang();
    let other = lang.other();
    let href = format!("/lang/{}?next={}", other.code(), enc(&here()));
    view! {
        <a class="lang" href=href rel="external" hreflang=other.code() lang=other.code()>
            {lang.t().switch_to}
        </a>
    }
}

/// A translated error box.
#[component]
pub fn ErrorBox(error: BackendError) -> impl IntoView {
    let t = use_lang().t();
    view! {
        <div class="alert error" role="alert">
            <strong>{t.error_title}</strong>
            " — "
            {error.message(t)}
        </div>
    }
}

/// Bumped by a page that changed the counts (reading marks a message
/// read); the folder counts are fetched again.
#[derive(Clone, Copy)]
pub struct CountsVersion(pub RwSignal<u32>);

/// Tell the folder counts to refresh.
pub fn refresh_counts() {
    if let Some(v) = use_context::<CountsVersion>() {
        v.0.update(|n| *n += 1);
    }
}

/// The logged-in frame. `children` is rendered with the [`Viewer`] in context.
#[component]
pub fn MailShell(children: ChildrenFn) -> impl IntoView {
    let viewer = Resource::new(|| (), |_| get_viewer());
    provide_context(CountsVersion(RwSignal::new(0)));
    let lang = use_lang();
    let login = format!("/login?expired=1&next={}", enc(&here()));
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"…"</p> }>
            {move || {
                let login = login.clone();
                Suspend::new(async move {
                    match viewer.await {
                        Ok(Some(v)) => {
                            provide_context(v.clone());
                            view! {
                                <TopBar v=v.clone()/>
                                <Banner v=v.clone()/>
                                <div class="layout">
                                    <Nav v=v.clone()/>
                                    <main id="content" tabindex="-1">
                                        {children.with_value(|c| c())}
                                    </main>
                                </div>
                            }
                                .into_any()
                        }
                        Ok(None) | Err(BackendError::Unauthorized) => {
                            view! {
                                <p class="alert">{lang.t().session_expired}</p>
                                <Redirect path=login/>
                            }
                                .into_any()
                        }
                        Err(e) => view! { <main><ErrorBox error=e/></main> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn TopBar(v: Viewer) -> impl IntoView {
    let t = use_lang().t();
    let name = if v.display_name.is_empty() {
        v.address.clone()
    } else {
        format!("{} <{}>", v.display_name, v.address)
    };
    view! {
        <a class="skip" href="#content">{t.skip_to_content}</a>
        <header class="topbar">
            <A href="/mail/inbox" attr:class="brand">"Continuity"</A>
            <span class="who" title=v.address.clone()>{name}</span>
            <crate::components::shortcuts::Shortcuts/>
            <LangSwitch/>
            <form method="post" action="/auth/logout" class="logout">
                <input type="hidden" name="csrf" value=v.csrf.clone()/>
                <button type="submit">{t.log_out}</button>
            </form>
        </header>
    }
}

/// The continuity banner. In the browser it asks again every 20 seconds, so
/// it appears (or goes) while the page is open, without a reload.
#[component]
fn Banner(v: Viewer) -> impl IntoView {
    let t = use_lang().t();
    let tick = RwSignal::new(0u32);
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = set_interval_with_handle(
            move || tick.update(|n| *n += 1),
            std::time::Duration::from_secs(20),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    let state = Resource::new(move || tick.get(), |_| get_viewer());
    let first = v.domain_state.clone();
    let current = move || {
        state
            .get()
            .and_then(|r| r.ok())
            .flatten()
            .map(|v| v.domain_state)
            .unwrap_or_else(|| first.clone())
    };
    view! {
        <Transition>
            {move || {
                let (class, text) = match current().as_str() {
                    "outage" => ("banner outage", Some(t.banner_outage)),
                    "drill" => ("banner drill", Some(t.banner_drill)),
                    "recovering" => ("banner recovering", Some(t.banner_recovering)),
                    _ => ("banner", None),
                };
                text.map(|text| view! { <div class=class role="status" id="continuity-banner">{text}</div> })
            }}
        </Transition>
    }
}

#[component]
fn Nav(v: Viewer) -> impl IntoView {
    let t = use_lang().t();
    let location = use_location();
    // Reading a message changes the counts: fetch them again on every move.
    let version = use_context::<CountsVersion>().map(|v| v.0);
    let counts = Resource::new(
        move || (location.pathname.get(), version.map(|v| v.get())),
        |_| get_counts(),
    );
    let first = v.counts.inbox_unseen;
    let unseen = move || {
        counts
            .get()
            .and_then(|r| r.ok())
            .map(|c| c.inbox_unseen)
            .unwrap_or(first)
    };
    let first_folders = v.counts.folders.clone();
    let folders = move || {
        counts
            .get()
            .and_then(|r| r.ok())
            .map(|c| c.folders)
            .unwrap_or_else(|| first_folders.clone())
    };
    view! {
        <nav class="folders" aria-label=t.folders>
            <A href="/mail/inbox">
                {t.inbox}
                <Transition>
                    {move || (unseen() > 0).then(|| view! {
                        <span class="count" title=t.unread id="unseen-count">{unseen()}</span>
                    })}
                </Transition>
            </A>
            <A href="/mail/compose" attr:id="nav-compose" attr:class="compose" attr:data-key="c">{t.new_message}</A>
            <A href="/mail/sent">{t.sent}</A>
            <A href="/mail/drafts" attr:id="nav-drafts">{t.drafts}</A>
            <A href="/mail/trash" attr:id="nav-trash">{t.trash}</A>
            <Transition>
                {move || folders().into_iter().map(|f| {
                    let unseen = f.unseen;
                    let label = folder_label(&f, t);
                    let (href, depth, name) = (f.href(), f.depth(), f.name);
                    view! {
                        <A href=href attr:class="sub" attr:style=format!("--depth:{depth}")
                            attr:title=name.clone() attr:data-folder=name>
                            <span class="name">{label}</span>
                            {(unseen > 0).then(|| view! { <span class="count" title=t.unread>{unseen}</span> })}
                        </A>
                    }
                }).collect_view()}
            </Transition>
            <A href="/mail/folders" attr:id="nav-folders">{t.folders}"…"</A>
            <A href="/mail/tracking">{use_lang().tr().my_title}</A>
            <A href="/mail/search" attr:data-key="/">{t.search}</A>
            <A href="/settings">{t.settings}</A>
        </nav>
    }
}

/// How the webmail names one of the user's folders: its last level, or
/// in the viewer's language for the folders mail apps use (Junk, Archive)
/// while they keep their usual name.
pub fn folder_label(f: &FolderInfo, t: &crate::i18n::Strings) -> String {
    match (f.special, f.name.as_str()) {
        (Some(FolderUse::Junk), "Junk") => t.junk.to_string(),
        (Some(FolderUse::Archive), "Archive") => t.archive.to_string(),
        _ => f.leaf().to_string(),
    }
}

/// A technical detail for administrators (a probe's or a library's own
/// words), kept behind a "details" disclosure so the page reads in the
/// viewer's language; nothing when there is none.
#[component]
pub fn Detail(text: Option<String>) -> impl IntoView {
    let at = use_lang().a();
    text.filter(|d| !d.trim().is_empty()).map(|d| {
        view! { " " <details class="detail"><summary>{at.details}</summary><code>{d}</code></details> }
    })
}
