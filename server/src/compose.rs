//! Writing mail in the webmail: checking what the user typed, building the
//! message with mail-builder (RFC 2047 headers, Message-ID, Date — no
//! hand-written MIME), and what a reply or a forward starts from (quoted
//! text, "Re:"/"Fwd:", In-Reply-To and References). Pure: no I/O.
//!
//! Nothing typed can add a header or a recipient: every field is checked
//! (addresses strictly; CR, LF and other controls refused in names and
//! subjects), and recipients come only from the To, Cc and Bcc fields
//! (Bcc is in the envelope, never in the message).

use mail_builder::headers::address::Address;
use mail_builder::MessageBuilder;

/// What the user sent from the compose form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    pub from: String,
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
    /// The Message-ID replied to (threading), if a reply.
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// Files carried along (a forward's original attachments).
    pub attachments: Vec<Attachment>,
}

/// A file in a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    pub content_type: String,
    pub name: String,
    pub data: Vec<u8>,
}

/// The attachments of a raw message (for a forward).
pub fn attachments_of(raw: &[u8]) -> Vec<Attachment> {
    use mail_parser::MimeHeaders;
    let Some(m) = mail_parser::MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    m.attachments()
        .enumerate()
        .map(|(i, a)| {
            let content_type = a
                .content_type()
                .map(|c| match c.subtype() {
                    Some(sub) => format!("{}/{sub}", c.ctype()),
                    None => c.ctype().to_string(),
                })
                .filter(|c| c.chars().all(|ch| ch.is_ascii_graphic()))
                .unwrap_or_else(|| "application/octet-stream".into());
            let name: String = a
                .attachment_name()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
                .take(200)
                .collect();
            // an inline part (an image in an HTML message) has no name: one
            // from its type, e.g. image-1.png
            let name = if name.trim().is_empty() {
                let (kind, sub) = content_type.split_once('/').unwrap_or(("file", "bin"));
                let ext = if sub.chars().all(|c| c.is_ascii_alphanumeric()) {
                    sub
                } else {
                    "bin"
                };
                format!("{kind}-{}.{ext}", i + 1)
            } else {
                name
            };
            Attachment {
                content_type,
                name,
                data: a.contents().to_vec(),
            }
        })
        .collect()
}

/// A message ready to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub raw: Vec<u8>,
    pub mail_from: String,
    /// Every envelope recipient (To, Cc and Bcc), lower case, once each.
    pub rcpts: Vec<String>,
    pub message_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("{0:?} is not an email address")]
    BadAddress(String),
    #[error("the message has no recipient")]
    NoRecipient,
    #[error("too many recipients ({0}; at most {1})")]
    TooMany(usize, usize),
    #[error("you can only send as one of your own addresses")]
    NotYourAddress,
    #[error("the subject cannot contain line breaks or control characters")]
    BadSubject,
    #[error("the message is too large ({0} bytes; at most {1})")]
    TooLarge(usize, usize),
}

/// A strict address check: local@domain, no spaces, quotes, brackets,
/// commas or controls (so nothing typed can turn into another header or
/// recipient).
pub fn valid_address(a: &str) -> bool {
    let Some((local, domain)) = a.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.len() <= 253
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && a.chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !"<>()[]\\,;:\"".contains(c))
}

