//! The selected mailbox as a session sees it: the entries in UID order
//! (sequence number = position + 1), sequence sets resolved against them,
//! and what changed since the session last looked, as untagged responses.

use std::collections::HashMap;
use std::num::NonZeroU32;

use imap_next::imap_types::core::Vec1;
use imap_next::imap_types::fetch::MessageDataItem;
use imap_next::imap_types::response::Data;
use imap_next::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

use crate::store::imap::ImapEntry;
use crate::store::mailbox::Folder;

pub struct Selected {
    pub folder: Folder,
    pub read_only: bool,
    pub entries: Vec<ImapEntry>,
}

/// Is `n` in `set`, with `*` the largest value in use (RFC 3501 §9
/// seq-range: "3:*" in a mailbox whose largest is 2 means 2:3).
pub fn contains(set: &SequenceSet, n: u32, largest: u32) -> bool {
    let value = |s: &SeqOrUid| match s {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => largest,
    };
    set.0.as_ref().iter().any(|s| match s {
        Sequence::Single(v) => value(v) == n,
        Sequence::Range(a, b) => {
            let (a, b) = (value(a), value(b));
            (a.min(b)..=a.max(b)).contains(&n)
        }
    })
}

fn nz(n: usize) -> NonZeroU32 {
    NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX).max(1)).unwrap_or(NonZeroU32::MIN)
}

impl Selected {
    pub fn new(folder: Folder, read_only: bool, entries: Vec<ImapEntry>) -> Selected {
        Selected {
            folder,
            read_only,
            entries,
        }
    }

    pub fn exists(&self) -> u32 {
        self.entries.len() as u32
    }

    /// Positions (0-based) of the entries a set names, in order. `uid`: the
    /// set holds UIDs, else sequence numbers. An out-of-range sequence
    /// number is an error (RFC 3501 §9: a client must not name one).
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, &'static str> {
        if uid {
            let largest = self.entries.last().map(|e| e.uid).unwrap_or(0);
            return Ok((0..self.entries.len())
                .filter(|&i| contains(set, self.entries[i].uid, largest))
                .collect());
        }
        let n = self.entries.len() as u32;
        for s in set.0.as_ref() {
            let bad = |v: &SeqOrUid| matches!(v, SeqOrUid::Value(x) if x.get() > n);
            let out = match s {
                Sequence::Single(v) => bad(v),
                Sequence::Range(a, b) => bad(a) && bad(b),
            };
            if out {
                return Err("Invalid message sequence number");
            }
        }
        Ok((1..=n)
            .filter(|&i| contains(set, i, n))
            .map(|i| i as usize - 1)
            .collect())
    }

    /// During FETCH, STORE and SEARCH (RFC 3501 §7.4.1: no EXPUNGE then):
    /// flags changed elsewhere are taken and told (FETCH FLAGS), new
    /// messages added (EXISTS); entries gone stay until an EXPUNGE may be
    /// sent.
    pub fn update_soft(&mut self, now: Vec<ImapEntry>) -> Vec<Data<'static>> {
        let mut out = Vec::new();
        let fresh: HashMap<u32, &ImapEntry> = now.iter().map(|e| (e.uid, e)).collect();
        for (i, e) in self.entries.iter_mut().enumerate() {
            if let Some(n) = fresh.get(&e.uid) {
                if n.flags != e.flags {
                    e.flags = n.flags;
                    out.push(Data::Fetch {
                        seq: nz(i + 1),
                        items: Vec1::from(MessageDataItem::Flags(super::fetch::flags(e.flags))),
                    });
                }
            }
        }
        let last = self.entries.last().map(|e| e.uid).unwrap_or(0);
        let added: Vec<ImapEntry> = now.into_iter().filter(|e| e.uid > last).collect();
        if !added.is_empty() {
            self.entries.extend(added);
            out.push(Data::Exists(self.exists()));
        }
        out
    }

    /// Take the folder as it is now; return what the client must be told
    /// (RFC 3501 §7.4.1, §5.2): EXPUNGE for entries gone (highest first so
    /// each number is right when it is read), EXISTS when it grew, FETCH
    /// FLAGS for entries whose flags changed elsewhere.
    pub fn update(&mut self, now: Vec<ImapEntry>) -> Vec<Data<'static>> {
        let mut out = Vec::new();
        let kept: HashMap<u32, &ImapEntry> = now.iter().map(|e| (e.uid, e)).collect();
        for i in (0..self.entries.len()).rev() {
            if !kept.contains_key(&self.entries[i].uid) {
                out.push(Data::Expunge(nz(i + 1)));
            }
        }
        let before: HashMap<u32, crate::store::imap::Flags> =
            self.entries.iter().map(|e| (e.uid, e.flags)).collect();
        let had = self
            .entries
            .iter()
            .filter(|e| kept.contains_key(&e.uid))
            .count();
        self.entries = now;
        if self.entries.len() > had || !out.is_empty() {
            out.push(Data::Exists(self.exists()));
        }
        for (i, e) in self.entries.iter().enumerate() {
            if let Some(old) = before.get(&e.uid) {
                if *old != e.flags {
                    out.push(Data::Fetch {
                        seq: nz(i + 1),
                        items: Vec1::from(MessageDataItem::Flags(super::fetch::flags(e.flags))),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::imap::Flags;
    use crate::store::MessageId;

    fn e(uid: u32, seen: bool) -> ImapEntry {
        ImapEntry {
            uid,
            message: MessageId(uid as i64),
            flags: Flags {
                seen,
                ..Default::default()
            },
            received_at: 0,
            size: 10,
        }
    }

    fn set(s: &str) -> SequenceSet {
        SequenceSet::try_from(s).unwrap()
    }

    #[test]
    fn sets_of_uids_and_sequence_numbers() {
        let s = Selected::new(
            Folder::Inbox,
            false,
            vec![e(10, false), e(20, true), e(300, false)],
        );
        assert_eq!(s.resolve(&set("1:*"), false).unwrap(), [0, 1, 2]);
        assert_eq!(s.resolve(&set("2"), false).unwrap(), [1]);
        assert!(s.resolve(&set("4"), false).is_err());
        assert_eq!(s.resolve(&set("20:*"), true).unwrap(), [1, 2]);
        assert_eq!(s.resolve(&set("11:19"), true).unwrap(), Vec::<usize>::new());
        // "*" is the largest UID: 500:* names the last message
        assert_eq!(s.resolve(&set("500:*"), true).unwrap(), [2]);
        assert_eq!(s.resolve(&set("1,300"), true).unwrap(), [2]);
    }

    #[test]
    fn changes_become_untagged_responses() {
        let mut s = Selected::new(
            Folder::Inbox,
            false,
            vec![e(10, false), e(20, false), e(30, false)],
        );
        // 20 expunged elsewhere, 30 read in the webmail, 40 arrived
        let out = s.update(vec![e(10, false), e(30, true), e(40, false)]);
        let text: Vec<String> = out.iter().map(|d| format!("{d:?}")).collect();
        assert!(text[0].contains("Expunge(2)"), "{text:?}");
        assert!(text[1].contains("Exists(3)"), "{text:?}");
        assert!(
            text[2].contains("Fetch") && text[2].contains("seq: 2"),
            "{text:?}"
        );
        assert_eq!(s.update(s.entries.clone()), Vec::new());
    }
}
