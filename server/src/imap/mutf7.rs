//! Mailbox names on the wire: IMAP's modified UTF-7 (RFC 3501 §5.1.3).
//! Printable ASCII stands for itself (`&` as `&-`); any other run of
//! characters is UTF-16BE in base64 with `,` for `/`, between `&` and `-`.
//! Folder names are kept in UTF-8; this converts at the protocol's edge.

use base64::alphabet::Alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

const B64: GeneralPurpose =
    match Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,") {
        Ok(a) => GeneralPurpose::new(
            &a,
            GeneralPurposeConfig::new()
                .with_encode_padding(false)
                .with_decode_padding_mode(DecodePaddingMode::RequireNone),
        ),
        Err(_) => panic!("the modified base64 alphabet"),
    };

fn direct(c: char) -> bool {
    (' '..='~').contains(&c) && c != '&'
}

/// A name as the wire carries it.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, out: &mut String| {
        if !run.is_empty() {
            let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&B64.encode(bytes));
            out.push('-');
            run.clear();
        }
    };
    for c in name.chars() {
        if direct(c) {
            flush(&mut run, &mut out);
            out.push(c);
        } else if c == '&' {
            flush(&mut run, &mut out);
            out.push_str("&-");
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A name off the wire, or None when it is not modified UTF-7 as a
/// server writes it (a byte that is not printable ASCII, a bad or
/// unfinished `&…-`, ASCII or two runs encoded where they should not be).
pub fn decode(wire: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(wire).ok()?;
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find('-')?;
        if end == 0 {
            out.push('&');
        } else {
            let bytes = B64.decode(&after[..end]).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            out.push_str(&String::from_utf16(&units).ok()?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    // one way to write each name: what decodes must encode back the same
    (encode(&out) == s).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for (name, wire) in [
            ("INBOX", "INBOX"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("Été", "&AMk-t&AOk-"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("Brouillons", "Brouillons"),
            ("😀", "&2D3eAA-"),
        ] {
            assert_eq!(encode(name), wire, "{name}");
            assert_eq!(decode(wire.as_bytes()).as_deref(), Some(name), "{wire}");
        }
    }

    #[test]
    fn refuses_what_a_server_would_not_write() {
        for bad in [
            "&",
            "&AMk",
            "&Jjo!",
            "a&AGE-",     // 'a' encoded
            "&AMk-&AOk-", // two runs side by side
            "&AM-",       // half a character
            "&2D0-",      // a lone surrogate
            "tab\there",
        ] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(decode("Été".as_bytes()), None, "UTF-8 unencoded");
    }
}
