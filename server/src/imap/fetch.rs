//! FETCH (RFC 3501 §6.4.5, §7.4.2): the data items of one message, built
//! as imap-types values — FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE,
//! BODY / BODYSTRUCTURE, BODY[section]<partial> (and RFC822, .HEADER,
//! .TEXT). Pure: the session gives the stored bytes and flags.

use std::num::NonZeroU32;

use base64::Engine;
use imap_next::imap_types::body::{
    BasicFields, Body, BodyStructure, Disposition, Language, Location, MultiPartExtensionData,
    SinglePartExtensionData, SpecificFields,
};
use imap_next::imap_types::core::{IString, NString, Vec1};
use imap_next::imap_types::datetime::DateTime;
use imap_next::imap_types::envelope::{Address, Envelope};
use imap_next::imap_types::fetch::{MessageDataItem, Section};
use mail_parser::{HeaderValue, MessageParser};

use super::mime::{self, Kind, Node};

/// An nstring of bytes: a quoted string when it can be one, else a
/// literal (NUL, which a literal cannot carry, becomes 0x80).
pub fn nbytes(b: &[u8]) -> NString<'static> {
    match IString::try_from(b.to_vec()) {
        Ok(s) => NString(Some(s)),
        Err(_) => {
            let clean: Vec<u8> = b.iter().map(|&c| if c == 0 { 0x80 } else { c }).collect();
            NString(IString::try_from(clean).ok())
        }
    }
}

/// Message data (a section, RFC822…) always as a literal, as clients expect.
pub fn literal(b: &[u8]) -> NString<'static> {
    use imap_next::imap_types::core::Literal;
    let lit = Literal::try_from(b.to_vec()).or_else(|_| {
        Literal::try_from(
            b.iter()
                .map(|&c| if c == 0 { 0x80 } else { c })
                .collect::<Vec<u8>>(),
        )
    });
    match lit {
        Ok(l) => NString(Some(IString::Literal(l))),
        Err(_) => nbytes(b),
    }
}

pub fn nstr(s: Option<&str>) -> NString<'static> {
    match s {
        Some(s) => nbytes(s.as_bytes()),
        None => NString(None),
    }
}

fn istr(s: &str) -> IString<'static> {
    IString::try_from(s.to_string()).unwrap_or_else(|_| {
        IString::try_from(s.replace(['\r', '\n', '\0'], " ")).unwrap_or_else(|_| {
            // only ASCII text is left
            IString::try_from(String::from("?")).expect("a plain quoted string")
        })
    })
}

/// An RFC 2047 encoded word for a display name that is not plain ASCII
/// (IMAP4rev1 strings are 7-bit; clients decode it).
fn encoded_name(name: &str) -> String {
    if name.is_ascii() {
        return name.to_string();
    }
    format!(
        "=?utf-8?b?{}?=",
        base64::engine::general_purpose::STANDARD.encode(name.as_bytes())
    )
}

/// INTERNALDATE from Unix ms (UTC).
pub fn internal_date(ms: i64) -> Option<DateTime> {
    let utc = chrono::DateTime::from_timestamp(ms.div_euclid(1000), 0)?;
    let offset = chrono::FixedOffset::east_opt(0)?;
    DateTime::try_from(utc.with_timezone(&offset)).ok()
}

