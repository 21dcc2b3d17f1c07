//! RFC 7162 CONDSTORE and QRESYNC (ENABLE is the session's). Every mailbox
//! row carries the modification sequence of its last change and every
//! folder its highest (kept by the store's triggers), so a mail app that
//! comes back asks for what changed since it last looked — flags by
//! `FETCH … (CHANGEDSINCE n)`, removals by VANISHED — instead of reading
//! the folder again. What is built here: the session's mode, the
//! QRESYNC parameter of SELECT, and the VANISHED sets (from the removals
//! the store remembers, or, for a client older than that memory, from what
//! the folder no longer holds).

use std::num::NonZeroU64;

use imap_next::imap_types::command::SelectParameter;
use imap_next::imap_types::core::Vec1;
use imap_next::imap_types::fetch::MessageDataItem;
use imap_next::imap_types::flag::FlagFetch;
use imap_next::imap_types::response::{Data, Response};
use imap_next::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

use super::reply::nz;
use super::selected::{contains, Selected};
use crate::store::imap::ImapEntry;
use crate::store::mailbox::Folder;
use crate::store::{Result, Store, UserId};

/// What the client asked to be told of modification sequences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resync {
    /// Plain IMAP4rev1.
    #[default]
    Off,
    /// RFC 7162 §3.1: MODSEQ in every FETCH of changed flags.
    CondStore,
    /// RFC 7162 §3.2: also UIDs in those FETCHes, and VANISHED instead of
    /// EXPUNGE.
    QResync,
}

pub fn modseq(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN)
}

/// Ascending values as ranges of consecutive ones.
pub fn ranges(values: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &v in values {
        match out.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(v) || *end == v => *end = v,
            _ => out.push((v, v)),
        }
    }
    out
}

/// Ranges as a sequence set (None when empty).
pub fn sequence_set(ranges: &[(u32, u32)]) -> Option<SequenceSet> {
    let seqs: Vec<Sequence> = ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                Sequence::Single(SeqOrUid::Value(nz(a)))
            } else {
                Sequence::Range(SeqOrUid::Value(nz(a)), SeqOrUid::Value(nz(b)))
            }
        })
        .collect();
    Vec1::try_from(seqs).ok().map(SequenceSet)
}

