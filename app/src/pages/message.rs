//! `/mail/m/:id`: one message. Headers, the text body, or the HTML body in
//! a sandboxed frame served by `/mail/m/:id/body` (its own CSP: no scripts,
//! no remote loads until "show remote content"), attachments as downloads,
//! the original .eml, mark as unread.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::backend::{MailView, Viewer};
use crate::components::shell::{folder_label, use_lang, ErrorBox, MailShell};
use crate::i18n::{long_date, size, TzOffset};
use crate::mail::read_mail;

#[component]
pub fn MessagePage() -> impl IntoView {
    view! { <MailShell><MessageBody/></MailShell> }
}

#[component]
fn MessageBody() -> impl IntoView {
    let params = use_params_map();
    let q = use_query_map();
    let id = move || {
        params
            .with(|p| p.get("id"))
            .and_then(|s| s.parse::<i64>().ok())
    };
    let mail = Resource::new(id, |id| async move {
        match id {
            Some(id) => read_mail(id).await,
            None => Err(crate::backend::BackendError::NotFound),
        }
    });
    let remote = move || q.with(|q| q.get("remote")).as_deref() == Some("1");
    view! {
        <Transition fallback=|| view! { <p class="loading">"…"</p> }>
            {move || Suspend::new(async move {
                match mail.await {
                    Ok(m) => view! { <Message m remote=remote()/> }.into_any(),
                    Err(e) => {
                        #[cfg(feature = "ssr")]
                        if e == crate::backend::BackendError::NotFound {
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
fn Message(m: MailView, remote: bool) -> impl IntoView {
    let lang = use_lang();
    let t = lang.t();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    let csrf = use_context::<Viewer>().map(|v| v.csrf).unwrap_or_default();
    let id = m.id;
    let folders = use_context::<Viewer>()
        .map(|v| v.counts.folders)
        .unwrap_or_default();
    let back: (String, String) = match m.folder.as_str() {
        "sent" => ("/mail/sent".into(), t.sent.into()),
        "trash" => ("/mail/trash".into(), t.trash.into()),
        key => match folders.iter().find(|f| key == format!("f{}", f.id)) {
            Some(f) => (f.href(), folder_label(f, t)),
            None => ("/mail/inbox".into(), t.inbox.into()),
        },
    };
    // where it can go: the Inbox and the user's folders, not where it is
    let targets: Vec<(String, String)> =
        std::iter::once(("inbox".to_string(), t.inbox.to_string()))
            .chain(folders.iter().map(|f| {
                let label = match f.special {
                    Some(_) => folder_label(f, t),
                    None => f.name.clone(),
                };
                (format!("f{}", f.id), label)
            }))
            .filter(|(key, _)| *key != m.folder)
            .collect();
    let movable = !matches!(m.folder.as_str(), "trash" | "sent") && !targets.is_empty();
    let in_trash = m.folder == "trash";
    let subject = if m.subject.trim().is_empty() {
        t.no_subject.to_string()
    } else {
        m.subject.clone()
    };
    let header = |label: &'static str, value: String| {
        (!value.is_empty()).then(|| view! { <dt>{label}</dt><dd>{value}</dd> })
    };
    let body_src = if remote {
        format!("/mail/m/{id}/body?remote=1")
    } else {
        format!("/mail/m/{id}/body")
    };
    let date = m.date.unwrap_or(m.received_at);
    // it was just marked read: the folder counts change (browser only)
    Effect::new(move |_| crate::components::shell::refresh_counts());
    view! {
        <article class="message" id="message">
            <p class="back"><A href=back.0.clone() attr:data-key="u">"← "{t.back_to}" "{back.1}</A></p>
            <h1 id="message-subject">{subject}</h1>
            {m.during_outage.then(|| view! { <p class="via">{t.via_continuity}</p> })}
            <dl class="headers">
                {header(t.from, m.from.clone())}
                {header(t.to, m.to.clone())}
                {header(t.cc, m.cc.clone())}
                {header(t.reply_to, m.reply_to.clone())}
                {header(t.date, long_date(date, tz, lang))}
            </dl>
            <div class="actions">
                <A href=format!("/mail/compose?mode=reply&ref={id}") attr:id="reply" attr:data-key="r">{t.reply}</A>
                <A href=format!("/mail/compose?mode=replyall&ref={id}") attr:id="reply-all" attr:data-key="a">{t.reply_all}</A>
                <A href=format!("/mail/compose?mode=forward&ref={id}") attr:id="forward" attr:data-key="f">{t.forward}</A>
                <form method="post" action=format!("/mail/m/{id}/seen")>
                    <input type="hidden" name="csrf" value=csrf.clone()/>
                    <input type="hidden" name="seen" value="0"/>
                    <input type="hidden" name="next" value=back.0.clone()/>
                    <button type="submit">{t.mark_unread}</button>
                </form>
                <a href=format!("/mail/m/{id}/raw") rel="external" download="" id="download-eml">
                    {t.download_eml}
                </a>
                {if in_trash {
                    view! {
                        <form method="post" action=format!("/mail/m/{id}/restore")>
                            <input type="hidden" name="csrf" value=csrf.clone()/>
                            <button type="submit" id="restore">{t.restore}</button>
                        </form>
                        <form method="post" action=format!("/mail/m/{id}/delete")>
                            <input type="hidden" name="csrf" value=csrf.clone()/>
                            <button type="submit" id="delete-forever">{t.delete_forever}</button>
                        </form>
                    }.into_any()
                } else {
                    view! {
                        <form method="post" action=format!("/mail/m/{id}/trash")>
                            <input type="hidden" name="csrf" value=csrf.clone()/>
                            <button type="submit" id="move-to-trash" data-key="#">{t.move_to_trash}</button>
                        </form>
                    }.into_any()
                }}
                {movable.then(|| view! {
                    <form method="post" action=format!("/mail/m/{id}/move") id="move-form">
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <label for="move-to" class="muted">{t.move_to}</label>
                        " "
                        <select name="to" id="move-to">
                            {targets.into_iter().map(|(key, label)| view! { <option value=key>{label}</option> }).collect_view()}
                        </select>
                        " "
                        <button type="submit" id="move-submit">{t.move_do}</button>
                    </form>
                })}
            </div>
            {(m.has_html && m.remote_blocked > 0 && !remote).then(|| view! {
                <p class="alert notice" id="remote-blocked">
                    {t.remote_blocked}" "
                    <a href=format!("/mail/m/{id}?remote=1") id="show-remote">{t.show_remote}</a>
                </p>
            })}
            {(m.has_html && remote).then(|| view! { <p class="muted" id="remote-shown">{t.remote_shown}</p> })}
            {if m.has_html {
                view! {
                    <iframe class="mailbody" id="mail-html" src=body_src title=t.subject
                        sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"
                        referrerpolicy="no-referrer"></iframe>
                }.into_any()
            } else {
                view! { <pre class="mailtext" id="mail-text">{m.text.clone()}</pre> }.into_any()
            }}
            {(!m.attachments.is_empty()).then(|| view! {
                <section class="attachments" id="attachments">
                    <h2>{t.attachments}</h2>
                    <ul>
                        {m.attachments.iter().map(|a| view! {
                            <li>
                                <a href=format!("/mail/m/{id}/part/{}", a.part) rel="external" download=a.name.clone()>
                                    {a.name.clone()}
                                </a>
                                <span class="muted">" · "{a.content_type.clone()}" · "{size(a.size, lang)}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                </section>
            })}
        </article>
    }
}
