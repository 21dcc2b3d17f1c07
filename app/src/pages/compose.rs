//! `/mail/compose`: a new message (`?mode=reply|replyall|forward&ref=ID`
//! for a reply or forward of one of the user's messages, `?draft=ID` to go
//! on with a draft). A plain form posting to `/mail/send` — it works
//! without JavaScript; a refused send comes back here with its draft and
//! the reason.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::backend::{ComposeFile, ComposeView, Viewer};
use crate::components::shell::{use_lang, ErrorBox, MailShell};
use crate::i18n::size;
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
    let lang = use_lang();
    let t = lang.t();
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
        "files" => Some(format!("{} {}", t.ce_files, size(v.files_budget, lang))),
        "nfiles" => Some(format!("{} {}", t.ce_nfiles, get("why"))),
        "unavailable" => Some(t.ce_unavailable.to_string()),
        "notcovered" => Some(t.ce_notcovered.to_string()),
        "quota" => Some(format!(
            "{} {}",
            t.ce_quota,
            size(get("why").parse().unwrap_or(0), lang)
        )),
        _ => None,
    };
    let saved = get("saved") == "1";
    // what the enhanced page updates without a reload
    let draft = RwSignal::new(v.draft);
    let files = RwSignal::new(v.files.clone());
    let progress = RwSignal::new(None::<u32>);
    let live_error = RwSignal::new(None::<String>);
    let autosaved = RwSignal::new(false);
    let dirty = RwSignal::new(false);
    let enhanced = RwSignal::new(false);
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let files_ref = NodeRef::<leptos::html::Input>::new();
    let budget = v.files_budget;
    // a forward's ticked files join the draft at its first save
    let forwarded_shown = RwSignal::new(!v.forwarded.is_empty());
    let ctx = Enhance {
        form_ref,
        files_ref,
        draft,
        files,
        progress,
        live_error,
        autosaved,
        forwarded_shown,
        budget,
        lang,
    };
    Effect::new(move |_| {
        enhanced.set(true);
        ctx.start_autosave(dirty);
    });
    view! {
        {error.map(|e| view! { <p class="alert error" role="alert" id="compose-error">{e}</p> })}
        {saved.then(|| view! { <p class="alert notice" role="status" id="draft-saved">{t.c_saved}</p> })}
        <form method="post" action="/mail/send" enctype="multipart/form-data" class="card compose stack"
              id="compose" novalidate node_ref=form_ref on:input=move |_| dirty.set(true)>
            // suggestions while typing, from the browser itself (no script needed)
            <datalist id="contacts">
                {v.contacts.iter().map(|a| view! { <option value=a.clone()></option> }).collect_view()}
            </datalist>
            <input type="hidden" name="csrf" value=csrf/>
            <input type="hidden" name="reference" value=v.reference.map(|r| r.to_string()).unwrap_or_default()/>
            <input type="hidden" name="mode" value=v.mode.clone()/>
            <input type="hidden" name="draft" id="compose-draft" prop:value=move || draft.get().to_string() value=v.draft.to_string()/>
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
                <fieldset id="forwarded" hidden=move || !forwarded_shown.get()>
                    <legend>{t.attachments}</legend>
                    <input type="hidden" name="fwd_listed" value="1"/>
                    {v.forwarded.iter().map(|f| view! {
                        <label class="inline">
                            <input type="checkbox" name="keep_fwd" value=f.id.to_string() checked/>
                            {format!("{} ({})", f.name, size(f.size, lang))}
                        </label>
                    }).collect_view()}
                </fieldset>
            })}
            <div id="compose-files" class="stack">
                <ul id="attached">
                    <For each=move || files.get() key=|f| f.id let:f>
                        <li data-file=f.id.to_string()>
                            <span>{format!("{} ({})", f.name, size(f.size, lang))}</span>" "
                            <button type="submit" name="action" value=format!("remove-{}", f.id) class="link"
                                    on:click=move |ev| ctx.remove(ev, f.id)>{t.c_remove}</button>
                        </li>
                    </For>
                </ul>
                <label>{t.c_files}
                    <input type="file" name="files" id="compose-file-input" multiple node_ref=files_ref
                           on:change=move |_| ctx.upload()/>
                </label>
                <p class="muted">{format!("{} {}", t.c_files_hint, size(budget, lang))}</p>
                {move || progress.get().map(|p| view! {
                    <p role="status" id="upload-progress">{t.c_uploading}" "<progress max="100" value=p.to_string()></progress>" "{format!("{p} %")}</p>
                })}
                {move || live_error.get().map(|e| view! { <p class="alert error" role="alert" id="upload-error">{e}</p> })}
                // without JavaScript the files go with this button (or with Send)
                <button type="submit" name="action" value="attach" id="compose-attach" hidden=move || enhanced.get()>{t.c_attach}</button>
            </div>
            <div class="buttons">
                <button type="submit" name="action" value="send" class="primary" id="compose-send">{t.c_send}</button>
                <button type="submit" name="action" value="save" id="compose-save">{t.c_save}</button>
                <button type="submit" name="action" value="discard" id="compose-discard" formnovalidate>{t.discard_draft}</button>
                {move || autosaved.get().then(|| view! { <span class="muted" role="status" id="autosaved">{t.c_autosaved}</span> })}
            </div>
        </form>
    }
}

