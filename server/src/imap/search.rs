//! SEARCH (RFC 3501 §6.4.4): a search key planned, then evaluated against
//! each message. [`plan`] hands FROM, TO, SUBJECT, BODY and TEXT to the
//! store's indexes ([`crate::store::imap_search`]); what is left is
//! evaluated here: flags, sizes, dates and sets from the entry, the other
//! header keys from the message (decoded with mail-parser; substrings,
//! case-insensitive — RFC 3501 leaves matching to the server). Pure.

use chrono::NaiveDate;
use imap_next::imap_types::core::AString;
use imap_next::imap_types::search::SearchKey;
use mail_parser::{Message, MessageParser};

use super::selected::contains;
use crate::store::grams::{body_text, header_text};
use crate::store::imap::ImapEntry;
use crate::store::imap_search::{Answer, HeaderColumn, IndexedTerm};
use crate::store::keywords::Keywords;

/// A search key with the criteria an index answers taken out.
#[derive(Debug, Clone)]
pub enum Plan {
    All(Vec<Plan>),
    Any(Box<Plan>, Box<Plan>),
    Not(Box<Plan>),
    /// Evaluated here, on the entry (and the message if it needs it).
    Key(SearchKey<'static>),
    /// The answer of the n-th indexed term (see [`plan`]); the key is
    /// evaluated here if the index could not answer.
    Indexed(usize, SearchKey<'static>),
}

/// Split `key` into what the indexes answer (`terms`, in the order their
/// answers are expected) and the rest.
pub fn plan(key: &SearchKey<'static>, terms: &mut Vec<IndexedTerm>) -> Plan {
    use SearchKey::*;
    let mut indexed = |t: IndexedTerm| {
        terms.push(t);
        Plan::Indexed(terms.len() - 1, key.clone())
    };
    let string = |a: &AString<'_>| String::from_utf8_lossy(a.as_ref()).into_owned();
    match key {
        And(list) => Plan::All(list.as_ref().iter().map(|k| plan(k, terms)).collect()),
        Or(a, b) => Plan::Any(Box::new(plan(a, terms)), Box::new(plan(b, terms))),
        Not(k) => Plan::Not(Box::new(plan(k, terms))),
        From(s) => indexed(IndexedTerm::Header(HeaderColumn::From, string(s))),
        To(s) => indexed(IndexedTerm::Header(HeaderColumn::To, string(s))),
        Cc(s) => indexed(IndexedTerm::Header(HeaderColumn::Cc, string(s))),
        // HEADER with a kept header and a string (an empty one asks
        // whether the header is there at all: the message is read)
        Header(name, value) if !value.as_ref().is_empty() => {
            match HeaderColumn::of_header(&String::from_utf8_lossy(name.as_ref())) {
                Some(col) => indexed(IndexedTerm::Header(col, string(value))),
                None => Plan::Key(key.clone()),
            }
        }
        Subject(s) => indexed(IndexedTerm::Header(HeaderColumn::Subject, string(s))),
        Body(s) => indexed(IndexedTerm::Body(string(s))),
        Text(s) => indexed(IndexedTerm::Text(string(s))),
        other => Plan::Key(other.clone()),
    }
}

/// What the entry and the indexes decide without the message: Some(the
/// answer), or None when the message must be read (a key on its content
/// that no index answered exactly).
pub fn plan_decide(p: &Plan, c: &Candidate<'_>, hits: &[Option<Answer>]) -> Option<bool> {
    match p {
        Plan::All(list) => {
            let mut open = false;
            for p in list {
                match plan_decide(p, c, hits) {
                    Some(false) => return Some(false),
                    None => open = true,
                    Some(true) => {}
                }
            }
            (!open).then_some(true)
        }
        Plan::Any(a, b) => match (plan_decide(a, c, hits), plan_decide(b, c, hits)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Plan::Not(a) => plan_decide(a, c, hits).map(|v| !v),
        Plan::Key(k) => (!needs_content(k)).then(|| matches(k, c)),
        Plan::Indexed(i, k) => match hits.get(*i) {
            Some(Some(a)) if a.exact => Some(a.uids.contains(&c.entry.uid)),
            Some(Some(a)) if !a.uids.contains(&c.entry.uid) => Some(false),
            _ => (!needs_content(k)).then(|| matches(k, c)),
        },
    }
}

/// Does the message match the plan (its content at hand)? `hits[i]`:
/// what the index said of the i-th indexed term (None: it could not say;
/// candidates: the key is checked on those).
pub fn plan_matches(p: &Plan, c: &Candidate<'_>, hits: &[Option<Answer>]) -> bool {
    match p {
        Plan::All(list) => list.iter().all(|p| plan_matches(p, c, hits)),
        Plan::Any(a, b) => plan_matches(a, c, hits) || plan_matches(b, c, hits),
        Plan::Not(a) => !plan_matches(a, c, hits),
        Plan::Key(k) => matches(k, c),
        Plan::Indexed(i, k) => match hits.get(*i) {
            Some(Some(a)) if a.exact => a.uids.contains(&c.entry.uid),
            Some(Some(a)) => a.uids.contains(&c.entry.uid) && matches(k, c),
            _ => matches(k, c),
        },
    }
}

/// Does the key need the message's bytes?
pub fn needs_content(k: &SearchKey<'_>) -> bool {
    use SearchKey::*;
    match k {
        And(list) => list.as_ref().iter().any(needs_content),
        Not(k) => needs_content(k),
        Or(a, b) => needs_content(a) || needs_content(b),
        Bcc(_) | Body(_) | Cc(_) | From(_) | Header(..) | Subject(_) | Text(_) | To(_)
        | SentBefore(_) | SentOn(_) | SentSince(_) => true,
        _ => false,
    }
}

/// What one message offers a search.
pub struct Candidate<'a> {
    pub seq: u32,
    pub entry: &'a ImapEntry,
    /// The message, parsed, when a key needs it.
    pub message: Option<&'a Message<'a>>,
    pub largest_seq: u32,
    pub largest_uid: u32,
    /// `\Recent` to this session.
    pub recent: bool,
    /// The user's keyword names (KEYWORD, UNKEYWORD).
    pub keywords: &'a Keywords,
}

fn text_of(a: &AString<'_>) -> String {
    String::from_utf8_lossy(a.as_ref()).to_lowercase()
}

fn has(hay: &str, needle: &str) -> bool {
    needle.is_empty() || hay.to_lowercase().contains(needle)
}

fn day(ms: i64) -> Option<NaiveDate> {
    chrono::DateTime::from_timestamp(ms.div_euclid(1000), 0).map(|d| d.date_naive())
}

/// The Date: header's day, in its own time zone (RFC 3501: "disregarding
/// time and timezone").
fn sent_day(m: &Message<'_>) -> Option<NaiveDate> {
    let d = m.date()?;
    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
}

pub fn matches(k: &SearchKey<'_>, c: &Candidate<'_>) -> bool {
    use SearchKey::*;
    let f = c.entry.flags;
    let m = c.message;
    let header = |name: &str, needle: &str| -> bool {
        m.and_then(|m| m.header(name))
            .map(|v| has(&header_text(v), needle))
            .unwrap_or(false)
    };
    match k {
        And(list) => list.as_ref().iter().all(|k| matches(k, c)),
        SequenceSet(s) => contains(s, c.seq, c.largest_seq),
        Uid(s) => contains(s, c.entry.uid, c.largest_uid),
        All => true,
        Answered => f.answered,
        Unanswered => !f.answered,
        Deleted => f.deleted,
        Undeleted => !f.deleted,
        Draft => f.draft,
        Undraft => !f.draft,
        Flagged => f.flagged,
        Unflagged => !f.flagged,
        Seen => f.seen,
        Unseen => !f.seen,
        New => c.recent && !f.seen,
        Old => !c.recent,
        Recent => c.recent,
        Keyword(k) => has_keyword(c, k.as_ref()),
        Unkeyword(k) => !has_keyword(c, k.as_ref()),
        Larger(n) => c.entry.size > *n,
        Smaller(n) => c.entry.size < *n,
        Before(d) => day(c.entry.received_at).is_some_and(|x| x < *d.as_ref()),
        On(d) => day(c.entry.received_at).is_some_and(|x| x == *d.as_ref()),
        Since(d) => day(c.entry.received_at).is_some_and(|x| x >= *d.as_ref()),
        SentBefore(d) => m.and_then(sent_day).is_some_and(|x| x < *d.as_ref()),
        SentOn(d) => m.and_then(sent_day).is_some_and(|x| x == *d.as_ref()),
        SentSince(d) => m.and_then(sent_day).is_some_and(|x| x >= *d.as_ref()),
        From(s) => header("From", &text_of(s)),
        To(s) => header("To", &text_of(s)),
        Cc(s) => header("Cc", &text_of(s)),
        Bcc(s) => header("Bcc", &text_of(s)),
        Subject(s) => header("Subject", &text_of(s)),
        Header(name, value) => {
            let name = String::from_utf8_lossy(name.as_ref()).into_owned();
            match m {
                Some(m) => m.headers().iter().any(|h| {
                    h.name().eq_ignore_ascii_case(&name)
                        && has(&header_text(h.value()), &text_of(value))
                }),
                None => false,
            }
        }
        Body(s) => m.is_some_and(|m| has(&body_text(m), &text_of(s))),
        Text(s) => {
            let needle = text_of(s);
            m.is_some_and(|m| {
                has(&body_text(m), &needle)
                    || m.headers()
                        .iter()
                        .any(|h| has(&header_text(h.value()), &needle))
            })
        }
        Not(k) => !matches(k, c),
        Or(a, b) => matches(a, c) || matches(b, c),
        // RFC 7162 §3.1.5: changed at or after that modification sequence
        ModSequence { modseq, .. } => c.entry.modseq >= *modseq,
    }
}

/// Does the entry carry this keyword (a name never used: no)?
fn has_keyword(c: &Candidate<'_>, name: &str) -> bool {
    c.keywords
        .bit(name)
        .is_some_and(|b| c.entry.flags.keywords & (1u64 << b) != 0)
}

/// Does the key ask by modification sequence (then the result carries the
/// highest of the matches, RFC 7162 §3.1.5)?
pub fn mentions_modseq(k: &SearchKey<'_>) -> bool {
    use SearchKey::*;
    match k {
        And(list) => list.as_ref().iter().any(mentions_modseq),
        Not(k) => mentions_modseq(k),
        Or(a, b) => mentions_modseq(a) || mentions_modseq(b),
        ModSequence { .. } => true,
        _ => false,
    }
}

/// Parse a message for [`matches`].
pub fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::imap::Flags;
    use crate::store::MessageId;
    use imap_next::imap_types::core::Vec1;

    const RAW: &[u8] = b"From: =?utf-8?q?Z=C3=B6e?= <zoe@example.test>\r\nTo: bob@example.test\r\n\
Subject: Budget meeting\r\nDate: Tue, 01 Dec 2026 09:00:00 +0100\r\nX-Prio: high\r\n\r\nThe numbers are final.\r\n";

    fn run(k: SearchKey<'_>, flags: Flags) -> bool {
        run_with(k, flags, false)
    }

    fn run_with(k: SearchKey<'_>, flags: Flags, recent: bool) -> bool {
        let keywords = Keywords::new(vec!["$Forwarded".into(), "Work".into()]);
        let parsed = parse(RAW);
        let entry = ImapEntry {
            uid: 42,
            message: MessageId(1),
            flags,
            received_at: 1_764_806_400_000, // 2025-12-04
            size: RAW.len() as u32,
            modseq: 1,
        };
        let c = Candidate {
            seq: 3,
            entry: &entry,
            message: if needs_content(&k) {
                parsed.as_ref()
            } else {
                None
            },
            largest_seq: 5,
            largest_uid: 50,
            recent,
            keywords: &keywords,
        };
        matches(&k, &c)
    }

    fn a(s: &str) -> AString<'static> {
        AString::try_from(s.to_string()).unwrap()
    }

