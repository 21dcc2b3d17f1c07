//! The commands that read messages (RFC 3501 §6.4.4, §6.4.5): FETCH and
//! SEARCH, with their UID forms. Bodies are read a batch at a time (one
//! query) and turned into items off the async workers.

use std::num::NonZeroU32;

use imap_next::imap_types::command::FetchModifier;
use imap_next::imap_types::core::{Tag, Vec1};
use imap_next::imap_types::fetch::{
    MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName,
};
use imap_next::imap_types::flag::FlagFetch;
use imap_next::imap_types::response::{Data, Response};
use imap_next::imap_types::search::SearchKey;
use imap_next::imap_types::sequence::SequenceSet;

use super::condstore::{self, Resync};
use super::fetch;
use super::reply::{bad, nz, ok, unavailable};
use super::search;
use super::session::{After, Outcome, Session, State};
use crate::store::imap::{FlagOp, Flags, ImapEntry};

/// Messages read and built per batch (one query, one blocking task).
const FETCH_BATCH: usize = 200;
/// …and at most this many bytes of them (memory stays bounded whatever
/// the mailbox holds; a single larger message is a batch of its own).
const BATCH_BYTES: u64 = 32 * 1024 * 1024;

/// Split positions into batches of at most [`FETCH_BATCH`] messages and
/// [`BATCH_BYTES`] bytes.
fn batches(entries: &[ImapEntry], positions: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (k, &i) in positions.iter().enumerate() {
        let size = u64::from(entries[i].size);
        if k > start && (k - start >= FETCH_BATCH || bytes + size > BATCH_BYTES) {
            out.push(start..k);
            start = k;
            bytes = 0;
        }
        bytes += size;
    }
    if start < positions.len() {
        out.push(start..positions.len());
    }
    out
}

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
    modifiers: &[FetchModifier],
) -> Outcome {
    let changed_since = modifiers.iter().find_map(|m| match m {
        FetchModifier::ChangedSince(n) => Some(n.get()),
        FetchModifier::Vanished => None,
    });
    let vanished = modifiers.contains(&FetchModifier::Vanished);
    // RFC 7162 §3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE,
    // once QRESYNC is enabled
    if vanished && (!uid || changed_since.is_none() || s.resync < Resync::QResync) {
        return Outcome::one(bad(
            tag,
            "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC",
        ));
    }
    let mut names = item_names(names);
    if changed_since.is_some() || names.contains(&MessageDataItemName::ModSeq) {
        // a CONDSTORE-enabling command (RFC 7162 §3.1)
        s.resync = s.resync.max(Resync::CondStore);
    }
    let State::Selected(user, sel) = &mut s.state else {
        return Outcome::one(bad(tag, "Select a mailbox first"));
    };
    let mut positions = match sel.resolve(set, uid) {
        Ok(p) => p,
        Err(e) => return Outcome::one(bad(tag, e)),
    };
    if uid && !names.iter().any(|n| matches!(n, MessageDataItemName::Uid)) {
        // RFC 3501 §6.4.8: UID FETCH always returns the UID
        names.insert(0, MessageDataItemName::Uid);
    }
    let mut responses = Vec::new();
    if let Some(since) = changed_since {
        // only what changed after the client's sequence, with its MODSEQ
        positions.retain(|&i| sel.entries[i].modseq > since);
        if !names.contains(&MessageDataItemName::ModSeq) {
            names.push(MessageDataItemName::ModSeq);
        }
        if vanished {
            let (user, folder) = (*user, sel.folder);
            match condstore::vanished_since(
                &s.ctx.store,
                user,
                folder,
                since,
                Some(set),
                &sel.entries,
            )
            .await
            {
                Ok(gone) => {
                    if let Some(known_uids) = condstore::sequence_set(&gone) {
                        responses.push(Response::Data(Data::Vanished {
                            earlier: true,
                            known_uids,
                        }));
                    }
                }
                Err(_) => return Outcome::one(unavailable(tag)),
            }
        }
    }
    if names.iter().any(|n| {
        matches!(
            n,
            MessageDataItemName::Binary { .. } | MessageDataItemName::BinarySize { .. }
        )
    }) {
        return Outcome::one(bad(tag, "BINARY is not supported"));
    }
    let needs_raw = names.iter().any(|n| {
        !matches!(
            n,
            MessageDataItemName::Flags
                | MessageDataItemName::InternalDate
                | MessageDataItemName::Rfc822Size
                | MessageDataItemName::Uid
                | MessageDataItemName::ModSeq
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
    let ranges = batches(&sel.entries, &positions);
    Outcome {
        responses,
        after: After::Nothing,
        job: Some(Box::new(FetchJob {
            tag: tag.clone(),
            names,
            positions,
            ranges,
            next: 0,
            needs_raw,
            marks_seen,
            uid,
            newly_seen: Vec::new(),
        })),
    }
}

/// A FETCH in progress: the driver sends each batch's responses before the
/// next batch is read, so memory holds one batch whatever the set names.
pub struct FetchJob {
    tag: Tag<'static>,
    names: Vec<MessageDataItemName<'static>>,
    positions: Vec<usize>,
    ranges: Vec<std::ops::Range<usize>>,
    next: usize,
    needs_raw: bool,
    marks_seen: bool,
    uid: bool,
    newly_seen: Vec<u32>,
}

impl FetchJob {
    /// The next batch's responses; `true` once the tagged response is in.
    pub async fn step(&mut self, s: &mut Session) -> (Vec<Response<'static>>, bool) {
        let tag = self.tag.clone();
        let State::Selected(user, sel) = &mut s.state else {
            return (
                vec![Response::Status(bad(&tag, "Select a mailbox first"))],
                true,
            );
        };
        let user = *user;
        let store = s.ctx.store.clone();
        let Some(range) = self.ranges.get(self.next).cloned() else {
            // done: what this FETCH read is \Seen now, then the tagged OK
            if !self.newly_seen.is_empty() {
                let seen = Flags {
                    seen: true,
                    ..Default::default()
                };
                match store
                    .imap_store_flags(user, sel.folder, &self.newly_seen, FlagOp::Add, seen)
                    .await
                {
                    // the view takes the new modification sequences
                    Ok(now) => {
                        for e in now {
                            if let Ok(i) = sel.entries.binary_search_by_key(&e.uid, |x| x.uid) {
                                sel.entries_mut()[i] = e;
                            }
                        }
                    }
                    Err(_) => return (vec![Response::Status(unavailable(&tag))], true),
                }
            }
            let text = if self.uid {
                "UID FETCH completed"
            } else {
                "FETCH completed"
            };
            return (vec![Response::Status(ok(&tag, None, text))], true);
        };
        self.next += 1;
        let chunk = &self.positions[range];
        let uids: Vec<u32> = chunk
            .iter()
            .filter_map(|&i| sel.entries.get(i).map(|e| e.uid))
            .collect();
        let mut raws: std::collections::HashMap<u32, Vec<u8>> = if self.needs_raw {
            match store.imap_raws(user, sel.folder, &uids).await {
                Ok(r) => r.into_iter().collect(),
                Err(_) => return (vec![Response::Status(unavailable(&tag))], true),
            }
        } else {
            Default::default()
        };
        let mut work = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let Some(entry) = sel.entries.get(i).cloned() else {
                continue;
            };
            let raw = if self.needs_raw {
                // gone meanwhile (another session expunged it): skipped
                match raws.remove(&entry.uid) {
                    Some(r) => Some(r),
                    None => continue,
                }
            } else {
                None
            };
            let seen_now = self.marks_seen && !entry.flags.seen;
            let mut flags = entry.flags;
            if seen_now {
                flags.seen = true;
                self.newly_seen.push(entry.uid);
                sel.entries_mut()[i].flags.seen = true;
            }
            let recent = sel.recent.contains(entry.uid);
            let flags = super::flags::fetch_list(flags, recent, &sel.keywords);
            work.push((i as u32 + 1, entry, flags, raw, seen_now));
        }
        let names = self.names.clone();
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
        let responses = built
            .into_iter()
            .filter_map(|(seq, items)| {
                Vec1::try_from(items).ok().map(|items| {
                    Response::Data(Data::Fetch {
                        seq: nz(seq),
                        items,
                    })
                })
            })
            .collect();
        (responses, false)
    }
}

/// The items of one FETCH response.
fn build_items(
    entry: &ImapEntry,
    flags: Vec<FlagFetch<'static>>,
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
                MessageDataItem::Flags(flags.clone())
            }
            (MessageDataItemName::InternalDate, ..) => {
                match fetch::internal_date(entry.received_at) {
                    Some(d) => MessageDataItem::InternalDate(d),
                    None => continue,
                }
            }
            (MessageDataItemName::Rfc822Size, ..) => MessageDataItem::Rfc822Size(entry.size),
            (MessageDataItemName::ModSeq, ..) => {
                MessageDataItem::ModSeq(condstore::modseq(entry.modseq))
            }
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
        out.push(MessageDataItem::Flags(flags));
    }
    out
}