/// The enhanced page: files upload as soon as they are chosen (with
/// progress), a file is removed in place, and the draft saves itself every
/// few seconds after a change — all through the same `POST /mail/send` the
/// plain form uses, asking for JSON.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
struct Enhance {
    form_ref: NodeRef<leptos::html::Form>,
    files_ref: NodeRef<leptos::html::Input>,
    draft: RwSignal<i64>,
    files: RwSignal<Vec<ComposeFile>>,
    progress: RwSignal<Option<u32>>,
    live_error: RwSignal<Option<String>>,
    autosaved: RwSignal<bool>,
    forwarded_shown: RwSignal<bool>,
    budget: i64,
    lang: crate::i18n::Lang,
}

/// What `POST /mail/send` answers the enhanced page.
#[derive(serde::Deserialize)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
struct DraftReply {
    draft: i64,
    #[serde(default)]
    files: Vec<ComposeFile>,
    error: Option<String>,
    #[serde(default)]
    detail: String,
}

impl Enhance {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn apply(self, r: DraftReply) {
        let t = self.lang.t();
        self.draft.set(r.draft);
        self.files.set(r.files);
        self.forwarded_shown.set(false);
        self.live_error.set(r.error.map(|e| match e.as_str() {
            "files" => format!("{} {}", t.ce_files, size(self.budget, self.lang)),
            "nfiles" => format!("{} {}", t.ce_nfiles, r.detail),
            "quota" => format!(
                "{} {}",
                t.ce_quota,
                size(r.detail.parse().unwrap_or(0), self.lang)
            ),
            _ => t.c_upload_failed.to_string(),
        }));
    }

    fn upload(self) {
        #[cfg(feature = "hydrate")]
        {
            let empty = self
                .files_ref
                .get_untracked()
                .and_then(|i| i.files())
                .is_none_or(|f| f.length() == 0);
            if !empty {
                self.post("upload", true);
            }
        }
    }

    fn remove(self, ev: leptos::ev::MouseEvent, id: i64) {
        #[cfg(feature = "hydrate")]
        {
            ev.prevent_default();
            self.post(&format!("remove-{id}"), false);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, id);
    }

    fn start_autosave(self, dirty: RwSignal<bool>) {
        #[cfg(feature = "hydrate")]
        {
            let handle = leptos::prelude::set_interval_with_handle(
                move || {
                    if dirty.get_untracked() && self.progress.get_untracked().is_none() {
                        dirty.set(false);
                        self.post("autosave", false);
                    }
                },
                std::time::Duration::from_secs(5),
            );
            if let Ok(h) = handle {
                on_cleanup(move || h.clear());
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = dirty;
    }

    /// Post the whole form with `action`; `upload`: show its progress and
    /// clear the file input once the files are in.
    #[cfg(feature = "hydrate")]
    fn post(self, action: &str, upload: bool) {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let Some(form) = self.form_ref.get_untracked() else {
            return;
        };
        let Ok(data) = web_sys::FormData::new_with_form(&form) else {
            return;
        };
        let _ = data.set_with_str("action", action);
        if !upload {
            // the file input's selection is uploaded on its own
            data.delete("files");
        }
        let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
            return;
        };
        if xhr.open("POST", "/mail/send").is_err() {
            return;
        }
        let _ = xhr.set_request_header("Accept", "application/json");
        if upload {
            self.progress.set(Some(0));
            self.live_error.set(None);
            if let Ok(up) = xhr.upload() {
                let progress = self.progress;
                let on_progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(
                    move |e: web_sys::ProgressEvent| {
                        if e.length_computable() && e.total() > 0.0 {
                            progress.set(Some((e.loaded() / e.total() * 100.0).round() as u32));
                        }
                    },
                );
                up.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
                on_progress.forget();
            }
        }
        let autosave = action == "autosave";
        let x = xhr.clone();
        let on_done = Closure::<dyn FnMut()>::new(move || {
            if upload {
                self.progress.set(None);
                if let Some(input) = self.files_ref.get_untracked() {
                    input.set_value("");
                }
            }
            let ok = x.status().map(|s| s == 200).unwrap_or(false);
            let text = x.response_text().ok().flatten().unwrap_or_default();
            match serde_json::from_str::<DraftReply>(&text) {
                Ok(r) if ok => {
                    self.autosaved.set(autosave && r.error.is_none());
                    self.apply(r);
                }
                _ => self
                    .live_error
                    .set(Some(self.lang.t().c_upload_failed.to_string())),
            }
        });
        xhr.set_onloadend(Some(on_done.as_ref().unchecked_ref()));
        on_done.forget();
        let _ = xhr.send_with_opt_form_data(Some(&data));
    }
}
