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

/// A draft as the message mail apps see in the Drafts folder: what was
/// typed so far, checked as for sending but never refused — an address
/// not yet valid is left out (the draft keeps it), a control character
/// dropped. Bcc is kept as a header, as mail apps keep it in drafts.
pub fn build_draft(d: &Draft, name: &str, hostname: &str) -> Vec<u8> {
    let lenient = |field: &str| -> Vec<Address<'static>> {
        field
            .split([',', ';', '\n'])
            .filter_map(|part| {
                let part = part.trim();
                let (who, addr) = match (part.rfind('<'), part.rfind('>')) {
                    (Some(a), Some(b)) if a < b => (part[..a].trim(), part[a + 1..b].trim()),
                    _ => ("", part),
                };
                valid_address(addr).then(|| {
                    let who: String = who
                        .trim_matches('"')
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(100)
                        .collect();
                    Address::new_address(
                        Some(who).filter(|w| !w.trim().is_empty()),
                        addr.to_ascii_lowercase(),
                    )
                })
            })
            .collect()
    };
    let subject: String = d
        .subject
        .chars()
        .filter(|c| !c.is_control())
        .take(400)
        .collect();
    let message_id = format!(
        "{}@{hostname}",
        crate::auth::token::random_token().replace(['-', '_'], "")
    );
    let mut b = MessageBuilder::new()
        .subject(subject.trim())
        .message_id(message_id)
        .date(time::OffsetDateTime::now_utc().unix_timestamp())
        .text_body(d.body.replace("\r\n", "\n").replace('\r', "\n"));
    let from = d.from.trim().to_ascii_lowercase();
    if valid_address(&from) {
        let name: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
        b = b.from(Address::new_address(
            Some(name.trim().to_string()).filter(|n| !n.is_empty()),
            from,
        ));
    }
    for (field, list) in [(&d.to, 0), (&d.cc, 1), (&d.bcc, 2)] {
        let v = lenient(field);
        if v.is_empty() {
            continue;
        }
        let v = Address::new_list(v);
        b = match list {
            0 => b.to(v),
            1 => b.cc(v),
            _ => b.bcc(v),
        };
    }
    for a in &d.attachments {
        b = b.attachment(a.content_type.clone(), a.name.clone(), a.data.clone());
    }
    b.write_to_vec().unwrap_or_default()
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
