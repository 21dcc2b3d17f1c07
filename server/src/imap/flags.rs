//! Flags as IMAP says them (RFC 3501 §2.3.2): the system flags, `\Recent`
//! and the user's keywords, in FETCH, FLAGS and PERMANENTFLAGS; the flag
//! lists of STORE and APPEND read back; and which messages are recent to
//! this session. A leaf: it calls nothing of the session's.

use imap_next::imap_types::core::{Atom, Tag};
use imap_next::imap_types::flag::{Flag, FlagFetch, FlagPerm};
use imap_next::imap_types::response::{Code, Data, Response, Status};

use crate::store::imap::{Flags, ImapEntry};
use crate::store::keywords::{KeywordRefusal, Keywords};

/// A flag list as STORE or APPEND gives it: the system flags and the
/// keywords' names (not yet bits: naming them may take a write).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Given {
    pub flags: Flags,
    pub keywords: Vec<String>,
}

/// Read a flag list. `\Recent` and unknown system flags are refused
/// (RFC 3501 §2.3.2: only the server sets `\Recent`).
pub fn given(list: &[Flag<'_>]) -> Result<Given, String> {
    let mut out = Given::default();
    for flag in list {
        match flag {
            Flag::Seen => out.flags.seen = true,
            Flag::Answered => out.flags.answered = true,
            Flag::Flagged => out.flags.flagged = true,
            Flag::Deleted => out.flags.deleted = true,
            Flag::Draft => out.flags.draft = true,
            Flag::Keyword(k) => {
                let k = k.as_ref();
                if !out.keywords.iter().any(|n| n.eq_ignore_ascii_case(k)) {
                    out.keywords.push(k.to_string());
                }
            }
            Flag::Extension(_) => return Err(format!("Invalid system flag {flag}")),
        }
    }
    Ok(out)
}

fn keyword_flags(kw: &Keywords, bits: u64) -> impl Iterator<Item = Flag<'static>> + '_ {
    kw.names(bits)
        .filter_map(|n| Atom::try_from(n.to_string()).ok().map(Flag::Keyword))
}

/// A message's flags in a FETCH response.
pub fn fetch_list(f: Flags, recent: bool, kw: &Keywords) -> Vec<FlagFetch<'static>> {
    let mut out = Vec::new();
    if recent {
        out.push(FlagFetch::Recent);
    }
    for (set, flag) in [
        (f.seen, Flag::Seen),
        (f.answered, Flag::Answered),
        (f.flagged, Flag::Flagged),
        (f.deleted, Flag::Deleted),
        (f.draft, Flag::Draft),
    ] {
        if set {
            out.push(FlagFetch::Flag(flag));
        }
    }
    out.extend(keyword_flags(kw, f.keywords).map(FlagFetch::Flag));
    out
}

/// The flags of a mailbox (its FLAGS response): the system ones and every
/// keyword the user has named.
pub fn defined(kw: &Keywords) -> Vec<Flag<'static>> {
    let mut out = vec![
        Flag::Answered,
        Flag::Flagged,
        Flag::Deleted,
        Flag::Seen,
        Flag::Draft,
    ];
    out.extend(keyword_flags(kw, u64::MAX));
    out
}

/// What a client may store for good (PERMANENTFLAGS): nothing when read
/// only; `\*` while more keywords may be named.
pub fn permanent(kw: &Keywords, read_only: bool) -> Vec<FlagPerm<'static>> {
    if read_only {
        return Vec::new();
    }
    let mut out: Vec<FlagPerm<'static>> = defined(kw).into_iter().map(FlagPerm::Flag).collect();
    if kw.can_grow() {
        out.push(FlagPerm::Asterisk);
    }
    out
}

/// FLAGS and PERMANENTFLAGS again: the keywords named grew (RFC 3501
/// §7.2.6: a client learns of a new one before a message shows it).
pub fn announce(kw: &Keywords, read_only: bool) -> [Response<'static>; 2] {
    [
        Response::Data(Data::Flags(defined(kw))),
        Response::Status(super::reply::untagged_ok(
            Some(Code::PermanentFlags(permanent(kw, read_only))),
            "Flags permitted",
        )),
    ]
}

/// Keywords STORE or APPEND could not name (RFC 5530 LIMIT).
pub fn refused(tag: &Tag<'static>, r: KeywordRefusal) -> Status<'static> {
    let text = match r {
        KeywordRefusal::TooMany => "Too many keywords: 64 may be named per user",
        KeywordRefusal::TooLong => "Keyword too long: 200 characters at most",
    };
    super::reply::no(tag, super::reply::code("LIMIT"), text)
}

/// The UIDs recent to this session: the ranges it claimed, each (after,
/// up to] — above the folder's mark when it claimed them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recent {
    ranges: Vec<(u32, u32)>,
}

impl Recent {
    /// UIDs above `after` up to `upto` are recent to this session.
    pub fn add(&mut self, after: u32, upto: u32) {
        if after < upto {
            self.ranges.push((after, upto));
        }
    }

    pub fn contains(&self, uid: u32) -> bool {
        self.ranges.iter().any(|&(a, b)| uid > a && uid <= b)
    }

    /// How many of `entries` (in UID order) are recent.
    pub fn count(&self, entries: &[ImapEntry]) -> u32 {
        self.ranges
            .iter()
            .map(|&(a, b)| {
                let lo = entries.partition_point(|e| e.uid <= a);
                let hi = entries.partition_point(|e| e.uid <= b);
                (hi - lo) as u32
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MessageId;

    fn text(f: &[FlagFetch<'_>]) -> String {
        f.iter()
            .map(|f| match f {
                FlagFetch::Recent => "\\Recent".to_string(),
                FlagFetch::Flag(f) => f.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn flags_said_and_read() {
        let kw = Keywords::new(vec!["$Forwarded".into(), "Work".into()]);
        let f = Flags {
            seen: true,
            draft: true,
            keywords: 0b10,
            ..Default::default()
        };
        assert_eq!(
            text(&fetch_list(f, true, &kw)),
            "\\Recent \\Seen \\Draft Work"
        );
        assert_eq!(defined(&kw).len(), 7);
        assert!(permanent(&kw, false).contains(&FlagPerm::Asterisk));
        assert!(permanent(&kw, true).is_empty());
        let list = [
            Flag::Seen,
            Flag::Keyword(Atom::try_from("$Junk").unwrap()),
            Flag::Keyword(Atom::try_from("$JUNK").unwrap()),
        ];
        let g = given(&list).unwrap();
        assert!(g.flags.seen);
        assert_eq!(g.keywords, ["$Junk"]);
        let recent = [Flag::system(Atom::try_from("Recent").unwrap())];
        assert_eq!(given(&recent).unwrap_err(), "Invalid system flag \\Recent");
    }

    #[test]
    fn recent_ranges() {
        let e = |uid: u32| ImapEntry {
            uid,
            message: MessageId(1),
            flags: Flags::default(),
            received_at: 0,
            size: 1,
            modseq: 1,
        };
        let entries: Vec<ImapEntry> = [1, 4, 5, 9, 12].into_iter().map(e).collect();
        let mut r = Recent::default();
        r.add(4, 9);
        r.add(7, 7);
        r.add(11, 20);
        assert!(!r.contains(4) && r.contains(5) && r.contains(9) && r.contains(12));
        assert_eq!(r.count(&entries), 3);
    }
}
