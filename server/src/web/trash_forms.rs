//! The webmail's trash: move a message there, restore it, delete it for
//! good, empty the trash; and discarding a draft. Plain form posts, each for the session's user
//! and with its CSRF token; an entry that is not the user's is not found.
//! Only mailbox rows change: the archive and deliveries are untouched.

#![allow(clippy::result_large_err)]

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::forms::{form_user, not_found, see_other, store_failed};
use super::WebState;
use crate::store::mailbox::Folder;
use crate::store::UserId;

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

fn user_of(req: &HttpRequest, form: &CsrfForm) -> Result<UserId, HttpResponse> {
    form_user(req, &form.csrf)
}

fn unavailable(e: crate::store::StoreError) -> HttpResponse {
    store_failed("trash change", e)
}

/// POST /mail/m/{id}/trash — then back to the list it was in.
pub async fn trash(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let user = match user_of(&req, &form) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let entry = path.into_inner();
    let from = match state.store.mailbox_entry(user, entry).await {
        Ok(Some(e)) => e.folder,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(e),
    };
    match state.store.move_entry(user, entry, Folder::Trash).await {
        Ok(Some(_)) => see_other(&format!("{}?done=trashed", super::folder_forms::href(from))),
        Ok(None) => not_found(),
        Err(e) => unavailable(e),
    }
}

/// POST /mail/m/{id}/restore — the restored message, where it was.
pub async fn restore(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let user = match user_of(&req, &form) {
        Ok(u) => u,
        Err(r) => return r,
    };
    match state.store.restore_entry(user, path.into_inner()).await {
        Ok(Some(_)) => see_other("/mail/trash?done=restored"),
        Ok(None) => not_found(),
        Err(e) => unavailable(e),
    }
}

/// POST /mail/m/{id}/delete — from the trash, for good.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let user = match user_of(&req, &form) {
        Ok(u) => u,
        Err(r) => return r,
    };
    match state.store.delete_trashed(user, path.into_inner()).await {
        Ok(true) => see_other("/mail/trash?done=deleted"),
        Ok(false) => not_found(),
        Err(e) => unavailable(e),
    }
}

/// POST /mail/trash/empty
pub async fn empty(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let user = match user_of(&req, &form) {
        Ok(u) => u,
        Err(r) => return r,
    };
    match state.store.empty_trash(user).await {
        Ok(_) => see_other("/mail/trash?done=emptied"),
        Err(e) => unavailable(e),
    }
}

/// POST /mail/drafts/{id}/discard — a draft and its files, gone (drafts
/// are not mail: they skip the trash).
pub async fn discard_draft(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let user = match user_of(&req, &form) {
        Ok(u) => u,
        Err(r) => return r,
    };
    match state.store.discard_draft(user, path.into_inner()).await {
        Ok(true) => see_other("/mail/drafts?done=discarded"),
        Ok(false) => not_found(),
        Err(e) => unavailable(e),
    }
}