pub async fn search_cmd(
    s: &mut Session,
    tag: &Tag<'static>,
    key: &SearchKey<'static>,
    uid: bool,
) -> Outcome {
    let by_modseq = search::mentions_modseq(key);
    if by_modseq {
        // a CONDSTORE-enabling command (RFC 7162 §3.1)
        s.resync = s.resync.max(Resync::CondStore);
    }
    let State::Selected(user, sel) = &s.state else {
        return Outcome::one(bad(tag, "Select a mailbox first"));
    };
    let user = *user;
    let entries = sel.entries.clone();
    let folder = sel.folder;
    let (recent, keywords) = (
        std::sync::Arc::new(sel.recent.clone()),
        sel.keywords.clone(),
    );
    // header and text criteria through the indexes first
    let mut terms = Vec::new();
    let plan = search::plan(key, &mut terms);
    let mut hits = Vec::with_capacity(terms.len());
    for t in &terms {
        match s.ctx.store.imap_search_indexed(user, folder, t).await {
            Ok(h) => hits.push(h),
            Err(_) => return Outcome::one(unavailable(tag)),
        }
    }
    let (plan, hits) = (std::sync::Arc::new(plan), std::sync::Arc::new(hits));
    let largest_uid = entries.last().map(|e| e.uid).unwrap_or(0);
    let largest_seq = entries.len() as u32;
    // first what the entries and the indexes decide; the messages only of
    // the entries they leave open (a substring's candidates, an unindexed
    // header)
    let (mut found_all, open) = {
        let (plan, hits, entries) = (plan.clone(), hits.clone(), entries.clone());
        let (recent, keywords) = (recent.clone(), keywords.clone());
        tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            let mut open = Vec::new();
            for (i, e) in entries.iter().enumerate() {
                let c = search::Candidate {
                    seq: i as u32 + 1,
                    entry: e,
                    message: None,
                    largest_seq,
                    largest_uid,
                    recent: recent.contains(e.uid),
                    keywords: &keywords,
                };
                match search::plan_decide(&plan, &c, &hits) {
                    Some(true) => found.push((i, e.modseq)),
                    Some(false) => {}
                    None => open.push(i),
                }
            }
            (found, open)
        })
        .await
        .unwrap_or_default()
    };
    for range in batches(&entries, &open) {
        let positions: Vec<usize> = open[range].to_vec();
        let uids: Vec<u32> = positions.iter().map(|&i| entries[i].uid).collect();
        let raws: std::collections::HashMap<u32, Vec<u8>> =
            match s.ctx.store.imap_raws(user, folder, &uids).await {
                Ok(r) => r.into_iter().collect(),
                Err(_) => return Outcome::one(unavailable(tag)),
            };
        let (plan, hits) = (plan.clone(), hits.clone());
        let entries = entries.clone();
        let (recent, keywords) = (recent.clone(), keywords.clone());
        let found = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for i in positions {
                let e = &entries[i];
                let parsed = raws.get(&e.uid).and_then(|r| search::parse(r));
                let c = search::Candidate {
                    seq: i as u32 + 1,
                    entry: e,
                    message: parsed.as_ref(),
                    largest_seq,
                    largest_uid,
                    recent: recent.contains(e.uid),
                    keywords: &keywords,
                };
                if search::plan_matches(&plan, &c, &hits) {
                    out.push((i, e.modseq));
                }
            }
            out
        })
        .await
        .unwrap_or_default();
        found_all.extend(found);
    }
    found_all.sort_unstable();
    let found_all: Vec<(NonZeroU32, u64)> = found_all
        .into_iter()
        .map(|(i, modseq)| {
            let n = if uid { entries[i].uid } else { i as u32 + 1 };
            (nz(n), modseq)
        })
        .collect();
    let highest = found_all.iter().map(|f| f.1).max().filter(|_| by_modseq);
    let found_all = found_all.into_iter().map(|f| f.0).collect();
    Outcome {
        responses: vec![
            Response::Data(Data::Search(found_all, highest.map(condstore::modseq))),
            Response::Status(ok(tag, None, "SEARCH completed")),
        ],
        after: After::Nothing,
        job: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MessageId;

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        let e = |size: u32| ImapEntry {
            uid: 1,
            message: MessageId(1),
            flags: Default::default(),
            received_at: 0,
            size,
            modseq: 1,
        };
        let small: Vec<ImapEntry> = (0..450).map(|_| e(10)).collect();
        let all: Vec<usize> = (0..450).collect();
        assert_eq!(batches(&small, &all), [0..200, 200..400, 400..450]);
        let big = vec![e(20 << 20), e(20 << 20), e(60 << 20), e(1)];
        assert_eq!(batches(&big, &[0, 1, 2, 3]), [0..1, 1..2, 2..3, 3..4]);
        assert!(batches(&big, &[]).is_empty());
    }
}
