//! The selected mailbox as a session sees it: the entries in UID order
//! (sequence number = position + 1), sequence sets resolved against them,
//! and what changed since the session last looked, as untagged responses.

use std::num::NonZeroU32;
use std::sync::Arc;

use imap_next::imap_types::core::Vec1;
use imap_next::imap_types::fetch::MessageDataItem;
use imap_next::imap_types::response::Data;
use imap_next::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

use imap_next::imap_types::flag::FlagFetch;

use super::condstore::Resync;
use super::flags::Recent;
use crate::store::imap::{FolderChanges, ImapEntry};
use crate::store::keywords::Keywords;
use crate::store::mailbox::Folder;

pub struct Selected {
    pub folder: Folder,
    pub read_only: bool,
    /// Shared with the store's view of the folder until this session
    /// changes something (then copied: [`Selected::entries_mut`]).
    pub entries: Arc<Vec<ImapEntry>>,
    /// The folder's modification sequence the entries reflect: what changed
    /// after it is all the session asks for next time.
    pub modseq: u64,
    /// UIDs removed elsewhere that the client has not been told of yet
    /// (no EXPUNGE during FETCH, STORE or SEARCH, RFC 3501 §7.4.1).
    pending_vanished: Vec<u32>,
    /// The user's keyword names as the client was last told them (FLAGS).
    pub keywords: Arc<Keywords>,
    /// The messages recent to this session.
    pub recent: Recent,
    /// The highest UID whose recency was settled (claimed or not).
    pub claimed: u32,
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
    /// `entries` as read after `modseq` (so nothing older is missing);
    /// none recent until [`Selected::recent`] says so.
    pub fn new(
        folder: Folder,
        read_only: bool,
        entries: Arc<Vec<ImapEntry>>,
        modseq: u64,
        keywords: Arc<Keywords>,
    ) -> Selected {
        let claimed = entries.last().map_or(0, |e| e.uid);
        Selected {
            folder,
            read_only,
            entries,
            modseq,
            pending_vanished: Vec::new(),
            keywords,
            recent: Recent::default(),
            claimed,
        }
    }

