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

use actix_web::{web, HttpRequest, HttpResponse};
use app::backend::{BackendError, ComposeView};
use serde::Deserialize;

use super::backend::unavailable;
use super::forms::{client_ip, csrf_ok, enc, forbidden_form, require_session, see_other};
use super::WebState;
use crate::compose::{self, ComposeError, Draft};
use crate::relay::{self, Outgoing, RelayError, RelayOptions, Sender};
use crate::store::drafts::DraftRow;
use crate::store::{Origin, Store, UserId};

/// Abuse limits of the webmail (per user).
pub const MAX_RECIPIENTS: usize = 100;
pub const MAX_PER_HOUR: i64 = 200;
pub const MAX_SIZE: usize = 25 * 1024 * 1024;

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

/// What the compose form shows.
pub async fn view(
    store: &Store,
    user: UserId,
    mode: &str,
    reference: Option<i64>,
    draft: Option<i64>,
) -> Result<ComposeView, BackendError> {
    let own = store.own_addresses(user).await.map_err(unavailable)?;
    let contacts = store.contacts(user, 300).await.map_err(unavailable)?;
    let mut v = ComposeView {
        contacts,
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
            v.body = format!(
                "\n\n---------- Forwarded message ----------\nFrom: {}\nDate: {}\nSubject: {}\nTo: {}\n{}\n{}",
                o.from,
                o.date,
                o.subject,
                o.to,
                if o.cc.is_empty() { String::new() } else { format!("Cc: {}\n", o.cc) },
                o.text
            );
            v.mode = "forward".into();
            v.forwarded = o
                .attachments
                .iter()
                .map(|a| format!("{} ({} bytes)", a.name, a.data.len()))
                .collect();
        }
        _ => return Err(BackendError::Invalid("unknown compose mode".into())),
    }
    Ok(v)
}

#[derive(Deserialize)]
pub struct SendForm {
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    cc: String,
    #[serde(default)]
    bcc: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    draft: String,
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

/// POST /mail/send
pub async fn send(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<SendForm>,
) -> HttpResponse {
    let session = match require_session(&req) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden_form(&req);
    }
    let user = UserId(session.user);
    let store = &state.store;
    let reference: Option<i64> = form.reference.trim().parse().ok();
    let draft_row = DraftRow {
        id: form.draft.trim().parse().unwrap_or(0),
        from: form.from.clone(),
        to: form.to.clone(),
        cc: form.cc.clone(),
        bcc: form.bcc.clone(),
        subject: form.subject.clone(),
        body: form.body.clone(),
        ref_entry: reference,
        mode: form.mode.clone(),
    };
    // whatever happens next, what was typed is kept until it is sent
    let draft_id = draft_row.id;
    let draft_ref = &draft_row;
    let keep = |why: &'static str, detail: String| async move {
        match store.save_draft(user, draft_ref).await {
            Ok(id) => see_other(&format!(
                "/mail/compose?draft={id}&e={why}&why={}",
                enc(&detail)
            )),
            Err(_) => HttpResponse::ServiceUnavailable().finish(),
        }
    };
    if form.action == "save" {
        return match store.save_draft(user, &draft_row).await {
            Ok(id) => see_other(&format!("/mail/compose?draft={id}&saved=1")),
            Err(_) => HttpResponse::ServiceUnavailable().finish(),
        };
    }
    let Ok(Some(account)) = store.account(user).await else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    if account.disabled {
        return forbidden_form(&req);
    }
    match store.sent_recently(user, 3_600_000).await {
        Ok(n) if n >= MAX_PER_HOUR => return keep("rate", MAX_PER_HOUR.to_string()).await,
        Ok(_) => {}
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    }
    let own = match store.own_addresses(user).await {
        Ok(o) => o,
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    };
    // threading and forwarded files come from the user's own archived
    // message, not from the form
    let (in_reply_to, references, attachments) = match (reference, form.mode.as_str()) {
        (Some(entry), "reply" | "replyall") => match original(store, user, entry).await {
            Ok(o) => {
                let mut refs = o.references.clone();
                if let Some(id) = &o.message_id {
                    refs.push(id.clone());
                }
                (o.message_id, refs, Vec::new())
            }
            Err(_) => (None, Vec::new(), Vec::new()),
        },
        (Some(entry), "forward") => match original(store, user, entry).await {
            Ok(o) => (None, Vec::new(), o.attachments),
            Err(_) => (None, Vec::new(), Vec::new()),
        },
        _ => (None, Vec::new(), Vec::new()),
    };
    let d = Draft {
        from: form.from.clone(),
        to: form.to.clone(),
        cc: form.cc.clone(),
        bcc: form.bcc.clone(),
        subject: form.subject.clone(),
        body: form.body.clone(),
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
            return keep(code(&e), detail).await;
        }
    };
    let snap = match store.directory_snapshot().await {
        Ok(s) => s,
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    };
    let opts = RelayOptions {
        copy_sent_to_primary: state.copy_sent,
        max_per_hour: MAX_PER_HOUR,
    };
    let outgoing = Outgoing {
        origin: Origin::Webmail,
        sender: Sender::User(user),
        mail_from: built.mail_from.clone(),
        rcpts: built.rcpts.clone(),
        raw: built.raw,
        client_ip: Some(client_ip(&req)),
        helo: Some("webmail".into()),
        tls: false,
    };
    let id = match relay::send(store, &snap, &opts, outgoing).await {
        Ok(id) => id,
        Err(RelayError::RateLimited(_)) => return keep("rate", MAX_PER_HOUR.to_string()).await,
        Err(RelayError::Disabled) => return forbidden_form(&req),
        Err(e) => {
            tracing::error!(error = %e, "cannot store a message sent from the webmail");
            return keep("unavailable", String::new()).await;
        }
    };
    if draft_id > 0 {
        let _ = store.delete_draft(user, draft_id).await;
    }
    tracing::info!(user = %user, message = %id, rcpts = built.rcpts.len(), "sent from the webmail");
    see_other("/mail/sent?sent=1")
}
