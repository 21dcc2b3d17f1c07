//! Delivery status notifications (RFC 3464): the bounce sent to the envelope
//! sender when a delivery fails for good. Built with mail-builder; pure.

use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;

/// What the DSN reports on.
pub struct Failure<'a> {
    pub reporting_mta: &'a str,
    pub original_sender: &'a str,
    pub rcpt: &'a str,
    /// The remote's reply or our reason.
    pub diagnostic: &'a str,
    /// "5.1.1", or "4.4.7" for an expired message.
    pub status: String,
    pub remote_mta: Option<&'a str>,
    /// Unix milliseconds.
    pub arrival: i64,
    pub original: &'a [u8],
}

/// The enhanced status code inside a reply ("550 5.1.1 ..." -> "5.1.1"),
/// or the class default.
pub fn status_of(reply: &str, default: &str) -> String {
    reply
        .split(|c: char| c.is_whitespace() || c == ':' || c == '(' || c == ')')
        .find(|w| {
            let p: Vec<&str> = w.split('.').collect();
            p.len() == 3
                && (p[0] == "4" || p[0] == "5")
                && p[1..]
                    .iter()
                    .all(|x| !x.is_empty() && x.len() <= 3 && x.chars().all(|c| c.is_ascii_digit()))
        })
        .map(str::to_string)
        .unwrap_or_else(|| default.to_string())
}

fn rfc2822(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_default()
}

/// The header section of the original message (up to the blank line).
fn header_section(raw: &[u8]) -> &[u8] {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(raw.len().min(64 * 1024));
    &raw[..end]
}

/// Build the DSN message (multipart/report; report-type=delivery-status).
pub fn build(f: &Failure<'_>) -> Vec<u8> {
    let diagnostic: String = f.diagnostic.chars().filter(|c| !c.is_control()).collect();
    let human = format!(
        "This is the mail system at host {mta}.\r\n\r\n\
         I'm sorry to have to inform you that your message could not\r\n\
         be delivered to one or more recipients.\r\n\r\n\
         <{rcpt}>: {diagnostic}\r\n",
        mta = f.reporting_mta,
        rcpt = f.rcpt,
    );
    let mut status = format!(
        "Reporting-MTA: dns; {}\r\nArrival-Date: {}\r\n\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {}\r\n",
        f.reporting_mta,
        rfc2822(f.arrival),
        f.rcpt,
        f.status
    );
    if let Some(remote) = f.remote_mta {
        status.push_str(&format!("Remote-MTA: dns; {remote}\r\n"));
    }
    status.push_str(&format!("Diagnostic-Code: smtp; {diagnostic}\r\n"));
    let headers = String::from_utf8_lossy(header_section(f.original)).into_owned();
    let report = MimePart::new(
        mail_builder::headers::content_type::ContentType::new("multipart/report")
            .attribute("report-type", "delivery-status"),
        vec![
            MimePart::new("text/plain", human),
            MimePart::new("message/delivery-status", status),
            MimePart::new("text/rfc822-headers", headers),
        ],
    );
    MessageBuilder::new()
        .from(mail_builder::headers::address::Address::new_address(
            Some("Mail Delivery System"),
            format!("MAILER-DAEMON@{}", f.reporting_mta),
        ))
        .to(f.original_sender)
        .subject("Undelivered Mail Returned to Sender")
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(report)
        .write_to_vec()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_enhanced_status() {
        assert_eq!(
            status_of("permanent error (550): 5.1.1 <x@y>: User unknown", "5.0.0"),
            "5.1.1"
        );
        assert_eq!(status_of("550 no code here", "5.0.0"), "5.0.0");
        assert_eq!(status_of("version 1.2.3", "5.0.0"), "5.0.0");
    }

    #[test]
    fn builds_a_multipart_report() {
        let raw = b"From: a@remote.test\r\nSubject: hello\r\n\r\nsecret body\r\n";
        let dsn = build(&Failure {
            reporting_mta: "mx.example.test",
            original_sender: "a@remote.test",
            rcpt: "nobody@example.test",
            diagnostic: "550 5.1.1 <nobody@example.test>: User unknown\r\nInjected: x",
            status: "5.1.1".into(),
            remote_mta: Some("primary.example.test"),
            arrival: 1_795_860_000_000,
            original: raw,
        });
        let text = String::from_utf8(dsn).unwrap();
        assert!(text.contains("multipart/report"), "{text}");
        assert!(
            text.contains("report-type=\"delivery-status\"")
                || text.contains("report-type=delivery-status"),
            "{text}"
        );
        assert!(text.contains("Status: 5.1.1"));
        assert!(text.contains("Final-Recipient: rfc822; nobody@example.test"));
        assert!(text.contains("Subject: hello"));
        assert!(
            !text.contains("secret body"),
            "only the headers are returned"
        );
        assert!(
            !text.contains("\r\nInjected: x"),
            "diagnostic cannot inject lines"
        );
        assert!(text.contains("Auto-Submitted: auto-replied"));
    }
}
