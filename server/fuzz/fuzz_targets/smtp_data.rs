//! The DATA receiver fed arbitrary bytes in arbitrary pieces. Properties:
//! it never panics, ends only on CRLF.CRLF, never reads past the end, and
//! what it finishes with holds no bare LF or lone CR when asked to refuse
//! them (no SMTP smuggling).
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::config::BareNewlines;
use server::smtp::data::{has_bare_newline, Finished, MessageReader};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let limit = 1 + (mode as usize) * 128;
    let step = 1 + (mode as usize % 7) * 13;
    let mut r = MessageReader::new();
    let mut offset = 0;
    let mut done = false;
    for chunk in rest.chunks(step) {
        let (used, end) = r.ingest(chunk, limit);
        assert!(used <= chunk.len());
        offset += used;
        if end {
            done = true;
            break;
        }
    }
    if !done {
        return;
    }
    let mode = if mode & 1 == 1 {
        BareNewlines::Normalize
    } else {
        BareNewlines::Reject
    };
    if let Finished::Message(raw) = r.finish(limit, mode) {
        assert!(!has_bare_newline(&raw), "bare newline in a finished message");
        // a message ends only on a line holding a single dot after a CRLF
        let taken = &rest[..offset];
        assert!(
            taken.ends_with(b"\r\n.\r\n") || taken == b".\r\n",
            "ended on {:?}",
            String::from_utf8_lossy(&taken[taken.len().saturating_sub(8)..])
        );
        assert!(raw.len() <= limit);
    }
});
