//! The trace a delivery carries: our `Received:` header field, and the
//! count of those already there that tells a mail loop.

use crate::store::Claim;

/// RFC 5321 §6.3: a message that went through this many relays is looping.
pub(super) const MAX_RECEIVED: usize = 50;

/// `Received:` header fields in a message's header (loop detection).
pub(super) fn count_received(raw: &[u8]) -> usize {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    raw[..end]
        .split(|&b| b == b'\n')
        .filter(|l| l.len() >= 9 && l[..9].eq_ignore_ascii_case(b"received:"))
        .count()
}

/// Our trace header (RFC 5321 §4.4), prepended when relaying; the stored
/// message stays byte-exact. It names the recipient when the transaction
/// has one only (as Postfix does: the others' addresses are not told).
pub fn received_header(claims: &[Claim], hostname: &str) -> String {
    let Some(claim) = claims.first() else {
        return String::new();
    };
    let date = time::OffsetDateTime::from_unix_timestamp(claim.received_at / 1000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_default();
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control() && *c != '(' && *c != ')')
            .take(100)
            .collect()
    };
    let to = match claims {
        [one] => format!("\r\n\tfor <{}>", clean(&one.rcpt)),
        _ => String::new(),
    };
    match (&claim.helo, &claim.client_ip) {
        (Some(helo), Some(ip)) => format!(
            "Received: from {} ([{}])\r\n\tby {hostname} (Continuity) with {} id {}{to}; {date}\r\n",
            clean(helo),
            clean(ip),
            if claim.tls { "ESMTPS" } else { "ESMTP" },
            claim.message,
        ),
        _ => format!(
            "Received: by {hostname} (Continuity) id {}{to}; {date}\r\n",
            claim.message,
        ),
    }
}
