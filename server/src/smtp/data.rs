//! Reading one message after DATA: smtp-proto's `DataReceiver` finds the end
//! and undoes dot-stuffing; this adds the size limit, the memory shedding and
//! the checks on what was received (RFC 5321 §2.3.8, §4.1.1.4, §4.5.2).
//! Pure: bytes in, verdict out.

use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver};

use super::reply::Reply;
use crate::config::BareNewlines;

/// The message being received.
pub struct MessageReader {
    receiver: DataReceiver,
    buf: Vec<u8>,
    /// Set once the message cannot be kept: the rest is only scanned for its
    /// end.
    discard: Option<DummyDataReceiver>,
    /// Discarding because the server is short of memory, not because the
    /// message is too big: the answer is temporary.
    shed: bool,
}

/// What the message turned out to be.
pub enum Finished {
    /// Accepted bytes, byte-exact after dot-unstuffing.
    Message(Vec<u8>),
    /// Refused; the session goes on.
    Refused(Reply),
    /// The end of data was malformed: refuse and close the connection, so
    /// that nothing after it is read as commands.
    Malformed(Reply),
}

impl Default for MessageReader {
    fn default() -> Self {
        Self::new()
    }
}

impl MessageReader {
    pub fn new() -> Self {
        let mut receiver = DataReceiver::new();
        let mut buf = Vec::with_capacity(16 * 1024);
        // The DATA line's own CRLF precedes the first data line, so a first
        // line "." ends the message and ".." is unstuffed (RFC 5321 §4.5.2).
        // The receiver learns that from these two bytes; they are cut later.
        receiver.ingest(&mut b"\r\n".iter(), &mut buf);
        MessageReader {
            receiver,
            buf,
            discard: None,
            shed: false,
        }
    }

    /// Take bytes from `input`; returns how many were used and whether the
    /// message has ended.
    pub fn ingest(&mut self, input: &[u8], limit: usize) -> (usize, bool) {
        let mut iter = input.iter();
        let done = match &mut self.discard {
            Some(d) => d.ingest(&mut iter),
            None => self.receiver.ingest(&mut iter, &mut self.buf),
        };
        let consumed = input.len() - iter.len();
        if self.discard.is_none() && self.buf.len() > limit + 2 {
            self.discard = Some(DummyDataReceiver::new_data(&self.receiver));
            self.buf = Vec::new();
        }
        (consumed, done)
    }

    /// Bytes held in memory.
    pub fn buffered(&self) -> usize {
        if self.discard.is_some() {
            0
        } else {
            self.buf.len()
        }
    }

    /// Stop keeping the message (the server is short of memory).
    pub fn shed(&mut self) {
        if self.discard.is_none() {
            self.discard = Some(DummyDataReceiver::new_data(&self.receiver));
            self.buf = Vec::new();
            self.shed = true;
        }
    }

    /// The verdict, once [`MessageReader::ingest`] said the message ended.
    pub fn finish(self, limit: usize, bare_newlines: BareNewlines) -> Finished {
        let too_big = || {
            Finished::Refused(Reply::new(
                552,
                [5, 3, 4],
                format!("Message size exceeds the limit of {limit} bytes"),
            ))
        };
        if self.shed {
            // RFC 3463: temporary, the client retries.
            return Finished::Refused(Reply::new(
                452,
                [4, 3, 1],
                "Insufficient system storage, try again later",
            ));
        }
        if self.discard.is_some() {
            return too_big();
        }
        // The receiver keeps the CRLF before the final dot (it ends the last
        // line) and drops ".<CR><LF>". It also ends on ".<CR><CR>...<LF>";
        // such a terminator is no terminator (RFC 5321 §4.1.1.4), and what
        // follows it may be a smuggled transaction.
        let mut raw = self.buf;
        if !raw.ends_with(b"\r\n") {
            return Finished::Malformed(Reply::new(
                554,
                [5, 6, 0],
                "Malformed end of data (CR after the final dot); closing connection",
            ));
        }
        raw.drain(..2);
        if has_bare_newline(&raw) {
            match bare_newlines {
                // RFC 5321 §2.3.8: CR and LF only ever appear together.
                BareNewlines::Reject => {
                    return Finished::Refused(Reply::new(
                        550,
                        [5, 6, 0],
                        "Message refused: bare LF or CR in message data (RFC 5321 section 2.3.8)",
                    ))
                }
                BareNewlines::Normalize => raw = normalize_newlines(&raw),
            }
        }
        if raw.len() > limit {
            return too_big();
        }
        Finished::Message(raw)
    }
}

/// A LF not preceded by CR, or a CR not followed by LF.
pub fn has_bare_newline(raw: &[u8]) -> bool {
    raw.iter().enumerate().any(|(i, &b)| match b {
        b'\n' => i == 0 || raw[i - 1] != b'\r',
        b'\r' => raw.get(i + 1) != Some(&b'\n'),
        _ => false,
    })
}

/// Every bare LF and lone CR becomes CRLF.
pub fn normalize_newlines(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 16);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' if raw.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}
