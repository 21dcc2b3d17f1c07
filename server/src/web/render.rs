//! Turning a stored message into what the reader shows: decoded headers
//! (RFC 2047), the text body, the sanitized HTML body, the attachment list,
//! and single parts by position or Content-ID. Pure: no I/O.

use app::backend::AttachmentInfo;
use mail_parser::{Address, MessageParser, MimeHeaders, PartType};

use super::sanitize::{sanitize, Sanitized};

/// Decoded headers and bodies of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub from: String,
    pub to: String,
    pub cc: String,
    pub reply_to: String,
    pub subject: String,
    pub date: Option<i64>,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<AttachmentInfo>,
}

/// Longest text body shown in the page (the full message stays downloadable).
const TEXT_CAP: usize = 2 * 1024 * 1024;

pub fn addresses(a: Option<&Address<'_>>) -> String {
    let Some(a) = a else { return String::new() };
    a.iter()
        .filter_map(|addr| match (addr.name(), addr.address()) {
            (Some(n), Some(e)) if !n.is_empty() => Some(format!("{n} <{e}>")),
            (_, Some(e)) => Some(e.to_string()),
            (Some(n), None) => Some(n.to_string()),
            (None, None) => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn cap(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("\n[…]");
    }
    s
}

/// Parse a raw message for reading. A message mail-parser cannot read is
/// shown as its raw text.
pub fn render(raw: &[u8]) -> Rendered {
    let parsed = std::panic::catch_unwind(|| render_inner(raw))
        .ok()
        .flatten()
        // mail-parser reads anything; without a single header it is not mail
        .filter(|r| {
            !(r.from.is_empty() && r.to.is_empty() && r.subject.is_empty() && r.text.is_empty())
        });
    parsed.unwrap_or_else(|| Rendered {
        text: cap(String::from_utf8_lossy(raw).into_owned(), TEXT_CAP),
        ..Rendered::default()
    })
}

fn render_inner(raw: &[u8]) -> Option<Rendered> {
    let m = MessageParser::default().parse(raw)?;
    let html = if m.html_body_count() > 0
        && m.html_body.iter().any(|i| {
            m.part(*i)
                .map(|p| matches!(p.body, PartType::Html(_)))
                .unwrap_or(false)
        }) {
        m.body_html(0).map(|h| h.into_owned())
    } else {
        None
    };
    let text = (0..m.text_body.len().max(1))
        .filter_map(|i| m.body_text(i))
        .map(|t| t.into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    let attachments = m
        .parts
        .iter()
        .enumerate()
        .filter(|(i, _)| m.attachments.contains(&(*i as u32)))
        // inline images the HTML shows (cid:) are not listed as attachments
        .filter(|(_, p)| {
            let cid = p
                .content_id()
                .map(|c| c.trim_matches(|c| c == '<' || c == '>'));
            match (cid, html.as_deref()) {
                (Some(cid), Some(h)) if !cid.is_empty() => !h.contains(&format!("cid:{cid}")),
                _ => true,
            }
        })
        .map(|(i, p)| AttachmentInfo {
            part: i as u32,
            name: part_name(p, i as u32),
            content_type: content_type(p),
            size: p.contents().len() as i64,
        })
        .collect();
    Some(Rendered {
        from: addresses(m.from()),
        to: addresses(m.to()),
        cc: addresses(m.cc()),
        reply_to: addresses(m.reply_to()),
        subject: m.subject().unwrap_or_default().to_string(),
        date: m.date().map(|d| d.to_timestamp() * 1000),
        text: cap(text, TEXT_CAP),
        html,
        attachments,
    })
}

fn content_type(p: &mail_parser::MessagePart<'_>) -> String {
    match p.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None if p.is_message() => "message/rfc822".into(),
        None => "application/octet-stream".into(),
    }
}

fn part_name(p: &mail_parser::MessagePart<'_>, index: u32) -> String {
    let name = p
        .attachment_name()
        .map(str::to_string)
        .or_else(|| {
            p.message()
                .and_then(|m| m.subject())
                .map(|s| format!("{s}.eml"))
        })
        .unwrap_or_else(|| format!("part-{index}"));
    safe_filename(&name)
}

/// A file name that is safe on every OS and in a header: no path, no
/// control characters, no reserved characters, bounded length.
pub fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || "<>:\"|?*".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim().trim_matches('.').trim();
    let mut out: String = trimmed.chars().take(150).collect();
    if out.is_empty() {
        out = "attachment".into();
    }
    out
}

/// One part's bytes, type and file name: an attachment by its position.
pub fn part(raw: &[u8], index: u32) -> Option<(Vec<u8>, String, String)> {
    let m = MessageParser::default().parse(raw)?;
    if !m.attachments.contains(&index) {
        return None;
    }
    let p = m.part(index)?;
    Some((p.contents().to_vec(), content_type(p), part_name(p, index)))
}

/// An inline part by Content-ID (for `cid:` images): images only.
pub fn part_by_cid(raw: &[u8], cid: &str) -> Option<(Vec<u8>, String)> {
    let m = MessageParser::default().parse(raw)?;
    let want = cid.trim().trim_start_matches('<').trim_end_matches('>');
    let p = m.parts.iter().find(|p| {
        p.content_id()
            .map(|c| c.trim().trim_start_matches('<').trim_end_matches('>') == want)
            .unwrap_or(false)
    })?;
    let ct = content_type(p);
    let raster = [
        "image/png",
        "image/gif",
        "image/jpeg",
        "image/jpg",
        "image/webp",
        "image/bmp",
    ];
    raster
        .contains(&ct.as_str())
        .then(|| (p.contents().to_vec(), ct))
}

/// The sanitized HTML body of a message, for the reading frame.
pub fn html_body(raw: &[u8], cid_base: &str, allow_remote: bool) -> Option<Sanitized> {
    let r = render(raw);
    r.html.map(|h| sanitize(&h, cid_base, allow_remote))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by scripts/fuzz (mime_render): a malformed multipart nested in
    /// a message/rfc822 part, where mail-parser debug-asserts. Every reader
    /// of a stored message takes it without a panic.
    #[test]
    fn a_malformed_nested_multipart_is_read_without_a_panic() {
        let raw = include_bytes!("testdata/fuzz-nested-multipart.eml");
        let s = crate::store::Summary::parse(raw);
        let _ = s.subject;
        let _ = render(raw);
        let _ = html_body(raw, "/mail/m/1/cid/", false);
        for i in 0..4 {
            let _ = part(raw, i);
        }
        let tree = crate::imap::mime::tree(raw);
        let _ = crate::imap::fetch::structure(raw, &tree, true);
    }

    pub const MIXED: &[u8] = b"From: =?ISO-8859-1?Q?Andr=E9?= <andre@remote.test>\r\n\
To: alice@example.test\r\n\
Cc: =?UTF-8?B?w4lsb2TDrWU=?= <elodie@remote.test>\r\n\
Subject: =?UTF-8?Q?R=C3=A9union_=E2=82=AC?=\r\n\
Date: Sun, 29 Nov 2026 09:00:00 +0100\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=outer\r\n\r\n\
--outer\r\n\
Content-Type: multipart/related; boundary=rel\r\n\r\n\
--rel\r\n\
Content-Type: text/html; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n\
<p>Caf=E9 <img src=3D\"cid:logo@x\"></p><script>alert(1)</script>\r\n\
--rel\r\n\
Content-Type: image/png\r\n\
Content-ID: <logo@x>\r\n\
Content-Transfer-Encoding: base64\r\n\r\n\
iVBORw0KGgo=\r\n\
--rel--\r\n\
--outer\r\n\
Content-Type: application/pdf; name=\"../../etc/rapport \\\"final\\\".pdf\"\r\n\
Content-Disposition: attachment; filename*=UTF-8''..%2F..%2Fetc%2Frapport%20%C3%A9t%C3%A9.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\n\
JVBERi0xLjQK\r\n\
--outer--\r\n";

    #[test]
    fn headers_charsets_and_bodies_are_decoded() {
        let r = render(MIXED);
        assert_eq!(r.from, "André <andre@remote.test>");
        assert_eq!(r.cc, "Élodíe <elodie@remote.test>");
        assert_eq!(r.subject, "Réunion €");
        assert_eq!(r.date, Some(1_795_939_200_000)); // 08:00 UTC
        let html = r.html.as_deref().expect("html body");
        assert!(html.contains("Café"), "{html}");
        assert!(r.text.contains("Café"), "{}", r.text);
    }

    #[test]
    fn attachments_are_listed_with_safe_names_and_fetched_by_position() {
        let r = render(MIXED);
        let pdf = r
            .attachments
            .iter()
            .find(|a| a.content_type == "application/pdf")
            .expect("pdf listed");
        assert_eq!(pdf.name, "rapport été.pdf");
        assert_eq!(pdf.size, 9);
        assert!(
            r.attachments.iter().all(|a| a.content_type != "image/png"),
            "the inline logo is shown, not listed"
        );
        let (bytes, ct, name) = part(MIXED, pdf.part).expect("part");
        assert_eq!(bytes, b"%PDF-1.4\n");
        assert_eq!(ct, "application/pdf");
        assert_eq!(name, "rapport été.pdf");
        assert!(part(MIXED, 0).is_none(), "the root is not an attachment");
        assert!(part(MIXED, 999).is_none());
    }

    #[test]
    fn cid_images_are_served_and_the_html_is_sanitized() {
        let (png, ct) = part_by_cid(MIXED, "logo@x").expect("cid part");
        assert_eq!(ct, "image/png");
        assert!(png.starts_with(b"\x89PNG"));
        assert!(part_by_cid(MIXED, "nope@x").is_none());
        let s = html_body(MIXED, "/mail/m/3/cid/", false).expect("html");
        assert!(s.html.contains("/mail/m/3/cid/logo@x"), "{}", s.html);
        assert!(s.html.contains("<p>Café"), "{}", s.html);
        assert!(!s.html.contains("script"), "{}", s.html);
    }

    #[test]
    fn file_names_cannot_escape_or_inject() {
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(
            safe_filename("a\r\nContent-Type: x.txt"),
            "a__Content-Type_ x.txt"
        );
        assert_eq!(safe_filename("..."), "attachment");
        assert_eq!(safe_filename(""), "attachment");
        assert_eq!(safe_filename(&"é".repeat(400)).chars().count(), 150);
    }

    #[test]
    fn unparseable_mail_is_shown_raw() {
        let r = render(b"just some bytes \xff without headers");
        assert!(r.text.contains("just some bytes"));
    }
}