    #[test]
    fn keys() {
        let none = Flags::default();
        assert!(run(SearchKey::From(a("zöe")), none), "decoded names match");
        assert!(run(SearchKey::From(a("ZOE@EXAMPLE")), none));
        assert!(!run(SearchKey::From(a("bob")), none));
        assert!(run(SearchKey::Subject(a("budget")), none));
        assert!(run(SearchKey::Text(a("numbers are")), none));
        assert!(
            run(SearchKey::Text(a("budget")), none),
            "TEXT looks in headers too"
        );
        assert!(!run(SearchKey::Body(a("budget")), none));
        assert!(run(SearchKey::Header(a("x-prio"), a("HIGH")), none));
        assert!(
            run(SearchKey::Header(a("x-prio"), a("")), none),
            "an empty value: the field exists"
        );
        assert!(run(SearchKey::Unseen, none));
        assert!(!run(SearchKey::Seen, none));
        assert!(run(SearchKey::Not(Box::new(SearchKey::Deleted)), none));
        let d = |y, m, d| {
            imap_next::imap_types::datetime::NaiveDate::try_from(
                NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            )
            .unwrap()
        };
        assert!(run(SearchKey::SentOn(d(2026, 12, 1)), none));
        assert!(run(SearchKey::Since(d(2025, 12, 4)), none));
        assert!(!run(SearchKey::Since(d(2025, 12, 5)), none));
        assert!(run(SearchKey::Before(d(2025, 12, 5)), none));
        assert!(run(SearchKey::Larger(10), none));
        let seen = Flags {
            seen: true,
            flagged: true,
            ..Default::default()
        };
        assert!(run(
            SearchKey::And(Vec1::try_from(vec![SearchKey::Seen, SearchKey::Flagged]).unwrap()),
            seen
        ));
        assert!(run(
            SearchKey::Or(Box::new(SearchKey::Deleted), Box::new(SearchKey::Flagged)),
            seen
        ));
        let work = Flags {
            keywords: 0b10,
            ..Default::default()
        };
        let atom = |s: &str| imap_next::imap_types::core::Atom::try_from(s.to_string()).unwrap();
        assert!(run(SearchKey::Keyword(atom("WORK")), work));
        assert!(!run(SearchKey::Keyword(atom("$Forwarded")), work));
        assert!(!run(SearchKey::Keyword(atom("$NeverNamed")), work));
        assert!(run(SearchKey::Unkeyword(atom("$NeverNamed")), work));
        assert!(!run(SearchKey::Unkeyword(atom("work")), work));
        // NEW is RECENT and UNSEEN; OLD is not RECENT
        assert!(run_with(SearchKey::New, none, true));
        assert!(!run_with(SearchKey::New, seen, true));
        assert!(!run_with(SearchKey::New, none, false));
        assert!(run_with(SearchKey::Old, seen, false));
        assert!(!run_with(SearchKey::Old, none, true));
        assert!(run_with(SearchKey::Recent, none, true));
        assert!(run(
            SearchKey::Uid(imap_next::imap_types::sequence::SequenceSet::try_from("40:*").unwrap()),
            none
        ));
        assert!(run(
            SearchKey::SequenceSet(
                imap_next::imap_types::sequence::SequenceSet::try_from("3").unwrap()
            ),
            none
        ));
    }
}
