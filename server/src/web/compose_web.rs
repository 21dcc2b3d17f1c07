//! The webmail's compose: what a new message, a reply, a reply-all or a
//! forward starts from (computed from the user's own archived message, never
//! from hidden form fields), and `POST /mail/send` (send, or save as a
//! draft). A refused send keeps everything typed as a draft and says why.
//!
//! Sent mail goes through the same path as inbound mail: archived, tracked,
//! filed in the sender's Sent; recipients in protected domains get it in
//! their continuity mailbox and, in turn, at their primary; others go out
//! through the outbound route (the smarthost); and, unless
//! `web.copy_sent_to_primary` is off, the sender's own primary gets a copy
//! (held during an outage, delivered once).

use super::backend::unavailable;
use super::compose_form;
use super::forms::{client_ip, csrf_ok, enc, forbidden_form, require_session, see_other};
use super::WebState;
use crate::compose::{self, ComposeError, Draft};
use crate::relay::{self, Outgoing, RelayError, Sender};
use crate::store::draft_mirror::mirror_key;
use crate::store::drafts::DraftRow;
use crate::store::{Origin, Store, StoreError, UserId};
use actix_web::{web, HttpRequest, HttpResponse};
use app::backend::{BackendError, ComposeFile, ComposeView};

/// Abuse limits of the webmail (per user).
pub const MAX_RECIPIENTS: usize = 100;
pub const MAX_SIZE: usize = 25 * 1024 * 1024;
/// Files of one message together: base64 makes them a third larger, so
/// this much fits in [`MAX_SIZE`] with the text.
pub const FILES_BUDGET: usize = MAX_SIZE / 4 * 3 - 512 * 1024;

/// The original message of a reply or forward (the user's own entry).
struct Original {
    from: String,
    reply_to: String,
    to: String,
    cc: String,
    subject: String,
    date: String,
    text: String,
    message_id: Option<String>,
    references: Vec<String>,
    attachments: Vec<compose::Attachment>,
}

async fn original(store: &Store, user: UserId, entry: i64) -> Result<Original, BackendError> {
    let raw = store
        .entry_raw(user, entry)
        .await
        .map_err(unavailable)?
        .ok_or(BackendError::NotFound)?;
    tokio::task::spawn_blocking(move || {
        let r = super::render::render(&raw);
        let parsed = mail_parser::MessageParser::default().parse(&raw);
        let (message_id, references) = match &parsed {
            Some(m) => (
                m.message_id().map(str::to_string),
                m.references()
                    .as_text_list()
                    .map(|l| l.iter().map(|s| s.to_string()).collect())
                    .or_else(|| m.references().as_text().map(|s| vec![s.to_string()]))
                    .unwrap_or_default(),
            ),
            None => (None, Vec::new()),
        };
        let date = parsed
            .as_ref()
            .and_then(|m| m.date().map(|d| d.to_rfc822()))
            .unwrap_or_default();
        Original {
            attachments: compose::attachments_of(&raw),
            from: r.from,
            reply_to: r.reply_to,
            to: r.to,
            cc: r.cc,
            subject: r.subject,
            date,
            text: r.text,
            message_id,
            references,
        }
    })
    .await
    .map_err(|_| BackendError::Unavailable)
}

/// Addresses of a rendered list ("Name <a>, b") minus `skip`.
fn others(list: &str, skip: &[String]) -> Vec<String> {
    compose::parse_list(list)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| !skip.iter().any(|s| s.eq_ignore_ascii_case(a)))
        .collect()
}

/// A forward's original attachments as the form lists them.
fn forwarded_files(list: &[compose::Attachment]) -> Vec<ComposeFile> {
    list.iter()
        .enumerate()
        .map(|(i, a)| ComposeFile {
            id: i as i64,
            name: a.name.clone(),
            size: a.data.len() as i64,
        })
        .collect()
}

async fn files_of(
    store: &Store,
    user: UserId,
    draft: i64,
) -> Result<Vec<ComposeFile>, BackendError> {
    Ok(store
        .draft_files(user, draft)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|f| ComposeFile {
            id: f.id,
            name: f.name,
            size: f.size,
        })
        .collect())
}