/// Addresses from a field: separated by commas, semicolons or spaces;
/// "Name <addr>" keeps the address.
pub fn parse_list(field: &str) -> Result<Vec<String>, ComposeError> {
    let mut out = Vec::new();
    for part in field.split([',', ';', '\n']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let addr = match (part.rfind('<'), part.rfind('>')) {
            (Some(a), Some(b)) if a < b && part[b + 1..].trim().is_empty() => part[a + 1..b].trim(),
            _ => part,
        };
        for a in addr.split_whitespace() {
            if !valid_address(a) {
                return Err(ComposeError::BadAddress(a.to_string()));
            }
            let a = a.to_ascii_lowercase();
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

fn clean_line(s: &str) -> Result<String, ComposeError> {
    if s.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ComposeError::BadSubject);
    }
    Ok(s.trim().chars().take(400).collect())
}

/// Check and build. `own` are the addresses the user may send as (their
/// address and aliases); `name` their display name.
pub fn build(
    d: &Draft,
    own: &[String],
    name: &str,
    hostname: &str,
    max_rcpts: usize,
    max_size: usize,
) -> Result<Built, ComposeError> {
    let from = d.from.trim().to_ascii_lowercase();
    if !own.iter().any(|o| o.eq_ignore_ascii_case(&from)) {
        return Err(ComposeError::NotYourAddress);
    }
    let to = parse_list(&d.to)?;
    let cc = parse_list(&d.cc)?;
    let bcc = parse_list(&d.bcc)?;
    let mut rcpts: Vec<String> = Vec::new();
    for a in to.iter().chain(&cc).chain(&bcc) {
        if !rcpts.contains(a) {
            rcpts.push(a.clone());
        }
    }
    if rcpts.is_empty() {
        return Err(ComposeError::NoRecipient);
    }
    if rcpts.len() > max_rcpts {
        return Err(ComposeError::TooMany(rcpts.len(), max_rcpts));
    }
    let subject = clean_line(&d.subject)?;
    let name: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
    let body = d.body.replace("\r\n", "\n").replace('\r', "\n");
    let message_id = format!(
        "{}@{hostname}",
        crate::auth::token::random_token().replace(['-', '_'], "")
    );
    let list = |v: &[String]| {
        Address::new_list(
            v.iter()
                .map(|a| Address::new_address(None::<&str>, a.clone()))
                .collect(),
        )
    };
    let mut b = MessageBuilder::new()
        .from(Address::new_address(
            Some(name.trim())
                .filter(|n| !n.is_empty())
                .map(str::to_string),
            from.clone(),
        ))
        .subject(subject)
        .message_id(message_id.clone())
        .date(time::OffsetDateTime::now_utc().unix_timestamp())
        .text_body(body);
    if !to.is_empty() {
        b = b.to(list(&to));
    }
    if !cc.is_empty() {
        b = b.cc(list(&cc));
    }
    if let Some(r) = d.in_reply_to.as_deref().filter(|r| valid_message_id(r)) {
        b = b.in_reply_to(r.to_string());
    }
    let refs: Vec<String> = d
        .references
        .iter()
        .filter(|r| valid_message_id(r))
        .take(20)
        .cloned()
        .collect();
    if !refs.is_empty() {
        b = b.references(refs);
    }
    let mut size: usize = d.body.len();
    for a in &d.attachments {
        size = size.saturating_add(a.data.len() * 4 / 3);
        if size > max_size {
            return Err(ComposeError::TooLarge(size, max_size));
        }
        b = b.attachment(a.content_type.clone(), a.name.clone(), a.data.clone());
    }
    let raw = b.write_to_vec().unwrap_or_default();
    if raw.len() > max_size {
        return Err(ComposeError::TooLarge(raw.len(), max_size));
    }
    Ok(Built {
        raw,
        mail_from: from,
        rcpts,
        message_id,
    })
}

/// A Message-ID without its brackets, safe to write back.
fn valid_message_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 250
        && s.contains('@')
        && s.chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>')
}

/// "Re: subject" (without stacking Re:s).
pub fn reply_subject(s: &str) -> String {
    let t = s.trim();
    let lower = t.to_lowercase();
    if ["re:", "aw:", "réf:", "ref:"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        t.to_string()
    } else {
        format!("Re: {t}")
    }
}

/// "Fwd: subject".
pub fn forward_subject(s: &str) -> String {
    let t = s.trim();
    let lower = t.to_lowercase();
    if ["fwd:", "fw:", "tr:"].iter().any(|p| lower.starts_with(p)) {
        t.to_string()
    } else {
        format!("Fwd: {t}")
    }
}

