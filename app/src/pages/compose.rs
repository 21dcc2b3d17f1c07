//! `/mail/compose`: a new message (`?mode=reply|replyall|forward&ref=ID`
//! for a reply or forward of one of the user's messages, `?draft=ID` to go
//! on with a draft). A plain form posting to `/mail/send` — it works
//! without JavaScript; a refused send comes back here with its draft and
//! the reason.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::backend::{ComposeView, Viewer};
use crate::components::shell::{use_lang, ErrorBox, MailShell};
use crate::mail::get_compose;

#[component]
pub fn ComposePage() -> impl IntoView {
    view! { <MailShell><ComposeBody/></MailShell> }
}

#[component]
fn ComposeBody() -> impl IntoView {
    let q = use_query_map();
    let res = Resource::new(
        move || {
            q.with(|q| {
                (
                    q.get("mode").unwrap_or_default(),
                    q.get("ref").and_then(|r| r.parse::<i64>().ok()),
                    q.get("draft").and_then(|d| d.parse::<i64>().ok()),
                )
            })
        },
        |(mode, reference, draft)| get_compose(mode, reference, draft),
    );
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let t = use_lang().t();
    view! {
        <h1 data-hydrated=move || hydrated.get().then_some("true")>{t.new_message}</h1>
        <Transition fallback=|| view! { <p class="loading">"…"</p> }>
            {move || Suspend::new(async move {
                match res.await {
                    Ok(v) => view! { <ComposeForm v/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ComposeForm(v: ComposeView) -> impl IntoView {
    let t = use_lang().t();
    let csrf = use_context::<Viewer>().map(|v| v.csrf).unwrap_or_default();
    let q = use_query_map();
    let get = move |k: &str| q.with_untracked(|q| q.get(k)).unwrap_or_default();
    let error = match get("e").as_str() {
        "address" => Some(format!("{} {}", t.ce_address, get("why"))),
        "norcpt" => Some(t.ce_norcpt.to_string()),
        "toomany" => Some(format!("{} {}", t.ce_toomany, get("why"))),
        "from" => Some(t.ce_from.to_string()),
        "subject" => Some(t.ce_subject.to_string()),
        "size" => Some(t.ce_size.to_string()),
        "rate" => Some(format!("{} {}", t.ce_rate, get("why"))),
        "unavailable" => Some(t.ce_unavailable.to_string()),
        _ => None,
    };
    let saved = get("saved") == "1";
    view! {
        {error.map(|e| view! { <p class="alert error" role="alert" id="compose-error">{e}</p> })}
        {saved.then(|| view! { <p class="alert notice" role="status" id="draft-saved">{t.c_saved}</p> })}
        <form method="post" action="/mail/send" class="card compose stack" id="compose" novalidate>
            // suggestions while typing, from the browser itself (no script needed)
            <datalist id="contacts">
                {v.contacts.iter().map(|a| view! { <option value=a.clone()></option> }).collect_view()}
            </datalist>
            <input type="hidden" name="csrf" value=csrf/>
            <input type="hidden" name="reference" value=v.reference.map(|r| r.to_string()).unwrap_or_default()/>
            <input type="hidden" name="mode" value=v.mode.clone()/>
            <input type="hidden" name="draft" value=v.draft.to_string()/>
            <label>{t.c_from}
                <select name="from" id="compose-from">
                    {v.from_options.iter().map(|a| view! {
                        <option value=a.clone() selected=a.eq_ignore_ascii_case(&v.from)>{a.clone()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>{t.c_to}<input type="text" list="contacts" name="to" id="compose-to" value=v.to.clone() autocomplete="email" aria-describedby="compose-hint"/></label>
            <label>{t.c_cc}<input type="text" list="contacts" name="cc" id="compose-cc" value=v.cc.clone()/></label>
            <label>{t.c_bcc}<input type="text" list="contacts" name="bcc" id="compose-bcc" value=v.bcc.clone()/></label>
            <p class="muted" id="compose-hint">{t.c_hint}</p>
            <label>{t.c_subject}<input type="text" name="subject" id="compose-subject" value=v.subject.clone() maxlength="400"/></label>
            <label>{t.c_body}<textarea name="body" id="compose-body" rows="16">{v.body.clone()}</textarea></label>
            {(!v.forwarded.is_empty()).then(|| view! {
                <div id="forwarded">
                    <p class="muted">{t.attachments}</p>
                    <ul>{v.forwarded.iter().map(|a| view! { <li>{a.clone()}</li> }).collect_view()}</ul>
                </div>
            })}
            <div class="buttons">
                <button type="submit" name="action" value="send" class="primary" id="compose-send">{t.c_send}</button>
                <button type="submit" name="action" value="save" id="compose-save">{t.c_save}</button>
            </div>
        </form>
    }
}
