//! Selected-state commands (RFC 3501 §6.4, RFC 4315 UIDPLUS, RFC 6851
//! MOVE, RFC 3691 UNSELECT): the dispatch, and STORE, COPY, MOVE, EXPUNGE,
//! CLOSE, UNSELECT — each with its UID form. FETCH and SEARCH, which read
//! messages, are in [`super::read_cmds`].

use imap_next::imap_types::command::{CommandBody, StoreModifier};
use imap_next::imap_types::core::{Tag, Vec1};
use imap_next::imap_types::extensions::uidplus::{UidElement, UidSet};
use imap_next::imap_types::fetch::MessageDataItem;
use imap_next::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_next::imap_types::mailbox::Mailbox;
use imap_next::imap_types::response::{Code, Data, Response};
use imap_next::imap_types::search::SearchKey;
use imap_next::imap_types::sequence::SequenceSet;

use super::condstore::{self, Resync};
use super::reply::{bad, no, nz, ok, unavailable};
use super::session::{After, Outcome, Session, State};
use crate::store::imap::{FlagOp, Flags};

/// UIDs as a UIDPLUS set (ranges of consecutive ones).
fn uid_set(uids: &[u32]) -> Option<UidSet> {
    let mut out: Vec<UidElement> = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        out.push(if start == end {
            UidElement::Single(nz(start))
        } else {
            UidElement::Range(nz(start), nz(end))
        });
        i += 1;
    }
    Vec1::try_from(out).ok().map(UidSet)
}

pub async fn run(s: &mut Session, tag: &Tag<'static>, body: CommandBody<'static>) -> Outcome {
    // flags set elsewhere (the webmail, another session) and new mail are
    // taken in first, so FETCH, STORE and SEARCH work on what is true now
    let before = if matches!(
        body,
        CommandBody::Fetch { .. } | CommandBody::Store { .. } | CommandBody::Search { .. }
    ) {
        s.refresh(true).await
    } else {
        Vec::new()
    };
    let mut out = run_one(s, tag, body).await;
    if !before.is_empty() {
        let mut all = before;
        all.append(&mut out.responses);
        out.responses = all;
    }
    out
}

async fn run_one(s: &mut Session, tag: &Tag<'static>, body: CommandBody<'static>) -> Outcome {
    match body {
        CommandBody::Fetch {
            sequence_set,
            macro_or_item_names,
            uid,
            modifiers,
        } => {
            super::read_cmds::fetch_cmd(s, tag, &sequence_set, macro_or_item_names, uid, &modifiers)
                .await
        }
        CommandBody::Store {
            sequence_set,
            kind,
            response,
            flags,
            uid,
            modifiers,
        } => {
            let unchanged_since = modifiers
                .iter()
                .map(|StoreModifier::UnchangedSince(n)| *n)
                .next();
            let how = Store {
                kind,
                response,
                uid,
                unchanged_since,
            };
            store_cmd(s, tag, &sequence_set, how, &flags).await
        }
        CommandBody::Search {
            charset,
            criteria,
            uid,
        } => {
            if charset.is_some() && s.utf8 {
                // RFC 6855 §3: UTF-8 is the only charset now
                return Outcome::one(bad(tag, "No CHARSET once UTF8=ACCEPT is enabled"));
            }
            if let Some(c) = charset {
                let c = c.as_ref().to_ascii_uppercase();
                if c != "UTF-8" && c != "US-ASCII" {
                    return Outcome::one(no(
                        tag,
                        Some(Code::BadCharset {
                            allowed: Vec::new(),
                        }),
                        "Only UTF-8 searches",
                    ));
                }
            }
            let key = if criteria.as_ref().len() == 1 {
                criteria.as_ref()[0].clone()
            } else {
                SearchKey::And(criteria)
            };
            super::read_cmds::search_cmd(s, tag, &key, uid).await
        }
        CommandBody::Copy {
            sequence_set,
            mailbox,
            uid,
        } => copy_cmd(s, tag, &sequence_set, &mailbox, uid, false).await,
        CommandBody::Move {
            sequence_set,
            mailbox,
            uid,
        } => copy_cmd(s, tag, &sequence_set, &mailbox, uid, true).await,
        CommandBody::Expunge => expunge_cmd(s, tag, None).await,
        CommandBody::ExpungeUid { sequence_set } => expunge_cmd(s, tag, Some(&sequence_set)).await,
        CommandBody::Close => {
            if let State::Selected(user, sel) = &s.state {
                if !sel.read_only {
                    let _ = s.ctx.store.imap_expunge(*user, sel.folder, None).await;
                }
                s.state = State::Authenticated(*user);
            }
            Outcome::one(ok(tag, None, "CLOSE completed"))
        }
        CommandBody::Unselect => {
            if let State::Selected(user, _) = &s.state {
                s.state = State::Authenticated(*user);
            }
            Outcome::one(ok(tag, None, "UNSELECT completed"))
        }
        other => Outcome::one(bad(tag, &format!("{} is not supported here", other.name()))),
    }
}

