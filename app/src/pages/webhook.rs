//! The Continuity Service page's webhook panel: where state changes are
//! posted, its latest notifications, the form that sets or removes it
//! (the server's `web::webhook_forms`), the signing secret shown once
//! and a refusal in the viewer's language.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::backend::WebhookEntry;
use crate::components::shell::{use_lang, Detail};
use crate::i18n::refusals_text;

#[component]
pub fn WebhookPanel(
    /// The domain's Continuity Service page.
    base: String,
    csrf: String,
    url: Option<String>,
    secret: Option<String>,
    log: Vec<WebhookEntry>,
) -> impl IntoView {
    let lang = use_lang();
    let at = lang.a();
    let q = use_query_map();
    let get = move |k: &str| q.with_untracked(|q| q.get(k)).unwrap_or_default();
    let refused = get("e") == "webhook";
    view! {
        <h3 id="webhook-section">{at.webhook_title}</h3>
        {refused.then(|| view! {
            <p class="alert error" role="alert" id="webhook-error">
                {at.e_webhook}" "
                {refusals_text(lang, &q.with_untracked(|q| q.get_all("why")).unwrap_or_default())}
            </p>
        })}
        {secret.map(|secret| view! {
            <p class="alert notice" role="status" id="webhook-secret">
                {at.webhook_secret_once}" "<code>{secret}</code>
            </p>
        })}
        {match url.clone() {
            None => view! { <p class="muted" id="webhook">{at.webhook_none}</p> }.into_any(),
            Some(url) => view! {
                <p id="webhook">{at.webhook_to}" "<code>{url}</code></p>
                <ul class="audit" id="webhook-log">
                    {log.iter().map(|w| {
                        let status = match w.status.as_str() { "delivered" => at.wh_delivered, "failed" => at.wh_failed, _ => at.wh_pending };
                        view! {
                            <li class=format!("webhook {}", w.status)>
                                "#"{w.id}" · "<code>{w.event.clone()}</code>" · "{status}" ("{w.attempts}" "{at.wh_attempts}")"
                                <Detail text=Some(w.last_error.clone())/>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any(),
        }}
        <form method="post" action=format!("{base}/webhook") class="webhook-form" id="webhook-form">
            <input type="hidden" name="csrf" value=csrf.clone()/>
            <label>{at.webhook_url}" "
                <input type="url" name="url" id="webhook-url" inputmode="url" autocomplete="off"
                    value=if refused { get("url") } else { url.clone().unwrap_or_default() }/>
            </label>
            <button type="submit" name="action" value="save" id="webhook-save">{at.webhook_save}</button>
            {url.is_some().then(|| view! {
                " "<button type="submit" name="action" value="remove" id="webhook-remove">{at.webhook_remove}</button>
            })}
        </form>
        <p class="hint">{at.webhook_hint}</p>
    }
}