fn addresses(v: &HeaderValue<'_>) -> Vec<Address<'static>> {
    let addr = |name: Option<&str>, email: Option<&str>| {
        let (mailbox, host) = match email.and_then(|e| e.rsplit_once('@')) {
            Some((l, d)) => (Some(l.to_string()), Some(d.to_string())),
            None => (email.map(str::to_string), None),
        };
        // an obsolete source route ("<@route:user@domain>") is the adl
        let (adl, mailbox) = match mailbox.as_deref().and_then(|m| {
            m.strip_prefix('@')
                .is_some()
                .then(|| m.rsplit_once(':'))
                .flatten()
        }) {
            Some((route, local)) => (Some(route.to_string()), Some(local.to_string())),
            None => (None, mailbox),
        };
        Address {
            name: nstr(name.map(encoded_name).as_deref()),
            adl: nstr(adl.as_deref()),
            mailbox: nstr(mailbox.as_deref()),
            host: nstr(host.as_deref()),
        }
    };
    let mut out = Vec::new();
    match v {
        HeaderValue::Address(mail_parser::Address::List(list)) => {
            for a in list {
                out.push(addr(a.name.as_deref(), a.address.as_deref()));
            }
        }
        HeaderValue::Address(mail_parser::Address::Group(groups)) => {
            for g in groups {
                match &g.name {
                    // RFC 3501 §7.4.2: a group is framed by a start (name in
                    // the mailbox, NIL host) and an end (both NIL)
                    Some(name) => {
                        out.push(Address {
                            name: NString(None),
                            adl: NString(None),
                            mailbox: nstr(Some(name)),
                            host: NString(None),
                        });
                        // a comment alone ("group: (foo) ;") is no member
                        for a in g.addresses.iter().filter(|a| a.address.is_some()) {
                            out.push(addr(a.name.as_deref(), a.address.as_deref()));
                        }
                        out.push(Address {
                            name: NString(None),
                            adl: NString(None),
                            mailbox: NString(None),
                            host: NString(None),
                        });
                    }
                    None => {
                        for a in &g.addresses {
                            out.push(addr(a.name.as_deref(), a.address.as_deref()));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// ENVELOPE of the message whose header is `header` (RFC 3501 §7.4.2):
/// date, subject, message-id and in-reply-to as written; addresses
/// parsed; Sender and Reply-To default to From.
pub fn envelope(header: &[u8]) -> Envelope<'static> {
    let fields = mime::header_fields(header);
    let raw = |n: &str| nstr(mime::header(&fields, n));
    let parsed = MessageParser::default().parse_headers(header);
    let list = |name: &str| -> Vec<Address<'static>> {
        parsed
            .as_ref()
            .and_then(|m| m.header(name))
            .map(addresses)
            .unwrap_or_default()
    };
    let from = list("From");
    let sender = list("Sender");
    let reply_to = list("Reply-To");
    Envelope {
        date: raw("Date"),
        subject: raw("Subject"),
        sender: if sender.is_empty() {
            from.clone()
        } else {
            sender
        },
        reply_to: if reply_to.is_empty() {
            from.clone()
        } else {
            reply_to
        },
        from,
        to: list("To"),
        cc: list("Cc"),
        bcc: list("Bcc"),
        in_reply_to: raw("In-Reply-To"),
        message_id: raw("Message-ID"),
    }
}

fn params(p: &[(String, String)]) -> Vec<(IString<'static>, IString<'static>)> {
    p.iter().map(|(k, v)| (istr(k), istr(v))).collect()
}

fn disposition(n: &Node) -> Disposition<'static> {
    Disposition {
        disposition: n
            .info
            .disposition
            .as_ref()
            .map(|(d, p)| (istr(d), params(p))),
        tail: Some(Language {
            language: n.info.language.iter().map(|l| istr(l)).collect(),
            tail: Some(Location {
                location: nstr(n.info.location.as_deref()),
                extensions: Vec::new(),
            }),
        }),
    }
}

/// BODYSTRUCTURE (`extended`) or BODY of a part.
pub fn structure(raw: &[u8], n: &Node, extended: bool) -> BodyStructure<'static> {
    match &n.kind {
        Kind::Multi(children) if !children.is_empty() => {
            let bodies: Vec<BodyStructure<'static>> = children
                .iter()
                .map(|c| structure(raw, c, extended))
                .collect();
            BodyStructure::Multi {
                bodies: Vec1::try_from(bodies)
                    .unwrap_or_else(|_| Vec1::from(structure(raw, &empty_text(n), extended))),
                subtype: istr(&n.info.subtype),
                extension_data: extended.then(|| MultiPartExtensionData {
                    parameter_list: params(&n.info.params),
                    tail: Some(disposition(n)),
                }),
            }
        }
        Kind::Multi(_) => structure(raw, &empty_text(n), extended),
        _ => {
            let basic = BasicFields {
                parameter_list: params(&n.info.params),
                id: nstr(n.info.id.as_deref()),
                description: nstr(n.info.description.as_deref()),
                content_transfer_encoding: istr(&n.info.encoding),
                size: u32::try_from(n.body.len()).unwrap_or(u32::MAX),
            };
            let specific = match &n.kind {
                Kind::Message(inner) => SpecificFields::Message {
                    envelope: Box::new(envelope(&raw[inner.header.clone()])),
                    body_structure: Box::new(structure(raw, inner, extended)),
                    number_of_lines: n.lines(raw),
                },
                _ if n.info.ctype == "text" => SpecificFields::Text {
                    subtype: istr(&n.info.subtype),
                    number_of_lines: n.lines(raw),
                },
                _ => SpecificFields::Basic {
                    r#type: istr(&n.info.ctype),
                    subtype: istr(&n.info.subtype),
                },
            };
            BodyStructure::Single {
                body: Body { basic, specific },
                extension_data: extended.then(|| SinglePartExtensionData {
                    md5: NString(None),
                    tail: Some(disposition(n)),
                }),
            }
        }
    }
}

/// A multipart without parts (broken mail) shown as an empty text part.
fn empty_text(n: &Node) -> Node {
    Node {
        header: n.header.clone(),
        body: n.body.start..n.body.start,
        info: mime::PartInfo {
            ctype: "text".into(),
            subtype: "plain".into(),
            params: vec![("charset".into(), "us-ascii".into())],
            encoding: "7BIT".into(),
            ..Default::default()
        },
        kind: Kind::Single,
    }
}

fn numbers(p: &imap_next::imap_types::fetch::Part) -> Vec<u32> {
    p.0.as_ref().iter().map(|n| n.get()).collect()
}

fn names(list: &Vec1<imap_next::imap_types::core::AString<'_>>) -> Vec<String> {
    list.as_ref()
        .iter()
        .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
        .collect()
}

/// The bytes a section names, or `None` if the part does not exist.
pub fn section(raw: &[u8], tree: &Node, s: Option<&Section<'_>>) -> Option<Vec<u8>> {
    // the message a HEADER / TEXT section is about: the whole one, or the
    // message/rfc822 part named
    let message_at = |p: Option<&imap_next::imap_types::fetch::Part>| -> Option<&Node> {
        match p {
            None => Some(tree),
            Some(p) => match &tree.part(&numbers(p))?.kind {
                Kind::Message(inner) => Some(inner.as_ref()),
                _ => None,
            },
        }
    };
    Some(match s {
        None => raw.to_vec(),
        Some(Section::Part(p)) => raw[tree.part(&numbers(p))?.body.clone()].to_vec(),
        Some(Section::Mime(p)) => {
            let n = tree.part(&numbers(p))?;
            let mut h = raw[n.header.clone()].to_vec();
            // a part with no header lines has the blank line alone
            if !h.ends_with(b"\r\n\r\n") && !h.is_empty() && h != b"\r\n" {
                h.extend_from_slice(b"\r\n");
            }
            h
        }
        Some(Section::Header(p)) => raw[message_at(p.as_ref())?.header.clone()].to_vec(),
        Some(Section::Text(p)) => raw[message_at(p.as_ref())?.body.clone()].to_vec(),
        Some(Section::HeaderFields(p, list)) => mime::select_fields(
            &raw[message_at(p.as_ref())?.header.clone()],
            &names(list),
            false,
        ),
        Some(Section::HeaderFieldsNot(p, list)) => mime::select_fields(
            &raw[message_at(p.as_ref())?.header.clone()],
            &names(list),
            true,
        ),
    })
}

/// `<origin.length>` of a section (RFC 3501 §6.4.5): the origin is
/// reported back; past the end, nothing.
pub fn partial(data: Vec<u8>, p: Option<(u32, NonZeroU32)>) -> (Option<u32>, Vec<u8>) {
    match p {
        None => (None, data),
        Some((origin, len)) => {
            let start = (origin as usize).min(data.len());
            let end = start.saturating_add(len.get() as usize).min(data.len());
            (Some(origin), data[start..end].to_vec())
        }
    }
}

/// BODY[section]<partial> as a data item.
pub fn body_ext(
    raw: &[u8],
    tree: &Node,
    s: Option<&Section<'static>>,
    p: Option<(u32, NonZeroU32)>,
) -> MessageDataItem<'static> {
    let data = section(raw, tree, s).unwrap_or_default();
    let (origin, data) = partial(data, p);
    MessageDataItem::BodyExt {
        section: s.cloned(),
        origin,
        data: literal(&data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_next::imap_types::fetch::Part;

    const MSG: &[u8] = b"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\nFrom: =?utf-8?q?Z=C3=B6e?= <zoe@example.test>\r\n\
To: team: a@x.test, b@x.test;, c@y.test\r\nSubject: =?utf-8?q?r=C3=A9union?=\r\nMessage-ID: <m1@x>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=z\r\n\r\n--z\r\n\
Content-Type: text/plain\r\n\r\nplain\r\n--z\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html</p>\r\n--z--\r\n";

    fn text(n: &NString<'_>) -> Option<String> {
        n.0.as_ref()
            .map(|s| String::from_utf8_lossy(s.as_ref()).into_owned())
    }

    #[test]
    fn envelope_keeps_raw_text_and_parses_addresses() {
        let t = mime::tree(MSG);
        let e = envelope(&MSG[t.header.clone()]);
        assert_eq!(
            text(&e.subject).as_deref(),
            Some("=?utf-8?q?r=C3=A9union?=")
        );
        assert_eq!(text(&e.message_id).as_deref(), Some("<m1@x>"));
        assert_eq!(e.from.len(), 1);
        assert_eq!(text(&e.from[0].mailbox).as_deref(), Some("zoe"));
        assert_eq!(text(&e.from[0].host).as_deref(), Some("example.test"));
        assert!(text(&e.from[0].name).unwrap().starts_with("=?utf-8?b?"));
        assert_eq!(e.sender, e.from, "Sender defaults to From");
        // a group: start, members, end — then a plain address
        let mailboxes: Vec<Option<String>> = e.to.iter().map(|a| text(&a.mailbox)).collect();
        assert_eq!(
            mailboxes,
            [
                Some("team".into()),
                Some("a".into()),
                Some("b".into()),
                None,
                Some("c".into())
            ]
        );
        assert!(text(&e.in_reply_to).is_none());
    }

    /// A comment alone in a group is no member; an obsolete source route
    /// goes in the adl (as Dovecot shows them).
    #[test]
    fn envelope_of_odd_addresses() {
        let h = b"From: <@route:user@domain>\r\nCc: group:;, group2: (foo) ;\r\n\r\n";
        let e = envelope(h);
        assert_eq!(text(&e.from[0].adl).as_deref(), Some("@route"));
        assert_eq!(text(&e.from[0].mailbox).as_deref(), Some("user"));
        assert_eq!(text(&e.from[0].host).as_deref(), Some("domain"));
        let cc: Vec<(Option<String>, Option<String>)> =
            e.cc.iter()
                .map(|a| (text(&a.name), text(&a.mailbox)))
                .collect();
        assert_eq!(
            cc,
            [
                (None, Some("group".into())),
                (None, None),
                (None, Some("group2".into())),
                (None, None)
            ]
        );
    }

    #[test]
    fn sections_and_partials() {
        let t = mime::tree(MSG);
        let one = Section::Part(Part(Vec1::from(NonZeroU32::new(1).unwrap())));
        assert_eq!(section(MSG, &t, Some(&one)).unwrap(), b"plain");
        let two_mime = Section::Mime(Part(Vec1::from(NonZeroU32::new(2).unwrap())));
        assert_eq!(
            section(MSG, &t, Some(&two_mime)).unwrap(),
            b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        );
        let header = section(MSG, &t, Some(&Section::Header(None))).unwrap();
        assert!(header.ends_with(b"boundary=z\r\n\r\n"));
        let three = Section::Part(Part(Vec1::from(NonZeroU32::new(3).unwrap())));
        assert!(section(MSG, &t, Some(&three)).is_none());
        assert_eq!(
            partial(b"abcdef".to_vec(), Some((2, NonZeroU32::new(3).unwrap()))),
            (Some(2), b"cde".to_vec())
        );
        assert_eq!(
            partial(b"abc".to_vec(), Some((9, NonZeroU32::new(3).unwrap()))),
            (Some(9), Vec::new())
        );
    }

    #[test]
    fn bodystructure_of_an_alternative() {
        let t = mime::tree(MSG);
        let BodyStructure::Multi {
            bodies,
            subtype,
            extension_data,
        } = structure(MSG, &t, true)
        else {
            panic!("multipart");
        };
        assert_eq!(String::from_utf8_lossy(subtype.as_ref()), "alternative");
        assert_eq!(bodies.as_ref().len(), 2);
        assert!(extension_data.is_some());
        let BodyStructure::Single { body, .. } = &bodies.as_ref()[0] else {
            panic!("single")
        };
        assert_eq!(body.basic.size, 5);
        assert!(matches!(
            body.specific,
            SpecificFields::Text {
                number_of_lines: 0,
                ..
            }
        ));
        assert!(internal_date(0).is_some());
    }
}