/// A STORE's form: how flags change, what is answered, UID or sequence
/// numbers, and the CONDSTORE condition.
struct Store {
    kind: StoreType,
    response: StoreResponse,
    uid: bool,
    unchanged_since: Option<u64>,
}

async fn store_cmd(
    s: &mut Session,
    tag: &Tag<'static>,
    set: &SequenceSet,
    how: Store,
    flags: &[Flag<'static>],
) -> Outcome {
    let Store {
        kind,
        response,
        uid,
        unchanged_since,
    } = how;
    if unchanged_since.is_some() {
        // a CONDSTORE-enabling command (RFC 7162 §3.1)
        s.resync = s.resync.max(Resync::CondStore);
    }
    let resync = s.resync;
    let State::Selected(user, sel) = &mut s.state else {
        return Outcome::one(bad(tag, "Select a mailbox first"));
    };
    if sel.read_only {
        return Outcome::one(no(tag, None, "The mailbox is read-only (EXAMINE)"));
    }
    let positions = match sel.resolve(set, uid) {
        Ok(p) => p,
        Err(e) => return Outcome::one(bad(tag, e)),
    };
    let op = match kind {
        StoreType::Add => FlagOp::Add,
        StoreType::Remove => FlagOp::Remove,
        StoreType::Replace => FlagOp::Replace,
    };
    let given = match super::flags::given(flags) {
        Ok(g) => g,
        Err(e) => return Outcome::one(bad(tag, &e)),
    };
    let mut flags = given.flags;
    let mut responses = Vec::new();
    if !given.keywords.is_empty() {
        let names: Vec<&str> = given.keywords.iter().map(String::as_str).collect();
        // removing a keyword never names it
        let named = if op == FlagOp::Remove {
            s.ctx.store.imap_keywords(*user).await.map(|table| {
                let bits = names
                    .iter()
                    .filter_map(|n| table.bit(n))
                    .fold(0u64, |b, i| b | 1u64 << i);
                Ok((bits, table))
            })
        } else {
            s.ctx.store.imap_keyword_bits(*user, &names).await
        };
        let table = match named {
            Ok(Ok((bits, table))) => {
                flags.keywords = bits;
                table
            }
            Ok(Err(r)) => return Outcome::one(super::flags::refused(tag, r)),
            Err(_) => return Outcome::one(unavailable(tag)),
        };
        if table.all().len() > sel.keywords.all().len() {
            sel.keywords = std::sync::Arc::new(table);
            responses.extend(super::flags::announce(&sel.keywords, sel.read_only));
        }
    }
    let uids: Vec<u32> = positions.iter().map(|&i| sel.entries[i].uid).collect();
    let done = match s
        .ctx
        .store
        .imap_store_flags_if(*user, sel.folder, &uids, op, flags, unchanged_since)
        .await
    {
        Ok(c) => c,
        Err(_) => return Outcome::one(unavailable(tag)),
    };
    for c in done.changed {
        let Ok(i) = sel.entries.binary_search_by_key(&c.uid, |e| e.uid) else {
            continue;
        };
        let before = std::mem::replace(&mut sel.entries_mut()[i], c.clone());
        // .SILENT still tells a new modification sequence under CONDSTORE
        // (RFC 7162 §3.1.3)
        let answer = response == StoreResponse::Answer;
        let moved = resync >= Resync::CondStore && before.modseq != c.modseq;
        if !answer && !moved {
            continue;
        }
        let mut items = Vec::new();
        if uid || resync == Resync::QResync {
            items.push(MessageDataItem::Uid(nz(c.uid)));
        }
        if answer {
            items.push(MessageDataItem::Flags(sel.flag_list(&c)));
        }
        if resync >= Resync::CondStore {
            items.push(MessageDataItem::ModSeq(condstore::modseq(c.modseq)));
        }
        if let Ok(items) = Vec1::try_from(items) {
            responses.push(Response::Data(Data::Fetch {
                seq: nz(i as u32 + 1),
                items,
            }));
        }
    }
    // RFC 7162 §3.1.3: the messages changed since the client's sequence
    // are named (UIDs for UID STORE, else their numbers) and left alone
    let modified: Vec<u32> = if uid {
        done.modified
    } else {
        done.modified
            .iter()
            .filter_map(|u| sel.entries.binary_search_by_key(u, |e| e.uid).ok())
            .map(|i| i as u32 + 1)
            .collect()
    };
    match condstore::sequence_set(&condstore::ranges(&modified)) {
        Some(set) => responses.push(Response::Status(ok(
            tag,
            Some(Code::Modified(set)),
            "Conditional STORE failed",
        ))),
        None => responses.push(Response::Status(ok(tag, None, "STORE completed"))),
    }
    Outcome {
        responses,
        after: After::Nothing,
        job: None,
    }
}

async fn copy_cmd(
    s: &mut Session,
    tag: &Tag<'static>,
    set: &SequenceSet,
    target: &Mailbox<'static>,
    uid: bool,
    moving: bool,
) -> Outcome {
    let State::Selected(user, _) = &s.state else {
        return Outcome::one(bad(tag, "Select a mailbox first"));
    };
    let user = *user;
    let to = match s.folder_named(user, target).await {
        Ok(Some(f)) => f,
        Ok(None) => return Outcome::one(no(tag, Some(Code::TryCreate), "No such mailbox")),
        Err(_) => return Outcome::one(unavailable(tag)),
    };
    let State::Selected(_, sel) = &mut s.state else {
        return Outcome::one(bad(tag, "Select a mailbox first"));
    };
    if moving && sel.read_only {
        return Outcome::one(no(tag, None, "The mailbox is read-only (EXAMINE)"));
    }
    let positions = match sel.resolve(set, uid) {
        Ok(p) => p,
        Err(e) => return Outcome::one(bad(tag, e)),
    };
    let uids: Vec<u32> = positions.iter().map(|&i| sel.entries[i].uid).collect();
    let store = s.ctx.store.clone();
    let from = sel.folder;
    let pairs = if to == from && moving {
        // RFC 6851: moved within the mailbox, each message gets a new UID
        match store.imap_move_within(user, from, &uids).await {
            Ok(p) => p,
            Err(_) => return Outcome::one(unavailable(tag)),
        }
    } else if to == from {
        // COPY to the same mailbox: nothing to copy (each message is there once)
        uids.iter().map(|&u| (u, u)).collect()
    } else {
        match store.imap_copy(user, from, &uids, to).await {
            Ok(p) => p,
            Err(_) => return Outcome::one(unavailable(tag)),
        }
    };
    let validity = store
        .folder_uid_validity(user, to)
        .await
        .ok()
        .flatten()
        .unwrap_or(1);
    let copy_uid = match (
        uid_set(&pairs.iter().map(|p| p.0).collect::<Vec<_>>()),
        uid_set(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()),
    ) {
        (Some(source), Some(destination)) if to != from || moving => Some(Code::CopyUid {
            uid_validity: nz(validity),
            source,
            destination,
        }),
        _ => None,
    };
    let mut responses = Vec::new();
    if moving {
        // RFC 6851 §4.3: COPYUID in an untagged OK, then the EXPUNGEs
        if let Some(c) = copy_uid.clone() {
            responses.push(Response::Status(super::reply::untagged_ok(
                Some(c),
                "Moved",
            )));
        }
        if to != from
            && store
                .imap_store_flags(
                    user,
                    from,
                    &uids,
                    FlagOp::Add,
                    Flags {
                        deleted: true,
                        ..Default::default()
                    },
                )
                .await
                .is_err()
        {
            return Outcome::one(unavailable(tag));
        }
        if to != from && store.imap_expunge(user, from, Some(&uids)).await.is_err() {
            return Outcome::one(unavailable(tag));
        }
        responses.extend(s.changes().await);
        responses.push(Response::Status(ok(tag, None, "MOVE completed")));
    } else {
        responses.push(Response::Status(ok(tag, copy_uid, "COPY completed")));
    }
    Outcome {
        responses,
        after: After::Nothing,
        job: None,
    }
}

async fn expunge_cmd(s: &mut Session, tag: &Tag<'static>, only: Option<&SequenceSet>) -> Outcome {
    let State::Selected(user, sel) = &s.state else {
        return Outcome::one(bad(tag, "Select a mailbox first"));
    };
    if sel.read_only {
        return Outcome::one(no(tag, None, "The mailbox is read-only (EXAMINE)"));
    }
    let user = *user;
    let folder = sel.folder;
    let only: Option<Vec<u32>> = match only {
        Some(set) => match sel.resolve(set, true) {
            Ok(p) => Some(p.iter().map(|&i| sel.entries[i].uid).collect()),
            Err(e) => return Outcome::one(bad(tag, e)),
        },
        None => None,
    };
    if s.ctx
        .store
        .imap_expunge(user, folder, only.as_deref())
        .await
        .is_err()
    {
        return Outcome::one(unavailable(tag));
    }
    let mut responses = s.changes().await;
    responses.push(Response::Status(ok(tag, None, "EXPUNGE completed")));
    Outcome {
        responses,
        after: After::Nothing,
        job: None,
    }
}

#[cfg(test)]
mod tests {
    use super::uid_set;

    #[test]
    fn uid_sets_are_ranges() {
        let s = uid_set(&[3, 4, 5, 9, 11, 12]).unwrap();
        assert_eq!(format!("{:?}", s.0.as_ref().len()), "3");
        assert!(uid_set(&[]).is_none());
    }
}