    /// An entry's flags as this session says them (`\Recent`, keywords).
    pub fn flag_list(&self, e: &ImapEntry) -> Vec<FlagFetch<'static>> {
        super::flags::fetch_list(e.flags, self.recent.contains(e.uid), &self.keywords)
    }

    /// An entry's flags changed elsewhere, told as the client asked
    /// (RFC 7162 §3.1.4, §3.2.4: with MODSEQ, and the UID too under
    /// QRESYNC).
    fn flags_of(&self, seq: usize, e: &ImapEntry, resync: Resync) -> Data<'static> {
        if resync == Resync::QResync {
            return super::condstore::changed_fetch(seq, e, self.flag_list(e));
        }
        let mut items = vec![MessageDataItem::Flags(self.flag_list(e))];
        if resync == Resync::CondStore {
            items.push(MessageDataItem::ModSeq(super::condstore::modseq(e.modseq)));
        }
        Data::Fetch {
            seq: nz(seq),
            items: Vec1::try_from(items)
                .unwrap_or_else(|_| Vec1::from(MessageDataItem::Flags(Vec::new()))),
        }
    }

    pub fn exists(&self) -> u32 {
        self.entries.len() as u32
    }

    /// The entries to change (copied first if shared).
    pub fn entries_mut(&mut self) -> &mut Vec<ImapEntry> {
        Arc::make_mut(&mut self.entries)
    }

    fn position(&self, uid: u32) -> Option<usize> {
        self.entries.binary_search_by_key(&uid, |e| e.uid).ok()
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

    /// Take in what changed (rows that arrived or changed flags, UIDs
    /// removed) without removing anything: flags changed elsewhere are
    /// told (FETCH FLAGS), new messages added (EXISTS); removals wait for
    /// a moment an EXPUNGE may be sent (RFC 3501 §7.4.1: not during FETCH,
    /// STORE or SEARCH).
    pub fn apply_soft(&mut self, changes: FolderChanges, resync: Resync) -> Vec<Data<'static>> {
        let mut out = Vec::new();
        if changes.modseq <= self.modseq && changes.changed.is_empty() {
            return out;
        }
        self.modseq = self.modseq.max(changes.modseq);
        self.pending_vanished.extend(changes.vanished);
        let mut added = false;
        for c in changes.changed {
            match self.position(c.uid) {
                Some(i) => {
                    let now = &self.entries[i];
                    let told = now.flags != c.flags;
                    if told || now.modseq < c.modseq {
                        let e = &mut self.entries_mut()[i];
                        e.modseq = e.modseq.max(c.modseq);
                        e.flags = c.flags;
                        if told {
                            let e = &self.entries[i];
                            out.push(self.flags_of(i + 1, e, resync));
                        }
                    }
                }
                None if self.pending_vanished.contains(&c.uid) => {}
                None => {
                    // a UID above every one shown is new mail; one below
                    // (a commit that overtook another) still belongs in
                    // UID order
                    let at = self.entries.partition_point(|e| e.uid < c.uid);
                    self.entries_mut().insert(at, c);
                    added = true;
                }
            }
        }
        if added {
            // RFC 3501 §7.3.2: RECENT beside EXISTS
            out.push(Data::Exists(self.exists()));
            out.push(Data::Recent(self.recent.count(&self.entries)));
        }
        out
    }

    /// Take in what changed and tell the client all of it (RFC 3501
    /// §7.4.1, §5.2): EXPUNGE for entries gone first (highest first so
    /// each number is right when it is read), then FETCH FLAGS for entries
    /// whose flags changed elsewhere and EXISTS when it grew — each number
    /// as the client holds it when it reads the response.
    pub fn apply(&mut self, mut changes: FolderChanges, resync: Resync) -> Vec<Data<'static>> {
        let gone = std::mem::take(&mut changes.vanished);
        changes
            .changed
            .retain(|c| gone.binary_search(&c.uid).is_err());
        self.pending_vanished.extend(gone);
        let mut out = self.expunge_pending(resync);
        out.extend(self.apply_soft(changes, resync));
        out
    }

    /// Removals held back until now, as EXPUNGE responses (highest first),
    /// or one VANISHED under QRESYNC (RFC 7162 §3.2.10).
    pub fn expunge_pending(&mut self, resync: Resync) -> Vec<Data<'static>> {
        let mut gone = std::mem::take(&mut self.pending_vanished);
        gone.sort_unstable();
        gone.dedup();
        let mut out = Vec::new();
        let mut removed = Vec::new();
        for uid in gone.into_iter().rev() {
            if let Some(i) = self.position(uid) {
                self.entries_mut().remove(i);
                out.push(Data::Expunge(nz(i + 1)));
                removed.push(uid);
            }
        }
        if resync == Resync::QResync {
            removed.reverse();
            return super::condstore::sequence_set(&super::condstore::ranges(&removed))
                .map(|known_uids| Data::Vanished {
                    earlier: false,
                    known_uids,
                })
                .into_iter()
                .collect();
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
            modseq: 1,
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
            Arc::new(vec![e(10, false), e(20, true), e(300, false)]),
            1,
            Default::default(),
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

    fn changes(modseq: u64, changed: Vec<ImapEntry>, vanished: Vec<u32>) -> FolderChanges {
        FolderChanges {
            modseq,
            changed,
            vanished,
        }
    }

    #[test]
    fn changes_become_untagged_responses() {
        let mut s = Selected::new(
            Folder::Inbox,
            false,
            Arc::new(vec![e(10, false), e(20, false), e(30, false)]),
            5,
            Default::default(),
        );
        // 20 expunged elsewhere, 30 read in the webmail, 40 arrived
        let out = s.apply(
            changes(8, vec![e(30, true), e(40, false)], vec![20]),
            Resync::Off,
        );
        let text: Vec<String> = out.iter().map(|d| format!("{d:?}")).collect();
        assert_eq!(text.len(), 4, "{text:?}");
        assert!(text[0].contains("Expunge(2)"), "{text:?}");
        assert!(
            text[1].contains("Fetch") && text[1].contains("seq: 2"),
            "30 is the second now: {text:?}"
        );
        assert!(text[2].contains("Exists(3)"), "{text:?}");
        assert!(text[3].contains("Recent(0)"), "{text:?}");
        assert_eq!(s.modseq, 8);
        assert_eq!(
            s.entries.iter().map(|e| e.uid).collect::<Vec<_>>(),
            [10, 30, 40]
        );
        // told once: the same changes again say nothing
        assert_eq!(
            s.apply(changes(8, vec![e(30, true)], vec![20]), Resync::Off),
            Vec::new()
        );
    }

    #[test]
    fn removals_wait_for_a_moment_expunge_may_be_sent() {
        let mut s = Selected::new(
            Folder::Inbox,
            false,
            Arc::new(vec![e(10, false), e(20, false)]),
            1,
            Default::default(),
        );
        // during FETCH: 10 removed elsewhere stays, 20 read is told
        let out = s.apply_soft(changes(3, vec![e(20, true)], vec![10]), Resync::Off);
        assert_eq!(out.len(), 1);
        assert_eq!(s.exists(), 2);
        // a later change of a removed row does not bring it back
        assert!(s
            .apply_soft(changes(4, vec![], vec![]), Resync::Off)
            .is_empty());
        // then NOOP: the EXPUNGE, once
        let out = s.apply(changes(4, vec![], vec![]), Resync::Off);
        assert_eq!(format!("{out:?}"), "[Expunge(1)]");
        assert_eq!(s.exists(), 1);
        assert!(s.apply(changes(4, vec![], vec![]), Resync::Off).is_empty());
    }
}
