//! A message's MIME structure as IMAP numbers it (RFC 3501 §6.4.5): byte
//! ranges of each part's header and body in the raw message, and what
//! BODYSTRUCTURE reports about it. Built from mail-parser's parse (no
//! hand-written MIME parsing); pure.

use std::ops::Range;

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// One header field as written: its name, and its value unfolded (CRLF
/// + whitespace joined), not decoded.
pub fn header_fields(block: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(String::from_utf8_lossy(line).trim());
            }
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon]).trim().to_string();
            let value = String::from_utf8_lossy(&line[colon + 1..])
                .trim()
                .to_string();
            out.push((name, value));
        }
    }
    out
}

/// Where the header ends (after the blank line), or the whole message.
pub fn header_end(raw: &[u8]) -> usize {
    if raw.starts_with(b"\r\n") {
        return 2;
    }
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
        .unwrap_or(raw.len())
}

/// The first value of a header field, raw.
pub fn header<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What BODYSTRUCTURE says about a part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartInfo {
    /// Lower-case type and subtype ("text", "plain").
    pub ctype: String,
    pub subtype: String,
    pub params: Vec<(String, String)>,
    pub id: Option<String>,
    pub description: Option<String>,
    pub encoding: String,
    pub disposition: Option<(String, Vec<(String, String)>)>,
    pub language: Vec<String>,
    pub location: Option<String>,
}

/// A part of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its MIME header (for a whole message: the message header, with the
    /// blank line that ends it).
    pub header: Range<usize>,
    /// Its body octets.
    pub body: Range<usize>,
    pub info: PartInfo,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Single,
    Multi(Vec<Node>),
    /// message/rfc822: the message inside (its own header and body).
    Message(Box<Node>),
}

impl Node {
    /// Lines of the body (text and message parts): its line breaks, as
    /// Dovecot and Cyrus count them.
    pub fn lines(&self, raw: &[u8]) -> u32 {
        raw[self.body.clone()]
            .iter()
            .filter(|&&c| c == b'\n')
            .count() as u32
    }