/// What the compose form shows.
pub async fn view(
    store: &Store,
    user: UserId,
    mode: &str,
    reference: Option<i64>,
    draft: Option<i64>,
    lang: app::i18n::Lang,
) -> Result<ComposeView, BackendError> {
    let own = store.own_addresses(user).await.map_err(unavailable)?;
    let contacts = store.contacts(user, 300).await.map_err(unavailable)?;
    let mut v = ComposeView {
        contacts,
        files_budget: FILES_BUDGET as i64,
        from: own.first().cloned().unwrap_or_default(),
        from_options: own.clone(),
        mode: "new".into(),
        ..Default::default()
    };
    if let Some(id) = draft {
        let d = store
            .draft(user, id)
            .await
            .map_err(unavailable)?
            .ok_or(BackendError::NotFound)?;
        v.draft = d.id;
        if own.iter().any(|o| o.eq_ignore_ascii_case(&d.from)) {
            v.from = d.from;
        }
        v.to = d.to;
        v.cc = d.cc;
        v.bcc = d.bcc;
        v.subject = d.subject;
        v.body = d.body;
        v.reference = d.ref_entry;
        v.mode = d.mode;
        v.files = files_of(store, user, d.id).await?;
        if v.mode == "forward" && !d.forward_done {
            if let Some(entry) = v.reference {
                v.forwarded = forwarded_files(&original(store, user, entry).await?.attachments);
            }
        }
        return Ok(v);
    }
    let Some(entry) = reference else {
        return Ok(v);
    };
    let o = original(store, user, entry).await?;
    v.reference = Some(entry);
    match mode {
        "reply" | "replyall" => {
            let to = if o.reply_to.is_empty() {
                &o.from
            } else {
                &o.reply_to
            };
            let mut to_list = others(to, &own);
            if to_list.is_empty() {
                // a reply to one's own message goes where it went (to
                // oneself when it was sent to oneself), as other webmails do
                to_list = others(&o.to, &own);
                if to_list.is_empty() {
                    to_list = others(&o.to, &[]);
                }
            }
            if mode == "replyall" {
                for a in others(&o.to, &own) {
                    if !to_list.contains(&a) {
                        to_list.push(a);
                    }
                }
                v.cc = others(&o.cc, &own)
                    .into_iter()
                    .filter(|a| !to_list.contains(a))
                    .collect::<Vec<_>>()
                    .join(", ");
            }
            v.to = to_list.join(", ");
            v.subject = compose::reply_subject(&o.subject);
            v.body = compose::quote(&format!("{}, {}:", o.date, o.from), &o.text);
            v.mode = mode.into();
        }
        "forward" => {
            v.subject = compose::forward_subject(&o.subject);
            v.body =
                compose::forward_header(lang, &o.from, &o.date, &o.subject, &o.to, &o.cc, &o.text);
            v.mode = "forward".into();
            v.forwarded = forwarded_files(&o.attachments);
        }
        _ => return Err(BackendError::Invalid("unknown compose mode".into())),
    }
    Ok(v)
}

fn code(e: &ComposeError) -> &'static str {
    match e {
        ComposeError::BadAddress(_) => "address",
        ComposeError::NoRecipient => "norcpt",
        ComposeError::TooMany(..) => "toomany",
        ComposeError::NotYourAddress => "from",
        ComposeError::BadSubject => "subject",
        ComposeError::TooLarge(..) => "size",
    }
}

