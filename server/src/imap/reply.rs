//! The status responses every command ends with, and the numbers
//! responses carry: a leaf the session, the dispatchers and the commands
//! call down to (as `smtp/reply.rs` is to the SMTP session).

use std::num::NonZeroU32;

use imap_next::imap_types::core::{Tag, Text};
use imap_next::imap_types::response::{Code, Status};

/// A sequence number, UID or count as a non-zero number (0 never is one:
/// it stands for 1).
pub fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

pub fn text(s: &str) -> Text<'static> {
    Text::try_from(s.to_string()).unwrap_or_else(|_| Text::try_from("OK").expect("plain text"))
}

pub fn ok(tag: &Tag<'static>, code: Option<Code<'static>>, t: &str) -> Status<'static> {
    Status::ok(Some(tag.clone()), code, text(t)).unwrap_or_else(|_| unreachable_status())
}

pub fn no(tag: &Tag<'static>, code: Option<Code<'static>>, t: &str) -> Status<'static> {
    Status::no(Some(tag.clone()), code, text(t)).unwrap_or_else(|_| unreachable_status())
}

/// The store could not answer: the client may try again.
pub fn unavailable(tag: &Tag<'static>) -> Status<'static> {
    no(tag, code("UNAVAILABLE"), "Try again later")
}

pub fn bad(tag: &Tag<'static>, t: &str) -> Status<'static> {
    Status::bad(Some(tag.clone()), None, text(t)).unwrap_or_else(|_| unreachable_status())
}

pub fn untagged_ok(code: Option<Code<'static>>, t: &str) -> Status<'static> {
    Status::ok(None, code, text(t)).unwrap_or_else(|_| unreachable_status())
}

pub fn untagged_bad(t: &str) -> Status<'static> {
    Status::bad(None, None, text(t)).unwrap_or_else(|_| unreachable_status())
}

pub fn bye(t: &str) -> Status<'static> {
    Status::bye(None, text(t)).unwrap_or_else(|_| unreachable_status())
}

/// A status built from valid parts cannot fail; this keeps the types whole.
fn unreachable_status() -> Status<'static> {
    Status::bye(None, Text::try_from("internal error").expect("plain text")).expect("a bye")
}

/// A response code imap-types does not name (RFC 5530), from our constants.
pub fn code(name: &'static str) -> Option<Code<'static>> {
    Some(Code::Other(
        imap_next::imap_types::response::CodeOther::unvalidated(name.as_bytes()),
    ))
}