    /// The part a section's numbers name (RFC 3501 §6.4.5): in a multipart,
    /// the nth child; in a message/rfc822, numbers go on in the message
    /// inside; a single part is its own part 1.
    pub fn part(&self, path: &[u32]) -> Option<&Node> {
        let Some((&first, rest)) = path.split_first() else {
            return Some(self);
        };
        let next = match &self.kind {
            Kind::Multi(children) => children.get(first.checked_sub(1)? as usize)?,
            // a message whose body is a message (message/rfc822 at the
            // top): that body is its part 1, numbers go on inside it
            Kind::Message(inner) if first == 1 => {
                return if rest.is_empty() {
                    Some(self)
                } else {
                    inner.part(rest)
                }
            }
            Kind::Message(_) => return None,
            Kind::Single if first == 1 && rest.is_empty() => return Some(self),
            Kind::Single => return None,
        };
        if rest.is_empty() {
            return Some(next);
        }
        match &next.kind {
            Kind::Message(inner) => inner.part(rest),
            _ => next.part(rest),
        }
    }
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn info_of(part: &mail_parser::MessagePart<'_>, default: (&str, &str)) -> PartInfo {
    let (ctype, subtype, params) = match part.content_type() {
        Some(ct) => (
            lower(ct.ctype()),
            ct.subtype()
                .map(lower)
                .unwrap_or_else(|| default.1.to_string()),
            ct.attributes()
                .map(|a| {
                    a.iter()
                        .map(|at| (lower(&at.name), at.value.to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        None => (default.0.to_string(), default.1.to_string(), Vec::new()),
    };
    let mut params: Vec<(String, String)> = params;
    if ctype == "text" && !params.iter().any(|(k, _)| k == "charset") {
        params.push(("charset".into(), "us-ascii".into()));
    }
    let disposition = part.content_disposition().map(|d| {
        (
            lower(d.ctype()),
            d.attributes()
                .map(|a| {
                    a.iter()
                        .map(|at| (lower(&at.name), at.value.to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        )
    });
    PartInfo {
        ctype,
        subtype,
        params,
        id: part.content_id().map(|s| format!("<{s}>")),
        description: part.content_description().map(str::to_string),
        encoding: part
            .content_transfer_encoding()
            .map(|e| e.to_ascii_uppercase())
            .unwrap_or_else(|| "7BIT".into()),
        disposition,
        language: part
            .content_language()
            .as_text_list()
            .map(|l| l.iter().map(|s| s.to_string()).collect())
            .or_else(|| {
                part.content_language()
                    .as_text()
                    .map(|s| vec![s.to_string()])
            })
            .unwrap_or_default(),
        location: part.content_location().map(str::to_string),
    }
}

/// Where a (possibly nested) parsed message sits in the outer raw bytes.
fn base_of(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let o = outer.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    (i >= o && i + inner.len() <= o + outer.len()).then(|| i - o)
}

fn build(
    raw: &[u8],
    msg: &mail_parser::Message<'_>,
    base: usize,
    id: usize,
    default: (&str, &str),
    end: usize,
) -> Option<Node> {
    let part = msg.parts.get(id)?;
    let clamp = |x: u32| (base + x as usize).min(raw.len());
    let header = clamp(part.offset_header)..clamp(part.offset_body);
    let body = clamp(part.offset_body)..clamp(part.offset_end).max(clamp(part.offset_body));
    let kind = match &part.body {
        PartType::Multipart(children) => {
            let is_digest = part
                .content_type()
                .and_then(|c| c.subtype())
                .is_some_and(|s| s.eq_ignore_ascii_case("digest"));
            let child_default = if is_digest {
                ("message", "rfc822")
            } else {
                ("text", "plain")
            };
            Kind::Multi(
                children
                    .iter()
                    .filter_map(|&c| build(raw, msg, base, c as usize, child_default, 0))
                    .collect(),
            )
        }
        PartType::Message(inner) => match base_of(raw, &inner.raw_message) {
            Some(b) => match build(raw, inner, b, 0, ("text", "plain"), body.end) {
                Some(n) => Kind::Message(Box::new(n)),
                None => Kind::Single,
            },
            // decoded from base64 or the like: shown as one part
            None => Kind::Single,
        },
        _ => Kind::Single,
    };
    let mut info = info_of(part, default);
    let mut body = body;
    // a message's text runs to the end of what holds it (a multipart's
    // epilogue included)
    if id == 0 {
        body.end = body.end.max(end.min(raw.len()));
    }
    if matches!(kind, Kind::Multi(_)) {
        if info.ctype != "multipart" {
            info.ctype = "multipart".into();
        }
        // a multipart inside a multipart ends with the line break after its
        // close delimiter (as Dovecot and Cyrus serve BODY[n])
        if id > 0 && raw.get(body.end..body.end + 2) == Some(b"\r\n") {
            body.end += 2;
        }
    }
    Some(Node {
        header,
        body,
        info,
        kind,
    })
}

/// The tree of `raw`; a message mail-parser cannot read is one text part.
pub fn tree(raw: &[u8]) -> Node {
    let fallback = || {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
            .unwrap_or(raw.len());
        Node {
            header: 0..split,
            body: split..raw.len(),
            info: PartInfo {
                ctype: "text".into(),
                subtype: "plain".into(),
                params: vec![("charset".into(), "us-ascii".into())],
                encoding: "7BIT".into(),
                ..Default::default()
            },
            kind: Kind::Single,
        }
    };
    match MessageParser::default().parse(raw) {
        Some(m) => build(raw, &m, 0, 0, ("text", "plain"), raw.len()).unwrap_or_else(fallback),
        None => fallback(),
    }
}

/// Only the header lines named (`not`: all but those), as `HEADER.FIELDS`
/// returns them: each field as written (with its continuation lines), then
/// the blank line.
pub fn select_fields(block: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in block.split_inclusive(|&b| b == b'\n') {
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        if bare.is_empty() {
            break;
        }
        if !matches!(bare[0], b' ' | b'\t') {
            let name = bare
                .iter()
                .position(|&b| b == b':')
                .map(|c| String::from_utf8_lossy(&bare[..c]).trim().to_string())
                .unwrap_or_default();
            let listed = names.iter().any(|n| n.eq_ignore_ascii_case(&name));
            keep = listed != not;
        }
        if keep {
            out.extend_from_slice(bare);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"From: a@example.test\r\nSubject: hi\r\n there\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\nworld\r\n--b1\r\n\
Content-Type: message/rfc822\r\n\r\nFrom: c@example.test\r\nSubject: inner\r\n\r\ninner body\r\n\
--b1\r\nContent-Type: application/pdf; name=\"x.pdf\"\r\nContent-Disposition: attachment; filename=\"x.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b1--\r\n";

    /// A message that is a message (message/rfc822 at the top): its body
    /// is part 1, and numbers go on inside it; a message's text runs to
    /// the end, a multipart's epilogue included (as Dovecot serves them).
    #[test]
    fn a_message_of_a_message_and_epilogues() {
        let raw: &[u8] = b"From: a@example.test\r\nContent-Type: message/rfc822\r\n\r\n\
From: b@example.test\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n\
--x\r\n\r\none\r\n--x--\r\nthe epilogue\r\n";
        let t = tree(raw);
        let one = t.part(&[1]).unwrap();
        assert!(String::from_utf8_lossy(&raw[one.body.clone()]).starts_with("From: b@"));
        let Kind::Message(inner) = &one.kind else {
            panic!("a message inside")
        };
        assert!(String::from_utf8_lossy(&raw[inner.header.clone()]).starts_with("From: b@"));
        assert!(String::from_utf8_lossy(&raw[inner.body.clone()]).ends_with("the epilogue\r\n"));
        assert_eq!(&raw[t.part(&[1, 1]).unwrap().body.clone()], b"one");
        assert!(t.part(&[2]).is_none());
    }

    #[test]
    fn parts_are_numbered_as_imap_does() {
        let t = tree(MIXED);
        assert_eq!(t.info.ctype, "multipart");
        assert_eq!(t.info.subtype, "mixed");
        let Kind::Multi(children) = &t.kind else {
            panic!("multipart")
        };
        assert_eq!(children.len(), 3);
        let p1 = t.part(&[1]).unwrap();
        assert_eq!(&MIXED[p1.body.clone()], b"Hello\r\nworld");
        assert_eq!(p1.lines(MIXED), 1);
        assert_eq!(
            p1.info.params,
            [("charset".to_string(), "utf-8".to_string())]
        );
        let p2 = t.part(&[2]).unwrap();
        assert!(matches!(p2.kind, Kind::Message(_)));
        assert!(
            String::from_utf8_lossy(&MIXED[p2.body.clone()]).starts_with("From: c@example.test")
        );
        // numbers go on inside the message
        let inner = t.part(&[2, 1]).unwrap();
        assert_eq!(&MIXED[inner.body.clone()], b"inner body");
        let p3 = t.part(&[3]).unwrap();
        assert_eq!(p3.info.encoding, "BASE64");
        assert_eq!(p3.info.disposition.as_ref().unwrap().0, "attachment");
        assert_eq!(
            &MIXED[p3.header.clone()][..38],
            b"Content-Type: application/pdf; name=\"x"
        );
        assert!(t.part(&[4]).is_none());
        assert!(t.part(&[1, 2]).is_none());
    }

    #[test]
    fn a_single_part_is_its_own_part_one_and_headers_are_raw() {
        let raw = b"Subject: =?utf-8?q?caf=C3=A9?=\r\nX-A: 1\r\n 2\r\n\r\nbody\r\n";
        let t = tree(raw);
        assert_eq!(t.part(&[1]), Some(&t));
        assert_eq!(&raw[t.header.clone()], &raw[..raw.len() - 6]);
        let f = header_fields(&raw[t.header.clone()]);
        assert_eq!(header(&f, "subject"), Some("=?utf-8?q?caf=C3=A9?="));
        assert_eq!(header(&f, "X-A"), Some("1 2"));
        assert_eq!(
            select_fields(&raw[t.header.clone()], &["x-a".into()], false),
            b"X-A: 1\r\n 2\r\n\r\n"
        );
        assert_eq!(
            select_fields(&raw[t.header.clone()], &["X-A".into()], true),
            b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n"
        );
    }
}