/// The enhanced page (uploads, autosave) asks for JSON instead of a redirect.
fn wants_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Where the form goes after an action that keeps the draft open: back to
/// it (with a notice or an error), or, for the enhanced page, the draft as
/// JSON.
async fn back_to_draft(
    state: &WebState,
    user: UserId,
    json: bool,
    draft: i64,
    notice: &str,
    error: Option<(&'static str, String)>,
) -> HttpResponse {
    let store = &state.store;
    if let Err(e) = mirror(store, &state.hostname, user, draft).await {
        // the draft is saved; mail apps see it at its next save
        tracing::warn!(error = %e, user = %user, draft, "cannot show a draft in the Drafts folder");
    }
    if json {
        let files = files_of(store, user, draft).await.unwrap_or_default();
        return HttpResponse::Ok().json(serde_json::json!({
            "draft": draft,
            "files": files.iter().map(|f| serde_json::json!({"id": f.id, "name": f.name, "size": f.size})).collect::<Vec<_>>(),
            "error": error.as_ref().map(|(c, _)| *c),
            "detail": error.as_ref().map(|(_, d)| d.clone()).unwrap_or_default(),
            "saved_at": crate::store::now_ms(),
        }));
    }
    let mut loc = format!("/mail/compose?draft={draft}");
    if !notice.is_empty() {
        loc.push_str(&format!("&{notice}=1"));
    }
    if let Some((code, detail)) = error {
        loc.push_str(&format!("&e={code}&why={}", enc(&detail)));
    }
    see_other(&loc)
}

/// Show a draft to mail apps: its message in the Drafts folder, written
/// again only when what the draft holds changed since.
pub(super) async fn mirror(
    store: &Store,
    hostname: &str,
    user: UserId,
    draft: i64,
) -> Result<(), StoreError> {
    let Some(row) = store.draft(user, draft).await? else {
        return Ok(());
    };
    if store.drafts_folder(user).await?.is_none() {
        // at the folder limit without one: the webmail's alone
        return Ok(());
    }
    let files = store.draft_files(user, draft).await?;
    let key = mirror_key(&row, &files.iter().map(|f| f.id).collect::<Vec<_>>());
    if store.mirror_stale(user, draft, &key).await? != Some(true) {
        return Ok(());
    }
    let attachments = store
        .draft_file_data(user, draft)
        .await?
        .into_iter()
        .map(|(f, data)| compose::Attachment {
            content_type: f.content_type,
            name: f.name,
            data,
        })
        .collect();
    let name = store
        .account(user)
        .await?
        .map(|a| a.display_name)
        .unwrap_or_default();
    let d = Draft {
        from: row.from,
        to: row.to,
        cc: row.cc,
        bcc: row.bcc,
        subject: row.subject,
        body: row.body,
        attachments,
        ..Draft::default()
    };
    let raw = compose::build_draft(&d, &name, hostname);
    store.mirror_draft(user, draft, &raw, &key).await?;
    Ok(())
}

/// POST /mail/send — every button of the compose form, one handler. The
/// form comes urlencoded, or multipart with files. Whatever happens, what
/// was typed and attached is first kept as a draft; then:
/// `action=send` builds and sends it (the draft goes once sent), `save`
/// and `attach` come back to it, `remove-<id>` drops one of its files; the
/// enhanced page posts `upload` and `autosave` and gets JSON.
pub async fn send(
    req: HttpRequest,
    state: web::Data<WebState>,
    payload: web::Payload,
) -> HttpResponse {
    let session = match require_session(&req) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let json = wants_json(&req);
    let posted = match compose_form::read(&req, payload, FILES_BUDGET).await {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(error = %e, "unreadable compose form");
            return HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body(e.to_string());
        }
    };
    if !csrf_ok(&session, &posted.get("csrf")) {
        return forbidden_form(&req);
    }
    let user = UserId(session.user);
    let store = &state.store;
    let action = posted.get("action");
    let mode = posted.get("mode");
    let reference: Option<i64> = posted.get("reference").trim().parse().ok();
    let row = DraftRow {
        id: posted.get("draft").trim().parse().unwrap_or(0),
        from: posted.get("from"),
        to: posted.get("to"),
        cc: posted.get("cc"),
        bcc: posted.get("bcc"),
        subject: posted.get("subject"),
        body: posted.get("body"),
        ref_entry: reference,
        mode: mode.clone(),
        forward_done: false,
    };
    // Discard: the draft and its files go (nothing is kept of this post)
    if action == "discard" {
        if row.id > 0 {
            let _ = store.discard_draft(user, row.id).await;
        }
        if json {
            return HttpResponse::Ok().json(serde_json::json!({"discarded": true}));
        }
        return see_other("/mail/drafts?done=discarded");
    }
    // 1. keep everything as a draft first: nothing typed or attached is lost
    let Ok((drafts, draft_bytes)) = store.draft_usage(user).await else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let existing = row.id > 0 && matches!(store.draft(user, row.id).await, Ok(Some(_)));
    let (max_drafts, files_quota) = (
        i64::from(state.quotas.max_drafts),
        state.quotas.draft_files as i64,
    );
    if !existing && drafts >= max_drafts {
        tracing::info!(user = %user, drafts, "draft refused: quota");
        if json {
            return HttpResponse::Conflict()
                .json(serde_json::json!({"error": "drafts", "max": max_drafts}));
        }
        return see_other(&format!("/mail/drafts?e=drafts&why={max_drafts}"));
    }
    let Ok(draft) = store.save_draft(user, &row).await else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let Ok(Some(saved)) = store.draft(user, draft).await else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    // a forward's original files: those still ticked join the draft, once
    if mode == "forward" && !saved.forward_done {
        if let Some(entry) = reference {
            if let Ok(o) = original(store, user, entry).await {
                let listed = posted.get("fwd_listed") == "1";
                let keep = posted.all("keep_fwd");
                for (i, a) in o.attachments.iter().enumerate() {
                    if listed && !keep.contains(&i.to_string()) {
                        continue;
                    }
                    if store
                        .add_draft_file(user, draft, &a.name, &a.content_type, &a.data)
                        .await
                        .is_err()
                    {
                        return HttpResponse::ServiceUnavailable().finish();
                    }
                }
            }
            let _ = store.mark_forward_done(user, draft).await;
        }
    }
    // 2. new files, within the budget
    let Ok(files) = store.draft_files(user, draft).await else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let have: usize = files.iter().map(|f| f.size.max(0) as usize).sum();
    let adding: usize = posted.uploads.iter().map(|u| u.data.len()).sum();
    let mut error = None;
    if posted.files_refused || have + adding > FILES_BUDGET {
        error = Some(("files", FILES_BUDGET.to_string()));
    } else if adding > 0 && draft_bytes.saturating_add(adding as i64) > files_quota {
        error = Some(("quota", files_quota.to_string()));
    } else if files.len() + posted.uploads.len() > compose_form::MAX_FILES {
        error = Some(("nfiles", compose_form::MAX_FILES.to_string()));
    } else {
        for u in &posted.uploads {
            if store
                .add_draft_file(user, draft, &u.name, &u.content_type, &u.data)
                .await
                .is_err()
            {
                return HttpResponse::ServiceUnavailable().finish();
            }
        }
    }
    if let Some(file) = action
        .strip_prefix("remove-")
        .and_then(|id| id.parse::<i64>().ok())
    {
        let _ = store.remove_draft_file(user, draft, file).await;
        return back_to_draft(&state, user, json, draft, "", error).await;
    }
    if error.is_some() || action != "send" {
        let notice = if action == "save" { "saved" } else { "" };
        return back_to_draft(&state, user, json, draft, notice, error).await;
    }
    // 3. send
    let fail = |code: &'static str, detail: String| {
        back_to_draft(&state, user, json, draft, "", Some((code, detail)))
    };
    let max_per_hour = state.relay.max_per_hour;
    let Ok(Some((account, sent))) = store.sender(user, 3_600_000, max_per_hour).await else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    if account.disabled {
        return forbidden_form(&req);
    }
    if !account.covered {
        return fail("notcovered", String::new()).await;
    }
    if sent >= max_per_hour {
        return fail("rate", max_per_hour.to_string()).await;
    }
    let own = match store.own_addresses(user).await {
        Ok(o) => o,
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    };
    // threading comes from the user's own archived message, not from the form
    let (in_reply_to, references) = match (reference, mode.as_str()) {
        (Some(entry), "reply" | "replyall") => match original(store, user, entry).await {
            Ok(o) => {
                let mut refs = o.references.clone();
                if let Some(id) = &o.message_id {
                    refs.push(id.clone());
                }
                (o.message_id, refs)
            }
            Err(_) => (None, Vec::new()),
        },
        _ => (None, Vec::new()),
    };
    let attachments = match store.draft_file_data(user, draft).await {
        Ok(list) => list
            .into_iter()
            .map(|(f, data)| compose::Attachment {
                content_type: f.content_type,
                name: f.name,
                data,
            })
            .collect(),
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    };
    let d = Draft {
        from: row.from.clone(),
        to: row.to.clone(),
        cc: row.cc.clone(),
        bcc: row.bcc.clone(),
        subject: row.subject.clone(),
        body: row.body.clone(),
        in_reply_to,
        references,
        attachments,
    };
    let built = match compose::build(
        &d,
        &own,
        &account.display_name,
        &state.hostname,
        MAX_RECIPIENTS,
        MAX_SIZE,
    ) {
        Ok(b) => b,
        Err(e) => {
            let detail = match &e {
                ComposeError::BadAddress(a) => a.clone(),
                ComposeError::TooMany(_, max) => max.to_string(),
                _ => String::new(),
            };
            return fail(code(&e), detail).await;
        }
    };
    let snap = match store.directory_snapshot().await {
        Ok(s) => s,
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    };
    let opts = &state.relay;
    let outgoing = Outgoing {
        origin: Origin::Webmail,
        sender: Sender::User(user),
        mail_from: built.mail_from.clone(),
        rcpts: built.rcpts.clone(),
        raw: built.raw,
        summary: None,
        client_ip: Some(client_ip(&req)),
        helo: Some("webmail".into()),
        tls: false,
    };
    let id = match relay::send(store, &snap, opts, outgoing).await {
        Ok(id) => id,
        Err(RelayError::RateLimited(_)) => return fail("rate", max_per_hour.to_string()).await,
        Err(RelayError::Disabled) => return forbidden_form(&req),
        Err(RelayError::NotCovered) => return fail("notcovered", String::new()).await,
        Err(e) => {
            tracing::error!(error = %e, "cannot store a message sent from the webmail");
            return fail("unavailable", String::new()).await;
        }
    };
    let _ = store.discard_draft(user, draft).await;
    tracing::info!(user = %user, message = %id, rcpts = built.rcpts.len(), "sent from the webmail");
    if json {
        return HttpResponse::Ok().json(serde_json::json!({"sent": id.0}));
    }
    see_other("/mail/sent?sent=1")
}
