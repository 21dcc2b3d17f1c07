//! The parsed summary of a raw message (mail-parser). Pure: no I/O.

use mail_parser::{Address, MessageParser, MimeHeaders};

use super::Summary;

fn addresses(a: Option<&Address<'_>>) -> String {
    fn one(addr: &mail_parser::Addr<'_>) -> Option<String> {
        match (addr.name(), addr.address()) {
            (Some(n), Some(e)) if !n.is_empty() => Some(format!("{n} <{e}>")),
            (_, Some(e)) => Some(e.to_string()),
            (Some(n), None) => Some(n.to_string()),
            (None, None) => None,
        }
    }
    let Some(a) = a else { return String::new() };
    let mut out = Vec::new();
    match a {
        Address::List(list) => out.extend(list.iter().filter_map(one)),
        // a group keeps its name, as the header writes it ("team: a, b;"):
        // it is shown, and IMAP SEARCH TO finds it
        Address::Group(groups) => {
            for g in groups {
                let members: Vec<String> = g.addresses.iter().filter_map(one).collect();
                match g.name.as_deref() {
                    Some(name) => out.push(format!("{name}: {};", members.join(", "))),
                    None => out.extend(members),
                }
            }
        }
    }
    out.join(", ")
}

/// Cap a header value so a hostile message cannot bloat the summary rows.
fn cap(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Most text a message contributes to the search index.
const TEXT_CAP: usize = 64 * 1024;

/// The words search should find: the text bodies (HTML converted to text by
/// mail-parser) and the attachments' file names.
fn search_text(m: &mail_parser::Message<'_>) -> String {
    let mut out = String::new();
    for i in 0..m.text_body.len() {
        if let Some(t) = m.body_text(i) {
            out.push_str(&t);
            out.push('\n');
        }
        if out.len() > TEXT_CAP {
            break;
        }
    }
    for a in m.attachments() {
        if let Some(name) = a.attachment_name() {
            out.push_str(name);
            out.push('\n');
        }
    }
    cap(out, TEXT_CAP)
}

impl Summary {
    /// Parse what can be parsed; a message mail-parser cannot read (or that
    /// makes it panic) still gets an (empty) summary: it is stored and
    /// delivered all the same.
    pub fn parse(raw: &[u8]) -> Summary {
        std::panic::catch_unwind(|| Summary::parse_inner(raw)).unwrap_or_default()
    }

    /// The Cc header of a message, as [`Summary::cc`] holds it, reading
    /// the header only (for mail stored before the column was kept).
    pub fn cc_of(raw: &[u8]) -> String {
        std::panic::catch_unwind(|| {
            MessageParser::default()
                .parse_headers(raw)
                .map(|m| cap(addresses(m.cc()), 2000))
                .unwrap_or_default()
        })
        .unwrap_or_default()
    }

    /// The summary of a message about to be stored, without its search
    /// text (the indexer makes that from the stored bytes, after the
    /// commit the sender waits for). A large message is parsed off the
    /// async workers. Fails only when the runtime is shutting down.
    pub async fn for_ingest(raw: Vec<u8>) -> Result<(Vec<u8>, Summary), tokio::task::JoinError> {
        let (raw, summary, ()) = Summary::for_ingest_with(raw, |_| ()).await?;
        Ok((raw, summary))
    }

    /// [`Summary::for_ingest`], and `also` read from the same parse (given
    /// `None` when the message cannot be parsed): what a caller checks in
    /// the header costs no second parse.
    pub async fn for_ingest_with<T: Send + 'static>(
        raw: Vec<u8>,
        also: fn(Option<&mail_parser::Message<'_>>) -> T,
    ) -> Result<(Vec<u8>, Summary, T), tokio::task::JoinError> {
        let parse = move |raw: &[u8]| {
            std::panic::catch_unwind(|| match MessageParser::default().parse(raw) {
                Some(m) => (Summary::of_message(&m, false), also(Some(&m))),
                None => (Summary::default(), also(None)),
            })
            .unwrap_or_else(|_| (Summary::default(), also(None)))
        };
        if raw.len() > 256 * 1024 {
            tokio::task::spawn_blocking(move || {
                let (s, t) = parse(&raw);
                (raw, s, t)
            })
            .await
        } else {
            let (s, t) = parse(&raw);
            Ok((raw, s, t))
        }
    }

    fn parse_inner(raw: &[u8]) -> Summary {
        Summary::parse_parts(raw, true)
    }

    fn parse_parts(raw: &[u8], with_text: bool) -> Summary {
        match MessageParser::default().parse(raw) {
            Some(m) => Summary::of_message(&m, with_text),
            None => Summary::default(),
        }
    }

    fn of_message(m: &mail_parser::Message<'_>, with_text: bool) -> Summary {
        Summary {
            from: cap(addresses(m.from()), 1000),
            to: cap(addresses(m.to()), 2000),
            cc: cap(addresses(m.cc()), 2000),
            subject: cap(m.subject().unwrap_or_default().to_string(), 1000),
            date: m.date().map(|d| d.to_timestamp()),
            message_id: m.message_id().map(|s| cap(s.to_string(), 500)),
            attachments: m.attachment_count() as u32,
            text: if with_text {
                search_text(m)
            } else {
                String::new()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_encoded_words_and_counts_attachments() {
        let raw = b"From: =?UTF-8?Q?Ren=C3=A9e?= <renee@remote.test>\r\n\
To: alice@example.test, Bob <bob@example.test>\r\n\
Subject: =?ISO-8859-1?Q?caf=E9?=\r\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <abc@remote.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\nxx\r\n--b--\r\n";
        let s = Summary::parse(raw);
        assert_eq!(s.from, "Renée <renee@remote.test>");
        assert_eq!(s.to, "alice@example.test, Bob <bob@example.test>");
        assert_eq!(s.subject, "café");
        assert_eq!(s.date, Some(1_795_860_000));
        assert_eq!(s.message_id.as_deref(), Some("abc@remote.test"));
        assert_eq!(s.attachments, 1);
        assert!(s.text.contains("hi"), "{:?}", s.text);
        assert!(s.text.contains("a.pdf"), "{:?}", s.text);
    }

    #[tokio::test]
    async fn the_summary_for_ingest_is_the_same_without_the_search_text() {
        let raw = b"From: a@remote.test\r\nTo: b@example.test\r\nSubject: hello\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/html\r\n\r\n<p>hi there</p>\r\n\
--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\nxx\r\n--b--\r\n";
        let full = Summary::parse(raw);
        let (back, quick) = Summary::for_ingest(raw.to_vec()).await.expect("parsed");
        assert_eq!(back, raw.to_vec());
        assert!(full.text.contains("hi there"), "{:?}", full.text);
        assert_eq!(quick.text, "");
        assert_eq!(
            (quick.from, quick.to, quick.subject, quick.attachments),
            (full.from, full.to, full.subject, full.attachments)
        );
        // a large one is parsed off the async workers, the same way
        let mut big = raw.to_vec();
        big.extend(std::iter::repeat_n(b'x', 300 * 1024));
        let (_, s) = Summary::for_ingest(big).await.expect("parsed");
        assert_eq!(s.subject, "hello");
    }

    #[tokio::test]
    async fn what_a_caller_reads_comes_from_the_same_parse() {
        let raw = b"From: a@remote.test\r\nSubject: hello\r\n\r\nbody\r\n".to_vec();
        let subject =
            |m: Option<&mail_parser::Message<'_>>| m.and_then(|m| m.subject().map(str::to_string));
        let (back, s, seen) = Summary::for_ingest_with(raw.clone(), subject)
            .await
            .expect("parsed");
        assert_eq!((back, s.subject.as_str()), (raw, "hello"));
        assert_eq!(seen.as_deref(), Some("hello"));
        // nothing a parser can read: the caller is told so
        let (_, s, seen) = Summary::for_ingest_with(Vec::new(), |m| m.is_none())
            .await
            .expect("ran");
        assert_eq!((s, seen), (Summary::default(), true));
    }

    #[test]
    fn garbage_gives_an_empty_summary() {
        let s = Summary::parse(b"\xff\xfe not a message");
        assert_eq!(s.attachments, 0);
    }
}
