//! `/mail/folders`: the user's own folders — make one (levels with `/`),
//! rename one, delete one after a confirmation step. Plain form posts
//! (they work without JavaScript); a refusal comes back as `?error=` with
//! what was typed, said here in the viewer's language. The same folders
//! are what mail apps see over IMAP.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::backend::{FolderCounts, FolderInfo, Viewer};
use crate::components::shell::{folder_label, use_lang, ErrorBox, MailShell};
use crate::mail::get_counts;

#[component]
pub fn FoldersPage() -> impl IntoView {
    view! { <MailShell><FoldersBody/></MailShell> }
}

#[component]
fn FoldersBody() -> impl IntoView {
    let t = use_lang().t();
    let q = use_query_map();
    let list = Resource::new(move || q.with(|q| q.to_query_string()), |_| get_counts());
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let done = match q.with_untracked(|q| q.get("done")).as_deref() {
        Some("created") => Some(t.done_folder_created),
        Some("renamed") => Some(t.done_folder_renamed),
        Some("deleted") => Some(t.done_folder_deleted),
        _ => None,
    };
    let error = match q.with_untracked(|q| q.get("error")).as_deref() {
        Some("empty") => Some(t.folder_err_empty),
        Some("long") => Some(t.folder_err_long),
        Some("character") => Some(t.folder_err_character),
        Some("reserved") => Some(t.folder_err_reserved),
        Some("exists") => Some(t.folder_err_exists),
        Some("children") => Some(t.folder_err_children),
        Some("below") => Some(t.folder_err_below),
        Some("many") => Some(t.folder_err_many),
        _ => None,
    };
    let typed = q.with_untracked(|q| q.get("name")).unwrap_or_default();
    let csrf = use_context::<Viewer>().map(|v| v.csrf).unwrap_or_default();
    view! {
        <h1 data-hydrated=move || hydrated.get().then_some("true")>{t.folders}</h1>
        <p class="muted" id="folders-note">{t.folders_note}</p>
        {done.map(|d| view! { <p class="alert notice" role="status" id="notice">{d}</p> })}
        {error.map(|e| view! { <p class="alert error" role="alert" id="error">{e}</p> })}
        <form method="post" action="/mail/folders/create" class="folder-create" id="folder-create">
            <input type="hidden" name="csrf" value=csrf.clone()/>
            <label for="folder-name">{t.folder_new}</label>
            <input type="text" id="folder-name" name="name" required maxlength="1000"
                value=typed aria-describedby="folder-name-hint"/>
            <button type="submit" class="primary" id="folder-create-submit">{t.folder_create}</button>
        </form>
        <p class="muted" id="folder-name-hint">{t.folder_name_hint}</p>
        <Transition fallback=|| view! { <p class="loading">"…"</p> }>
            {move || {
                let csrf = csrf.clone();
                Suspend::new(async move {
                    match list.await {
                        Ok(c) => view! { <FolderTable counts=c csrf/> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn FolderTable(counts: FolderCounts, csrf: String) -> impl IntoView {
    let t = use_lang().t();
    let q = use_query_map();
    let confirm = q.with_untracked(|q| q.get("confirm"));
    if counts.folders.is_empty() {
        return view! { <p class="empty" id="folders-empty">{t.no_folders}</p> }.into_any();
    }
    let row = move |f: FolderInfo| {
        let id = f.id;
        let label = folder_label(&f, t);
        let asked = confirm.as_deref() == Some(id.to_string().as_str());
        let csrf = csrf.clone();
        view! {
            <tr data-folder=f.name.clone()>
                <td>
                    <a href=f.href() style=format!("padding-inline-start:{}rem", f.depth())>{label}</a>
                    <span class="muted">" · "{f.total}" "{t.messages}</span>
                </td>
                <td>
                    <form method="post" action=format!("/mail/folders/{id}/rename")>
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="text" name="name" required maxlength="1000" value=f.name.clone()
                            aria-label=format!("{} {}", t.folder_rename, f.name)/>
                        <button type="submit" class="rename">{t.folder_rename}</button>
                    </form>
                </td>
                <td>
                    {if asked {
                        view! {
                            <div class="confirm warning" role="alertdialog" aria-labelledby="confirm-text" id="confirm-box">
                                <p id="confirm-text">{t.folder_delete_confirm}</p>
                                <form method="post" action=format!("/mail/folders/{id}/delete")>
                                    <input type="hidden" name="csrf" value=csrf/>
                                    <button type="submit" class="primary" id="delete-confirm">{t.folder_delete_do}</button>
                                    " "
                                    <a href="/mail/folders" rel="external">{t.cancel}</a>
                                </form>
                            </div>
                        }.into_any()
                    } else {
                        view! {
                            <a href=format!("/mail/folders?confirm={id}") rel="external" class="delete">{t.folder_delete}</a>
                        }.into_any()
                    }}
                </td>
            </tr>
        }
    };
    view! {
        <table class="folder-list" id="folder-list">
            <tbody>{counts.folders.into_iter().map(row).collect_view()}</tbody>
        </table>
    }
    .into_any()
}
