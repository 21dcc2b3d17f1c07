//! `/mail/drafts`: what the user has written and not sent — saved by the
//! compose page as they type (and by every post of its form) — the last
//! changed first; each opens in the compose page, each can be discarded
//! (a plain form post: works without JavaScript).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::backend::{DraftSummary, Viewer};
use crate::components::shell::{use_lang, ErrorBox, MailShell};
use crate::i18n::{short_date, TzOffset};
use crate::mail::list_drafts;
use crate::pages::mailbox::{now_ms, short_name};

#[component]
pub fn DraftsPage() -> impl IntoView {
    view! { <MailShell><DraftsBody/></MailShell> }
}

#[component]
fn DraftsBody() -> impl IntoView {
    let t = use_lang().t();
    let q = use_query_map();
    let list = Resource::new(move || q.with(|q| q.to_query_string()), |_| list_drafts());
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let done = (q.with_untracked(|q| q.get("done")).as_deref() == Some("discarded"))
        .then_some(t.done_discarded);
    let full = (q.with_untracked(|q| q.get("e")).as_deref() == Some("drafts")).then(|| {
        format!(
            "{} {}",
            t.ce_drafts,
            q.with_untracked(|q| q.get("why")).unwrap_or_default()
        )
    });
    view! {
        <h1 data-hydrated=move || hydrated.get().then_some("true")>{t.drafts}</h1>
        {done.map(|d| view! { <p class="alert notice" role="status" id="notice">{d}</p> })}
        {full.map(|e| view! { <p class="alert error" role="alert" id="error">{e}</p> })}
        <Transition fallback=|| view! { <p class="loading">"…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(items) => view! { <DraftList items/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn DraftList(items: Vec<DraftSummary>) -> impl IntoView {
    let lang = use_lang();
    let t = lang.t();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    let csrf = use_context::<Viewer>().map(|v| v.csrf).unwrap_or_default();
    let now = now_ms();
    if items.is_empty() {
        return view! { <p class="empty" id="mail-empty">{t.no_drafts}</p> }.into_any();
    }
    let rows = items
        .into_iter()
        .map(|d| {
            let subject = if d.subject.trim().is_empty() {
                t.no_subject.to_string()
            } else {
                d.subject.clone()
            };
            let to = short_name(&d.to);
            view! {
                <li class="mail draft" id=format!("draft-{}", d.id)>
                    <A href=format!("/mail/compose?draft={}", d.id)>
                        <span class="who" title=d.to.clone()>{to}</span>
                        <span class="subject">{subject}<span class="muted preview">" — "{d.preview.clone()}</span></span>
                        <span class="marks">
                            {(d.files > 0).then(|| view! { <span class="files">{d.files}" "{t.draft_files}</span> })}
                        </span>
                        <time class="when">{short_date(d.updated_at, now, tz, lang)}</time>
                    </A>
                    <form method="post" action=format!("/mail/drafts/{}/discard", d.id) class="discard">
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <button type="submit" class="discard-draft">{t.discard_draft}</button>
                    </form>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="maillist drafts" id="mail-list">{rows}</ul> }.into_any()
}
