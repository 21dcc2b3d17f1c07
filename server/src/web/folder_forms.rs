//! The webmail's own folders: make, rename and delete them, and move a
//! message into one (or back to the Inbox). Plain form posts, each for the
//! session's user and with its CSRF token; a folder or an entry that is
//! not the user's is not found. Folders are the user's view of the
//! continuity mailbox only: the archive and deliveries are untouched.

#![allow(clippy::result_large_err)]

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::forms::{enc, form_user, not_found, see_other, store_failed};
use super::WebState;
use crate::store::folders::{FolderError, FolderRefusal};
use crate::store::mailbox::{Folder, FolderId};
use crate::store::UserId;

/// Where the webmail shows a folder.
pub fn href(f: Folder) -> String {
    match f {
        Folder::User(id) => format!("/mail/folder/{}", id.0),
        other => format!("/mail/{}", other.key()),
    }
}

#[derive(Deserialize)]
pub struct NameForm {
    csrf: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

#[derive(Deserialize)]
pub struct MoveForm {
    csrf: String,
    to: String,
}

type Reply = Result<HttpResponse, HttpResponse>;

fn user_of(req: &HttpRequest, csrf: &str) -> Result<UserId, HttpResponse> {
    form_user(req, csrf)
}

fn unavailable(e: crate::store::StoreError) -> HttpResponse {
    store_failed("folder change", e)
}

/// Back to the folders page saying why (the page words it in the
/// viewer's language), keeping what was typed.
fn refused(e: FolderError, name: &str) -> Reply {
    let why = match e {
        FolderError::Store(e) => return Err(unavailable(e)),
        FolderError::Refused(r) => match r {
            FolderRefusal::Empty => "empty",
            FolderRefusal::TooLong => "long",
            FolderRefusal::BadCharacter => "character",
            FolderRefusal::Reserved => "reserved",
            FolderRefusal::Exists => "exists",
            FolderRefusal::NotFound => return Err(not_found()),
            FolderRefusal::HasChildren => "children",
            FolderRefusal::BelowItself => "below",
            FolderRefusal::TooMany => "many",
        },
    };
    Ok(see_other(&format!(
        "/mail/folders?error={why}&name={}",
        enc(name)
    )))
}

/// POST /mail/folders/create
pub async fn create(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<NameForm>,
) -> HttpResponse {
    async {
        let user = user_of(&req, &form.csrf)?;
        let name = form.name.trim();
        match state.store.create_folder(user, name, None).await {
            Ok(f) => Ok(see_other(&format!(
                "/mail/folders?done=created&id={}",
                f.id.0
            ))),
            Err(e) => refused(e, name),
        }
    }
    .await
    .unwrap_or_else(|r| r)
}

/// POST /mail/folders/{id}/rename
pub async fn rename(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    form: web::Form<NameForm>,
) -> HttpResponse {
    async {
        let user = user_of(&req, &form.csrf)?;
        let name = form.name.trim();
        let id = FolderId(path.into_inner());
        match state.store.rename_folder(user, id, name).await {
            Ok(()) => Ok(see_other(&format!(
                "/mail/folders?done=renamed&id={}",
                id.0
            ))),
            Err(e) => refused(e, name),
        }
    }
    .await
    .unwrap_or_else(|r| r)
}

/// POST /mail/folders/{id}/delete — its messages leave the user's view;
/// the archive keeps them.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    async {
        let user = user_of(&req, &form.csrf)?;
        match state
            .store
            .delete_folder(user, FolderId(path.into_inner()))
            .await
        {
            Ok(()) => Ok(see_other("/mail/folders?done=deleted")),
            Err(e) => refused(e, ""),
        }
    }
    .await
    .unwrap_or_else(|r| r)
}

/// POST /mail/m/{id}/move — into one of the user's folders or the Inbox;
/// then back to the folder it was in.
pub async fn move_entry(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    form: web::Form<MoveForm>,
) -> HttpResponse {
    async {
        let user = user_of(&req, &form.csrf)?;
        let entry = path.into_inner();
        let to = match Folder::parse(&form.to) {
            Some(f @ (Folder::Inbox | Folder::User(_))) => f,
            // Sent is the service's record of what was sent, the trash has
            // its own button (it remembers where a message came from)
            _ => return Err(HttpResponse::BadRequest().body("Not a folder to move to")),
        };
        if let Folder::User(id) = to {
            match state.store.user_folder(user, id).await {
                Ok(Some(_)) => {}
                Ok(None) => return Err(not_found()),
                Err(e) => return Err(unavailable(e)),
            }
        }
        let from = match state.store.mailbox_entry(user, entry).await {
            Ok(Some(e)) => e.folder,
            Ok(None) => return Err(not_found()),
            Err(e) => return Err(unavailable(e)),
        };
        if from == Folder::Trash {
            return Err(HttpResponse::BadRequest().body("Restore it from the trash first"));
        }
        match state.store.move_entry(user, entry, to).await {
            Ok(Some(_)) => Ok(see_other(&format!("{}?done=moved", href(from)))),
            Ok(None) => Err(not_found()),
            Err(e) => Err(unavailable(e)),
        }
    }
    .await
    .unwrap_or_else(|r| r)
}