/// A set's ranges within 1..=`largest` (`*` is `largest`), sorted and
/// merged.
fn set_ranges(set: &SequenceSet, largest: u32) -> Vec<(u32, u32)> {
    let value = |s: &SeqOrUid| match s {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => largest,
    };
    let mut r: Vec<(u32, u32)> = set
        .0
        .as_ref()
        .iter()
        .map(|s| match s {
            Sequence::Single(v) => (value(v), value(v)),
            Sequence::Range(a, b) => {
                let (a, b) = (value(a), value(b));
                (a.min(b), a.max(b))
            }
        })
        .filter(|&(a, _)| a <= largest)
        .map(|(a, b)| (a, b.min(largest)))
        .collect();
    r.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(r.len());
    for (a, b) in r {
        match out.last_mut() {
            Some((_, end)) if a <= end.saturating_add(1) => *end = (*end).max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `want` without the (ascending) `present` values.
fn without(want: &[(u32, u32)], present: &[u32]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for &(a, b) in want {
        let mut start = a;
        let from = present.partition_point(|&p| p < a);
        for &p in present[from..].iter().take_while(|&&p| p <= b) {
            if p > start {
                out.push((start, p - 1));
            }
            start = p.saturating_add(1);
        }
        if start <= b && !(start == u32::MAX && present.last() == Some(&u32::MAX)) {
            out.push((start, b));
        }
    }
    out
}

/// The UIDs within `within` (every UID when None) removed from the folder
/// after modification sequence `since`, as ranges for VANISHED (EARLIER).
/// When the store no longer remembers removals that old, every UID the
/// folder does not hold is named: RFC 7162 §3.2.5 lets VANISHED (EARLIER)
/// hold UIDs the client never saw (it ignores them).
pub async fn vanished_since(
    store: &Store,
    user: UserId,
    folder: Folder,
    since: u64,
    within: Option<&SequenceSet>,
    entries: &[ImapEntry],
) -> Result<Vec<(u32, u32)>> {
    if let Some(gone) = store.folder_vanished(user, folder, since).await? {
        let gone: Vec<u32> = gone
            .into_iter()
            .filter(|&u| within.is_none_or(|s| contains(s, u, u32::MAX)))
            .collect();
        return Ok(ranges(&gone));
    }
    let largest = store.imap_uid_next(user, folder).await?.saturating_sub(1);
    if largest == 0 {
        return Ok(Vec::new());
    }
    let want = match within {
        Some(s) => set_ranges(s, largest),
        None => vec![(1, largest)],
    };
    let present: Vec<u32> = entries.iter().map(|e| e.uid).collect();
    Ok(without(&want, &present))
}

/// A FETCH response telling a changed entry as QRESYNC asks: UID, FLAGS,
/// MODSEQ.
pub fn changed_fetch(seq: usize, e: &ImapEntry, flags: Vec<FlagFetch<'static>>) -> Data<'static> {
    let items = Vec1::try_from(vec![
        MessageDataItem::Uid(nz(e.uid)),
        MessageDataItem::Flags(flags),
        MessageDataItem::ModSeq(modseq(e.modseq)),
    ])
    .unwrap_or_else(|_| Vec1::from(MessageDataItem::Uid(nz(e.uid))));
    Data::Fetch {
        seq: nz(u32::try_from(seq).unwrap_or(u32::MAX)),
        items,
    }
}

/// The QRESYNC parameter of SELECT/EXAMINE (RFC 7162 §3.2.5): what
/// vanished since the client's modification sequence (VANISHED (EARLIER))
/// and the entries changed since, among the UIDs it knows. Nothing when
/// the UIDVALIDITY it knew is not this one (it starts over).
pub async fn select_resync(
    store: &Store,
    user: UserId,
    sel: &Selected,
    validity: u32,
    param: &SelectParameter,
) -> Result<Vec<Response<'static>>> {
    let SelectParameter::QResync {
        uid_validity,
        mod_sequence_value,
        known_uids,
        ..
    } = param
    else {
        return Ok(Vec::new());
    };
    if uid_validity.get() != validity {
        return Ok(Vec::new());
    }
    let since = mod_sequence_value.get();
    let mut out = Vec::new();
    let entries = &sel.entries;
    let gone = vanished_since(store, user, sel.folder, since, known_uids.as_ref(), entries).await?;
    if let Some(known_uids) = sequence_set(&gone) {
        out.push(Response::Data(Data::Vanished {
            earlier: true,
            known_uids,
        }));
    }
    for (i, e) in entries.iter().enumerate() {
        if e.modseq > since
            && known_uids
                .as_ref()
                .is_none_or(|s| contains(s, e.uid, u32::MAX))
        {
            out.push(Response::Data(changed_fetch(i + 1, e, sel.flag_list(e))));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> SequenceSet {
        SequenceSet::try_from(s).unwrap()
    }

    #[test]
    fn values_become_ranges() {
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), [(1, 3), (7, 7), (9, 10)]);
        assert_eq!(ranges(&[]), []);
        assert_eq!(
            ranges(&[u32::MAX - 1, u32::MAX]),
            [(u32::MAX - 1, u32::MAX)]
        );
        let s = sequence_set(&[(1, 3), (7, 7)]).unwrap();
        assert_eq!(set_ranges(&s, 100), [(1, 3), (7, 7)]);
        assert!(sequence_set(&[]).is_none());
    }

    #[test]
    fn sets_clamped_and_merged() {
        assert_eq!(set_ranges(&set("5:*,1,2,3"), 9), [(1, 3), (5, 9)]);
        assert_eq!(set_ranges(&set("20:30"), 9), []);
        assert_eq!(set_ranges(&set("8:30"), 9), [(8, 9)]);
    }

    #[test]
    fn what_the_folder_no_longer_holds() {
        assert_eq!(without(&[(1, 10)], &[2, 3, 7]), [(1, 1), (4, 6), (8, 10)]);
        assert_eq!(without(&[(1, 3)], &[1, 2, 3]), []);
        assert_eq!(without(&[(5, 6), (9, 9)], &[1, 6, 20]), [(5, 5), (9, 9)]);
        assert_eq!(without(&[(1, 3)], &[]), [(1, 3)]);
    }
}
