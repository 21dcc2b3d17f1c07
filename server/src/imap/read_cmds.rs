//! The commands that read messages (RFC 3501 §6.4.4, §6.4.5): FETCH and
//! SEARCH, with their UID forms. Bodies are read a batch at a time (one
//! query) and turned into items off the async workers.

use std::num::NonZeroU32;

use imap_next::imap_types::core::{Tag, Vec1};
use imap_next::imap_types::fetch::{
    MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName,
};
use imap_next::imap_types::response::{Data, Response};
use imap_next::imap_types::search::SearchKey;
use imap_next::imap_types::sequence::SequenceSet;

use super::fetch;
use super::search;
use super::session::{bad, code, no, ok, After, Outcome, Session, State};
use crate::store::imap::{FlagOp, Flags, ImapEntry};

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// Messages read and built per batch (one query, one blocking task).
const FETCH_BATCH: usize = 200;

fn item_names(m: MacroOrMessageDataItemNames<'static>) -> Vec<MessageDataItemName<'static>> {
    match m {
        MacroOrMessageDataItemNames::Macro(m) => m
            .expand()
            .into_iter()
            .map(|n| imap_next::imap_types::ToStatic::to_static(&n))
            .collect(),
        MacroOrMessageDataItemNames::MessageDataItemNames(v) => v,
    }
}

pub async fn fetch_cmd(
    s: &mut Session,
    tag: &Tag<'static>,
    set: &SequenceSet,
    names: MacroOrMessageDataItemNames<'static>,
    uid: bool,
) -> Outcome {
    let State::Selected(user, sel) = &mut s.state else {
        return Outcome::one(bad(tag, "Select a mailbox first"));
    };
    let user = *user;
    let positions = match sel.resolve(set, uid) {
        Ok(p) => p,
        Err(e) => return Outcome::one(bad(tag, e)),
    };
    let mut names = item_names(names);
    if uid && !names.iter().any(|n| matches!(n, MessageDataItemName::Uid)) {
        // RFC 3501 §6.4.8: UID FETCH always returns the UID
        names.insert(0, MessageDataItemName::Uid);
    }
    if names.iter().any(|n| {
        matches!(
            n,
            MessageDataItemName::Binary { .. } | MessageDataItemName::BinarySize { .. }
        )
    }) {
        return Outcome::one(bad(tag, "BINARY and MODSEQ are not supported"));
    }
    let needs_raw = names.iter().any(|n| {
        !matches!(
            n,
            MessageDataItemName::Flags
                | MessageDataItemName::InternalDate
                | MessageDataItemName::Rfc822Size
                | MessageDataItemName::Uid
        )
    });
    // reading a body without PEEK sets \Seen (RFC 3501 §6.4.5)
    let marks_seen = !sel.read_only
        && names.iter().any(|n| {
            matches!(
                n,
                MessageDataItemName::BodyExt { peek: false, .. }
                    | MessageDataItemName::Rfc822
                    | MessageDataItemName::Rfc822Text
            )
        });
    let store = s.ctx.store.clone();
    let mut responses = Vec::with_capacity(positions.len() + 1);
    let mut newly_seen = Vec::new();
    // bodies are read and turned into items a batch at a time
    for chunk in positions.chunks(FETCH_BATCH) {
        let uids: Vec<u32> = chunk.iter().map(|&i| sel.entries[i].uid).collect();
        let mut raws: std::collections::HashMap<u32, Vec<u8>> = if needs_raw {
            match store.imap_raws(user, &uids).await {
                Ok(r) => r.into_iter().collect(),
                Err(_) => return Outcome::one(no(tag, code("UNAVAILABLE"), "Try again later")),
            }
        } else {
            Default::default()
        };
        let mut work = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let entry: ImapEntry = sel.entries[i].clone();
            let raw = if needs_raw {
                // gone meanwhile (another session expunged it): skipped
                match raws.remove(&entry.uid) {
                    Some(r) => Some(r),
                    None => continue,
                }
            } else {
                None
            };
            let seen_now = marks_seen && !entry.flags.seen;
            let mut flags = entry.flags;
            if seen_now {
                flags.seen = true;
                newly_seen.push(entry.uid);
                sel.entries[i].flags.seen = true;
            }
            work.push((i as u32 + 1, entry, flags, raw, seen_now));
        }
        let names = names.clone();
        let built = tokio::task::spawn_blocking(move || {
            work.into_iter()
                .map(|(seq, entry, flags, raw, seen_now)| {
                    (
                        seq,
                        build_items(&entry, flags, raw.as_deref(), &names, seen_now),
                    )
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (seq, items) in built {
            if let Ok(items) = Vec1::try_from(items) {
                responses.push(Response::Data(Data::Fetch {
                    seq: nz(seq),
                    items,
                }));
            }
        }
    }
    if !newly_seen.is_empty() {
        let folder = sel.folder;
        if store
            .imap_store_flags(
                user,
                folder,
                &newly_seen,
                FlagOp::Add,
                Flags {
                    seen: true,
                    ..Default::default()
                },
            )
            .await
            .is_err()
        {
            return Outcome::one(no(tag, code("UNAVAILABLE"), "Try again later"));
        }
    }
    responses.push(Response::Status(ok(
        tag,
        None,
        if uid {
            "UID FETCH completed"
        } else {
            "FETCH completed"
        },
    )));
    Outcome {
        responses,
        after: After::Nothing,
    }
}

/// The items of one FETCH response.
fn build_items(
    entry: &ImapEntry,
    flags: Flags,
    raw: Option<&[u8]>,
    names: &[MessageDataItemName<'static>],
    seen_now: bool,
) -> Vec<MessageDataItem<'static>> {
    // the whole MIME tree only when an item needs it (ENVELOPE reads the header)
    let wants_tree = names.iter().any(|n| {
        matches!(
            n,
            MessageDataItemName::BodyStructure
                | MessageDataItemName::Body
                | MessageDataItemName::BodyExt { .. }
                | MessageDataItemName::Rfc822Header
                | MessageDataItemName::Rfc822Text
        )
    });
    let tree = if wants_tree {
        raw.map(super::mime::tree)
    } else {
        None
    };
    let mut out = Vec::with_capacity(names.len() + 1);
    let mut flags_sent = false;
    for n in names {
        let item = match (n, raw, &tree) {
            (MessageDataItemName::Uid, ..) => MessageDataItem::Uid(nz(entry.uid)),
            (MessageDataItemName::Flags, ..) => {
                flags_sent = true;
                MessageDataItem::Flags(fetch::flags(flags))
            }
            (MessageDataItemName::InternalDate, ..) => {
                match fetch::internal_date(entry.received_at) {
                    Some(d) => MessageDataItem::InternalDate(d),
                    None => continue,
                }
            }
            (MessageDataItemName::Rfc822Size, ..) => MessageDataItem::Rfc822Size(entry.size),
            (MessageDataItemName::Envelope, Some(raw), t) => {
                let end = match t {
                    Some(t) => t.header.end,
                    None => super::mime::header_end(raw),
                };
                MessageDataItem::Envelope(fetch::envelope(&raw[..end]))
            }
            (MessageDataItemName::BodyStructure, Some(raw), Some(t)) => {
                MessageDataItem::BodyStructure(fetch::structure(raw, t, true))
            }
            (MessageDataItemName::Body, Some(raw), Some(t)) => {
                MessageDataItem::Body(fetch::structure(raw, t, false))
            }
            (
                MessageDataItemName::BodyExt {
                    section, partial, ..
                },
                Some(raw),
                Some(t),
            ) => fetch::body_ext(raw, t, section.as_ref(), *partial),
            (MessageDataItemName::Rfc822, Some(raw), _) => {
                MessageDataItem::Rfc822(fetch::literal(raw))
            }
            (MessageDataItemName::Rfc822Header, Some(raw), Some(t)) => {
                MessageDataItem::Rfc822Header(fetch::literal(&raw[t.header.clone()]))
            }
            (MessageDataItemName::Rfc822Text, Some(raw), Some(t)) => {
                MessageDataItem::Rfc822Text(fetch::literal(&raw[t.body.clone()]))
            }
            _ => continue,
        };
        out.push(item);
    }
    // RFC 3501 §6.4.5: a \Seen set by this FETCH is reported
    if seen_now && !flags_sent {
        out.push(MessageDataItem::Flags(fetch::flags(flags)));
    }
    out
}

pub async fn search_cmd(
    s: &mut Session,
    tag: &Tag<'static>,
    key: &SearchKey<'static>,
    uid: bool,
) -> Outcome {
    let State::Selected(user, sel) = &s.state else {
        return Outcome::one(bad(tag, "Select a mailbox first"));
    };
    let user = *user;
    let entries = sel.entries.clone();
    let content = search::needs_content(key);
    let mut raws: Vec<Option<Vec<u8>>> = vec![None; entries.len()];
    if content {
        for (n, chunk) in entries.chunks(FETCH_BATCH).enumerate() {
            let uids: Vec<u32> = chunk.iter().map(|e| e.uid).collect();
            let got = match s.ctx.store.imap_raws(user, &uids).await {
                Ok(r) => r,
                Err(_) => return Outcome::one(no(tag, code("UNAVAILABLE"), "Try again later")),
            };
            let mut got: std::collections::HashMap<u32, Vec<u8>> = got.into_iter().collect();
            for (k, e) in chunk.iter().enumerate() {
                raws[n * FETCH_BATCH + k] = got.remove(&e.uid);
            }
        }
    }
    let key = key.clone();
    let hits = tokio::task::spawn_blocking(move || {
        let largest_uid = entries.last().map(|e| e.uid).unwrap_or(0);
        let largest_seq = entries.len() as u32;
        let mut out = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let parsed = raws[i].as_deref().and_then(search::parse);
            let c = search::Candidate {
                seq: i as u32 + 1,
                entry: e,
                message: parsed.as_ref(),
                largest_seq,
                largest_uid,
            };
            if search::matches(&key, &c) {
                out.push(nz(if uid { e.uid } else { i as u32 + 1 }));
            }
        }
        out
    })
    .await
    .unwrap_or_default();
    Outcome {
        responses: vec![
            Response::Data(Data::Search(hits)),
            Response::Status(ok(tag, None, "SEARCH completed")),
        ],
        after: After::Nothing,
    }
}
