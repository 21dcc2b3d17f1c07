//! SELECT and EXAMINE (RFC 3501 §6.3.1–2, RFC 7162 CONDSTORE/QRESYNC),
//! and keeping the selected view current: new mail (EXISTS, RECENT),
//! flags changed elsewhere, removals, keywords named elsewhere (FLAGS).
//!
//! `\Recent`: a read-write session claims the messages it is the first to
//! see ([`crate::store::keywords`]); EXAMINE only looks.

use std::sync::Arc;

use imap_next::imap_types::command::SelectParameter;
use imap_next::imap_types::core::Tag;
use imap_next::imap_types::mailbox::Mailbox;
use imap_next::imap_types::response::{Code, Data, Response};

use super::condstore::{self, Resync};
use super::reply::{bad, code, no, nz, ok, unavailable, untagged_ok};
use super::selected::Selected;
use super::session::{After, Outcome, Session, State};
use crate::store::imap::FolderChanges;
use crate::store::{Result, Store, UserId};

/// Settle which of the entries above what `sel` has settled are recent to
/// it: claimed when read-write, only looked at when read-only.
async fn settle_recent(store: &Store, user: UserId, sel: &mut Selected, upto: u32) -> Result<()> {
    if upto <= sel.claimed {
        return Ok(());
    }
    let mark = if sel.read_only {
        store.imap_recent_mark(user, sel.folder).await?
    } else {
        store.imap_claim_recent(user, sel.folder, upto).await?
    };
    sel.recent.add(mark.max(sel.claimed), upto);
    sel.claimed = upto;
    Ok(())
}

impl Session {
    pub(super) async fn select(
        &mut self,
        tag: &Tag<'static>,
        m: &Mailbox<'_>,
        params: &[SelectParameter],
        read_only: bool,
    ) -> Outcome {
        let Some(user) = self.user() else {
            return Outcome::one(bad(tag, "Log in first"));
        };
        let qresync = params
            .iter()
            .find(|p| matches!(p, SelectParameter::QResync { .. }));
        if qresync.is_some() && self.resync < Resync::QResync {
            return Outcome::one(bad(tag, "QRESYNC is not enabled (ENABLE QRESYNC first)"));
        }
        if params.contains(&SelectParameter::CondStore) {
            self.resync = self.resync.max(Resync::CondStore);
        }
        // RFC 7162 §3.2.11: the end of the previous mailbox's responses
        let mut responses = Vec::new();
        if self.is_selected() {
            responses.push(Response::Status(untagged_ok(
                Some(Code::Closed),
                "Previous mailbox closed",
            )));
        }
        // RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected
        self.state = State::Authenticated(user);
        let folder = match self.folder_named(user, m).await {
            Ok(Some(f)) => f,
            Ok(None) => return Outcome::one(no(tag, code("NONEXISTENT"), "No such mailbox")),
            Err(_) => return Outcome::one(unavailable(tag)),
        };
        let store = &self.ctx.store;
        // the folder's snapshot and the changes after it, not every row
        let ((entries, modseq), validity, next, keywords) = match (
            store.imap_folder(user, folder).await,
            store.folder_uid_validity(user, folder).await,
            store.imap_uid_next(user, folder).await,
            store.imap_keywords(user).await,
        ) {
            (Ok(f), Ok(Some(v)), Ok(n), Ok(k)) => (f, v, n, k),
            _ => return Outcome::one(unavailable(tag)),
        };
        let mut sel = Selected::new(folder, read_only, entries, modseq, Arc::new(keywords));
        let newest = sel.claimed;
        sel.claimed = 0;
        if settle_recent(store, user, &mut sel, newest).await.is_err() {
            return Outcome::one(unavailable(tag));
        }
        responses.extend([
            Response::Data(Data::Flags(super::flags::defined(&sel.keywords))),
            Response::Data(Data::Exists(sel.exists())),
            Response::Data(Data::Recent(sel.recent.count(&sel.entries))),
        ]);
        if let Some(i) = sel.entries.iter().position(|e| !e.flags.seen) {
            responses.push(Response::Status(untagged_ok(
                Some(Code::Unseen(nz(i as u32 + 1))),
                "First unseen",
            )));
        }
        responses.extend([
            Response::Status(untagged_ok(
                Some(Code::PermanentFlags(super::flags::permanent(
                    &sel.keywords,
                    read_only,
                ))),
                "Flags permitted",
            )),
            Response::Status(untagged_ok(
                Some(Code::UidValidity(nz(validity))),
                "UIDs valid",
            )),
            Response::Status(untagged_ok(
                Some(Code::UidNext(nz(next))),
                "Predicted next UID",
            )),
            Response::Status(untagged_ok(
                Some(Code::HighestModSeq(condstore::modseq(modseq))),
                "Highest",
            )),
        ]);
        if let Some(p) = qresync {
            match condstore::select_resync(store, user, &sel, validity, p).await {
                Ok(r) => responses.extend(r),
                Err(_) => return Outcome::one(unavailable(tag)),
            }
        }
        let (code, text) = if read_only {
            (Code::ReadOnly, "EXAMINE completed")
        } else {
            (Code::ReadWrite, "SELECT completed")
        };
        responses.push(Response::Status(ok(tag, Some(code), text)));
        self.state = State::Selected(user, sel);
        Outcome {
            responses,
            after: After::Nothing,
            job: None,
        }
    }

    /// What changed in the selected mailbox since the client last heard
    /// (new mail, flags set in the webmail, expunged elsewhere).
    pub async fn changes(&mut self) -> Vec<Response<'static>> {
        self.refresh(false).await
    }

    /// Take in what changed in the selected mailbox. `soft`: removals wait
    /// (during FETCH, STORE and SEARCH no EXPUNGE may be sent, RFC 3501
    /// §7.4.1). Keywords named elsewhere are announced first (FLAGS), and
    /// new mail's recency settled before EXISTS and RECENT are told.
    pub async fn refresh(&mut self, soft: bool) -> Vec<Response<'static>> {
        let resync = self.resync;
        let State::Selected(user, sel) = &mut self.state else {
            return Vec::new();
        };
        let user = *user;
        let store = &self.ctx.store;
        let changes = match read_changes(store, user, sel).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot refresh the selected mailbox");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        let unknown = changes
            .changed
            .iter()
            .any(|c| c.flags.keywords & !sel.keywords.known() != 0);
        if unknown {
            if let Ok(k) = store.imap_keywords(user).await {
                sel.keywords = Arc::new(k);
                out.extend(super::flags::announce(&sel.keywords, sel.read_only));
            }
        }
        let data = if soft {
            sel.apply_soft(changes, resync)
        } else {
            sel.apply(changes, resync)
        };
        out.extend(data.into_iter().map(Response::Data));
        out
    }
}

/// The changes, with the recency of the new mail among them settled.
async fn read_changes(store: &Store, user: UserId, sel: &mut Selected) -> Result<FolderChanges> {
    let changes = store.folder_changes(user, sel.folder, sel.modseq).await?;
    let newest = changes.changed.iter().map(|c| c.uid).max().unwrap_or(0);
    settle_recent(store, user, sel, newest).await?;
    Ok(changes)
}