/// A forwarded message's text under a header in the writer's language
/// (as the recipient reads it in the mail too).
pub fn forward_header(
    lang: app::i18n::Lang,
    from: &str,
    date: &str,
    subject: &str,
    to: &str,
    cc: &str,
    text: &str,
) -> String {
    let (title, [l_from, l_date, l_subject, l_to, l_cc]) = match lang {
        app::i18n::Lang::Fr => (
            "---------- Message transféré ----------",
            ["De :", "Date :", "Objet :", "À :", "Cc :"],
        ),
        app::i18n::Lang::En => (
            "---------- Forwarded message ----------",
            ["From:", "Date:", "Subject:", "To:", "Cc:"],
        ),
    };
    let cc = if cc.is_empty() {
        String::new()
    } else {
        format!("{l_cc} {cc}\n")
    };
    format!(
        "\n\n{title}\n{l_from} {from}\n{l_date} {date}\n{l_subject} {subject}\n{l_to} {to}\n{cc}\n{text}"
    )
}

/// The original text quoted for a reply.
pub fn quote(intro: &str, text: &str) -> String {
    let mut out = format!("\n\n{intro}\n");
    for line in text.lines().take(2000) {
        if line.is_empty() {
            out.push_str(">\n");
        } else {
            out.push_str("> ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_forward_reads_in_the_writers_language() {
        let fr = forward_header(
            app::i18n::Lang::Fr,
            "Paul <p@remote.test>",
            "1 déc. 2026",
            "Devis",
            "alice@example.test",
            "",
            "Bonjour.",
        );
        assert_eq!(
            fr,
            "\n\n---------- Message transféré ----------\nDe : Paul <p@remote.test>\n\
             Date : 1 déc. 2026\nObjet : Devis\nÀ : alice@example.test\n\nBonjour."
        );
        let en = forward_header(app::i18n::Lang::En, "p@x", "d", "s", "t", "c@x", "b");
        assert!(en.starts_with("\n\n---------- Forwarded message ----------\nFrom: p@x\n"));
        assert!(en.contains("\nCc: c@x\n\nb"));
    }
    use super::*;

    fn draft(to: &str, subject: &str) -> Draft {
        Draft {
            from: "alice@example.test".into(),
            to: to.into(),
            subject: subject.into(),
            body: "Hello\nworld".into(),
            ..Default::default()
        }
    }
    fn own() -> Vec<String> {
        vec!["alice@example.test".into(), "a.martin@example.test".into()]
    }

    #[test]
    fn a_message_is_built_with_its_envelope() {
        let mut d = draft(
            "Bob <bob@example.test>, carol@remote.test",
            "Réunion — lundi",
        );
        d.cc = "dave@remote.test".into();
        d.bcc = "eve@remote.test; BOB@example.test".into();
        d.in_reply_to = Some("orig@remote.test".into());
        d.references = vec!["first@remote.test".into(), "orig@remote.test".into()];
        let b = build(&d, &own(), "Alice Martin", "mx.test", 50, 1 << 20).expect("built");
        assert_eq!(
            b.rcpts,
            [
                "bob@example.test",
                "carol@remote.test",
                "dave@remote.test",
                "eve@remote.test"
            ]
        );
        let text = String::from_utf8_lossy(&b.raw);
        assert!(
            text.contains("From: \"Alice Martin\" <alice@example.test>\r\n"),
            "{text}"
        );
        assert!(text.contains("=?utf-8?"), "RFC 2047 subject: {text}");
        assert!(text.contains("In-Reply-To: <orig@remote.test>"));
        assert!(text.contains("References: <first@remote.test> <orig@remote.test>"));
        assert!(
            !text.to_lowercase().contains("eve@remote.test"),
            "Bcc never in the message"
        );
        assert!(text.contains(&format!("Message-ID: <{}>", b.message_id)));
        let parsed = mail_parser::MessageParser::default()
            .parse(&b.raw)
            .expect("parses");
        assert_eq!(parsed.subject(), Some("Réunion — lundi"));
    }

    #[test]
    fn nothing_typed_adds_a_header_or_a_recipient() {
        // (a line break in the To field separates addresses like a comma:
        // what is typed there is a recipient the user chose, never a header)
        for to in [
            "bob@example.test\r\nBcc: x@evil.test",
            "bob@example.test>\r\nX: y",
            "\"a\"@example.test",
            "bob@example.test\r",
        ] {
            let r = build(&draft(to, "hi"), &own(), "", "mx.test", 50, 1 << 20);
            match r {
                Err(ComposeError::BadAddress(_)) => {}
                Ok(b) => assert!(
                    !String::from_utf8_lossy(&b.raw).contains("evil")
                        && b.rcpts.iter().all(|r| valid_address(r)),
                    "{to:?}: {:?}",
                    b.rcpts
                ),
                Err(e) => panic!("{to:?}: {e}"),
            }
        }
        for subject in ["hi\r\nBcc: x@evil.test", "hi\nX-Evil: 1", "a\u{0}b"] {
            assert_eq!(
                build(
                    &draft("bob@example.test", subject),
                    &own(),
                    "",
                    "mx.test",
                    50,
                    1 << 20
                ),
                Err(ComposeError::BadSubject)
            );
        }
        // a display name with a line break is flattened, never a header
        let b = build(
            &draft("bob@example.test", "x"),
            &own(),
            "Eve\r\nBcc: x@evil.test",
            "mx.test",
            50,
            1 << 20,
        )
        .expect("built");
        let text = String::from_utf8_lossy(&b.raw);
        assert!(!text.contains("\r\nBcc:"), "{text}");
        // threading ids with brackets or spaces are dropped
        let mut d = draft("bob@example.test", "x");
        d.in_reply_to = Some("a@b>\r\nBcc: <x@evil.test".into());
        let b = build(&d, &own(), "", "mx.test", 50, 1 << 20).expect("built");
        assert!(!String::from_utf8_lossy(&b.raw).contains("evil"));
    }

    #[test]
    fn only_own_addresses_and_within_limits() {
        let mut d = draft("bob@example.test", "x");
        d.from = "ceo@example.test".into();
        assert_eq!(
            build(&d, &own(), "", "mx.test", 50, 1 << 20),
            Err(ComposeError::NotYourAddress)
        );
        d.from = "A.Martin@example.test".into();
        assert!(
            build(&d, &own(), "", "mx.test", 50, 1 << 20).is_ok(),
            "an alias"
        );
        assert_eq!(
            build(&draft("", "x"), &own(), "", "mx.test", 50, 1 << 20),
            Err(ComposeError::NoRecipient)
        );
        let many: Vec<String> = (0..6).map(|i| format!("u{i}@remote.test")).collect();
        assert_eq!(
            build(
                &draft(&many.join(","), "x"),
                &own(),
                "",
                "mx.test",
                5,
                1 << 20
            ),
            Err(ComposeError::TooMany(6, 5))
        );
        let mut big = draft("bob@example.test", "x");
        big.body = "y".repeat(5000);
        assert!(matches!(
            build(&big, &own(), "", "mx.test", 5, 1000),
            Err(ComposeError::TooLarge(_, 1000))
        ));
    }

    #[test]
    fn forwarded_attachments_travel_byte_for_byte() {
        let pdf = b"%PDF-1.4\n\x00\x01binary".to_vec();
        let mut d = draft("bob@example.test", "Fwd: report");
        d.attachments = vec![Attachment {
            content_type: "application/pdf".into(),
            name: "report.pdf".into(),
            data: pdf.clone(),
        }];
        let b = build(&d, &own(), "", "mx.test", 5, 1 << 20).expect("built");
        let back = attachments_of(&b.raw);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].name, "report.pdf");
        assert_eq!(back[0].content_type, "application/pdf");
        assert_eq!(back[0].data, pdf);
        assert!(matches!(
            build(&d, &own(), "", "mx.test", 5, 10),
            Err(ComposeError::TooLarge(..))
        ));
    }

    #[test]
    fn replies_and_forwards() {
        assert_eq!(reply_subject("Lunch"), "Re: Lunch");
        assert_eq!(reply_subject("RE: Lunch"), "RE: Lunch");
        assert_eq!(forward_subject("Lunch"), "Fwd: Lunch");
        assert_eq!(forward_subject("Fw: Lunch"), "Fw: Lunch");
        assert_eq!(
            quote("Bob wrote:", "one\n\ntwo"),
            "\n\nBob wrote:\n> one\n>\n> two\n"
        );
    }
}
