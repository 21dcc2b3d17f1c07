//! Scripted conversations with the session machine, no sockets: each step
//! sends bytes and expects the replies (by their first characters).

use std::sync::Arc;

use super::data::{has_bare_newline, normalize_newlines};
use super::session::{Envelope, Event, Session, SessionParams};
use crate::config::BareNewlines;
use crate::store::admin::DirectorySnapshot;
use crate::store::{DomainId, MessageId, UserId};

pub(super) fn directory() -> DirectorySnapshot {
    let mut s = DirectorySnapshot::default();
    s.domains.insert("example.test".into(), (DomainId(1), true));
    for (i, u) in ["alice", "bob", "carol"].iter().enumerate() {
        s.addresses.insert(
            format!("{u}@example.test"),
            (UserId(i as i64 + 1), DomainId(1), false),
        );
    }
    s
}

pub(super) fn params() -> SessionParams {
    SessionParams {
        max_junk_commands: 50,
        hostname: "mx.test".into(),
        max_message_size: 1000,
        max_recipients: 3,
        max_line_length: 600,
        max_errors: 10,
        bare_newlines: BareNewlines::Reject,
        tls_available: true,
        submission: None,
    }
}

pub(super) struct Harness {
    pub(super) s: Session<DirectorySnapshot>,
    pub(super) committed: Vec<Envelope>,
    pub(super) starttls: bool,
    pub(super) closed: bool,
    /// How AUTH credentials are judged: the valid (user, password, principal).
    pub(super) accounts: Vec<(String, String, super::session::Principal)>,
    /// Credentials the session asked to check.
    pub(super) asked: Vec<(String, String)>,
}

impl Harness {
    pub(super) fn new(p: SessionParams) -> Harness {
        Harness {
            s: Session::new(Arc::new(p), directory(), "192.0.2.1".into(), false),
            committed: Vec::new(),
            starttls: false,
            closed: false,
            accounts: Vec::new(),
            asked: Vec::new(),
        }
    }

    /// Feed `input`, run every event, return the replies as text.
    pub(super) fn send(&mut self, input: &[u8]) -> Vec<String> {
        self.s.feed(input);
        let mut out = Vec::new();
        while let Some(ev) = self.s.next_event() {
            match ev {
                Event::Reply(r) => out.push(String::from_utf8(r.to_bytes()).unwrap()),
                Event::Commit(env) => {
                    self.committed.push(env);
                    let r = self.s.committed(Ok(MessageId(self.committed.len() as i64)));
                    out.push(String::from_utf8(r.to_bytes()).unwrap());
                }
                Event::StartTls(r) => {
                    self.starttls = true;
                    out.push(String::from_utf8(r.to_bytes()).unwrap());
                    break;
                }
                Event::Close(r) => {
                    self.closed = true;
                    out.push(String::from_utf8(r.to_bytes()).unwrap());
                }
                Event::Authenticate { user, password } => {
                    let verdict = self
                        .accounts
                        .iter()
                        .find(|(u, p, _)| *u == user && *p == password)
                        .map(|(_, _, who)| who.clone())
                        .ok_or_else(|| {
                            super::reply::Reply::new(
                                535,
                                [5, 7, 8],
                                "Authentication credentials invalid",
                            )
                        });
                    self.asked.push((user, password));
                    let r = self.s.authenticated(verdict);
                    out.push(String::from_utf8(r.to_bytes()).unwrap());
                }
            }
        }
        out
    }

    /// Send and check each reply starts with the expected prefix.
    pub(super) fn expect(&mut self, input: &str, expected: &[&str]) {
        let got = self.send(input.as_bytes());
        assert_eq!(got.len(), expected.len(), "for {input:?}: got {got:?}");
        for (g, e) in got.iter().zip(expected) {
            assert!(g.starts_with(e), "for {input:?}: expected {e:?}, got {g:?}");
        }
    }
}

fn ready() -> Harness {
    let mut h = Harness::new(params());
    h.expect("EHLO client.test\r\n", &["250-mx.test Hello client.test"]);
    h
}

#[test]
fn greeting_and_ehlo_advertise_extensions() {
    let mut h = Harness::new(params());
    assert_eq!(
        h.s.greeting().to_bytes(),
        b"220 mx.test ESMTP Continuity\r\n"
    );
    let r = h.send(b"EHLO client.test\r\n").join("");
    for ext in [
        "PIPELINING",
        "SIZE 1000",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
    ] {
        assert!(r.contains(ext), "{ext} missing from {r}");
    }
    assert!(r.ends_with("\r\n") && r.lines().last().unwrap().starts_with("250 "));
    h.expect("HELO client.test\r\n", &["250 mx.test"]);
}

#[test]
fn a_whole_transaction() {
    let mut h = ready();
    h.expect("MAIL FROM:<s@remote.test>\r\n", &["250 2.1.0"]);
    h.expect("RCPT TO:<alice@example.test>\r\n", &["250 2.1.5"]);
    h.expect("DATA\r\n", &["354 "]);
    h.expect(
        "Subject: hi\r\n\r\nline\r\n..dot\r\n.\r\n",
        &["250 2.0.0 Ok: queued as 1"],
    );
    h.expect("QUIT\r\n", &["221 2.0.0"]);
    assert!(h.closed);
    let env = &h.committed[0];
    assert_eq!(env.mail_from, "s@remote.test");
    assert_eq!(env.recipients[0].rcpt, "alice@example.test");
    assert_eq!(env.recipients[0].user, Some(UserId(1)));
    // byte-exact after dot-unstuffing (RFC 5321 §4.5.2)
    assert_eq!(env.raw, b"Subject: hi\r\n\r\nline\r\n.dot\r\n");
    assert_eq!(env.helo.as_deref(), Some("client.test"));
}

#[test]
fn first_line_dot_handling() {
    let mut h = ready();
    h.expect(
        "MAIL FROM:<>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n",
        &["250", "250", "354"],
    );
    h.expect("..starts with a dot\r\n.\r\n", &["250 2.0.0"]);
    assert_eq!(h.committed[0].raw, b".starts with a dot\r\n");
    assert_eq!(h.committed[0].mail_from, "", "null sender kept");
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let mut h = ready();
    h.expect(
        "MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n",
        &["250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "354"],
    );
    h.expect(
        "x\r\n.\r\nMAIL FROM:<t@remote.test>\r\nRSET\r\nQUIT\r\n",
        &["250 2.0.0", "250 2.1.0", "250 2.0.0", "221"],
    );
    assert_eq!(h.committed.len(), 1);
    assert_eq!(h.committed[0].recipients.len(), 2);
}

#[test]
fn bytes_split_anywhere_give_the_same_result() {
    let script = b"EHLO c\r\nMAIL FROM:<s@r.test>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\nA: b\r\n\r\nbody\r\n.\r\nQUIT\r\n";
    for chunk in [1usize, 2, 3, 7, 13] {
        let mut h = Harness::new(params());
        let mut replies = Vec::new();
        for c in script.chunks(chunk) {
            replies.extend(h.send(c));
        }
        assert_eq!(replies.len(), 6, "chunk {chunk}: {replies:?}");
        assert_eq!(h.committed[0].raw, b"A: b\r\n\r\nbody\r\n", "chunk {chunk}");
    }
}

#[test]
fn no_open_relay_and_unknown_users() {
    let mut h = ready();
    h.expect("MAIL FROM:<s@remote.test>\r\n", &["250"]);
    h.expect("RCPT TO:<victim@elsewhere.test>\r\n", &["550 5.7.1"]);
    h.expect("RCPT TO:<victim@sub.example.test>\r\n", &["550 5.7.1"]);
    h.expect(
        "RCPT TO:<victim@example.test.evil.test>\r\n",
        &["550 5.7.1"],
    );
    h.expect(
        "RCPT TO:<\"alice@example.test\"@elsewhere.test>\r\n",
        &["550 5.7.1"],
    );
    h.expect("RCPT TO:<nobody@example.test>\r\n", &["550 5.1.1"]);
    h.expect("DATA\r\n", &["554 5.5.1"]);
    let rejections = h.s.take_rejections();
    assert_eq!(rejections.len(), 5);
    assert_eq!(rejections[0].rcpt.as_deref(), Some("victim@elsewhere.test"));
    assert!(rejections[0].reply.starts_with("550 5.7.1"));
}

#[test]
fn sequence_errors() {
    let mut p = params();
    p.max_errors = 50;
    let mut h = Harness::new(p);
    h.expect("MAIL FROM:<s@remote.test>\r\n", &["503 5.5.1"]);
    h.expect("RCPT TO:<alice@example.test>\r\n", &["503 5.5.1"]);
    h.expect("DATA\r\n", &["503 5.5.1"]);
    h.expect(
        "EHLO c\r\nMAIL FROM:<s@remote.test>\r\nMAIL FROM:<s@remote.test>\r\n",
        &["250", "250", "503 5.5.1"],
    );
    h.expect("BDAT 10 LAST\r\n", &["502 5.5.1"]);
    h.expect("FOO bar\r\n", &["500 5.5.1"]);
    h.expect("MAIL FROM:<bad address\r\n", &["501"]);
    h.expect(
        "RSET\r\nRCPT TO:<alice@example.test>\r\n",
        &["250", "503 5.5.1"],
    );
    h.expect("VRFY alice\r\n", &["252"]);
    h.expect("NOOP\r\n", &["250 2.0.0"]);
    h.expect("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", &["503 5.5.1"]);
    h.expect("EHLO\r\n", &["501"]);
}

#[test]
fn size_limit_declared_and_actual() {
    let mut h = ready();
    h.expect("MAIL FROM:<s@remote.test> SIZE=5000\r\n", &["552 5.3.4"]);
    h.expect(
        "MAIL FROM:<s@remote.test> SIZE=500\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n",
        &["250", "250", "354"],
    );
    let big = format!("{}\r\n.\r\n", "x".repeat(3000));
    h.expect(&big, &["552 5.3.4"]);
    assert!(h.committed.is_empty());
    // the session goes on, and the next message fits
    h.expect(
        "MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nsmall\r\n.\r\n",
        &["250", "250", "354", "250 2.0.0"],
    );
}

#[test]
fn too_many_recipients() {
    let mut h = ready();
    h.expect("MAIL FROM:<s@remote.test>\r\n", &["250"]);
    for u in ["alice", "bob", "carol"] {
        h.expect(&format!("RCPT TO:<{u}@example.test>\r\n"), &["250"]);
    }
    h.expect("RCPT TO:<alice+x@example.test>\r\n", &["452 4.5.3"]);
    // a duplicate is not a new recipient
    h.expect("RCPT TO:<ALICE@example.test>\r\n", &["250"]);
}

#[test]
fn long_lines_are_refused() {
    let mut h = ready();
    let long = format!("NOOP {}\r\n", "a".repeat(700));
    h.expect(&long, &["500 5.5.2"]);
    // split across reads: the tail of the refused line is skipped, not parsed
    let head = format!("NOOP {}", "b".repeat(700));
    h.expect(&head, &["500 5.5.2"]);
    h.expect("bbb RSET\r\nNOOP\r\n", &["250 2.0.0"]);
}

#[test]
fn too_many_errors_close_the_session() {
    let mut p = params();
    p.max_errors = 3;
    let mut h = Harness::new(p);
    h.expect(
        "FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n",
        &["500", "500", "421 4.7.0"],
    );
    assert!(h.closed);
    assert!(h.send(b"NOOP\r\n").is_empty(), "nothing after close");
}

#[test]
fn starttls_discards_pipelined_plaintext_and_resets() {
    let mut h = ready();
    // CVE-2011-0411: commands injected after STARTTLS in the same packet
    h.expect(
        "STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n",
        &["220 2.0.0"],
    );
    assert!(h.starttls);
    h.s.tls_established();
    assert!(h.send(b"").is_empty(), "the injected MAIL was discarded");
    // state reset: EHLO needed again, and STARTTLS no longer offered
    h.expect("MAIL FROM:<s@remote.test>\r\n", &["503 5.5.1"]);
    let r = h.send(b"EHLO c\r\n").join("");
    assert!(!r.contains("STARTTLS"), "{r}");
    h.expect("STARTTLS\r\n", &["503 5.5.1"]);
    h.expect(
        "MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nx\r\n.\r\n",
        &["250", "250", "354", "250"],
    );
    assert!(h.committed[0].tls);
}

#[test]
fn starttls_not_offered_without_a_certificate() {
    let mut p = params();
    p.tls_available = false;
    let mut h = Harness::new(p);
    let r = h.send(b"EHLO c\r\n").join("");
    assert!(!r.contains("STARTTLS"));
    h.expect("STARTTLS\r\n", &["502 5.5.1"]);
}

/// The published SMTP smuggling sequences (2023): each hides a second
/// transaction behind a line ending that some servers take for the end of
/// DATA. Here none ends the message; the whole thing is one message, which
/// is then refused for its bare line endings — never two messages.
#[test]
fn smuggling_sequences_never_end_data() {
    for terminator in [
        "\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r", "\r\n.\n", "\n.\r", "\r.\r",
    ] {
        let mut h = ready();
        h.expect(
            "MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n",
            &["250", "250", "354"],
        );
        let payload = format!(
            "Subject: one\r\n\r\nhello{terminator}MAIL FROM:<admin@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n"
        );
        let replies = h.send(payload.as_bytes());
        assert!(
            replies.is_empty(),
            "{terminator:?} ended DATA early: {replies:?}"
        );
        let replies = h.send(b".\r\n");
        assert_eq!(replies.len(), 1, "{terminator:?}: {replies:?}");
        assert!(
            replies[0].starts_with("550 5.6.0"),
            "{terminator:?}: {replies:?}"
        );
        assert!(h.committed.is_empty(), "{terminator:?}: nothing stored");
    }
}

/// "<CRLF>.<CR><CR><LF>" ends smtp-proto's DATA; we refuse it and close, so
/// whatever follows is never read as commands.
#[test]
fn a_dot_followed_by_extra_cr_closes_without_storing() {
    let mut h = ready();
    h.expect(
        "MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n",
        &["250", "250", "354"],
    );
    let replies = h.send(b"Subject: one\r\n\r\nhello\r\n.\r\r\nMAIL FROM:<admin@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nx\r\n.\r\n");
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(replies[0].starts_with("554 5.6.0"), "{replies:?}");
    assert!(h.closed);
    assert!(h.committed.is_empty());
}

#[test]
fn empty_message() {
    let mut h = ready();
    h.expect(
        "MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n.\r\n",
        &["250", "250", "354", "250"],
    );
    assert_eq!(h.committed[0].raw, b"");
}

#[test]
fn bare_newlines_can_be_normalized_instead() {
    let mut p = params();
    p.bare_newlines = BareNewlines::Normalize;
    let mut h = Harness::new(p);
    h.expect(
        "EHLO c\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n",
        &["250", "250", "250", "354"],
    );
    h.expect("a\nb\rc\r\n.\r\n", &["250"]);
    assert_eq!(h.committed[0].raw, b"a\r\nb\r\nc\r\n");
}

#[test]
fn bare_newline_helpers() {
    assert!(!has_bare_newline(b"a\r\nb\r\n"));
    assert!(has_bare_newline(b"a\nb"));
    assert!(has_bare_newline(b"a\rb"));
    assert!(has_bare_newline(b"\n"));
    assert!(has_bare_newline(b"a\r"));
    assert_eq!(normalize_newlines(b"a\n\rb\r\n"), b"a\r\n\r\nb\r\n");
}

#[test]
fn eight_bit_and_utf8_addresses() {
    let mut h = ready();
    h.expect("MAIL FROM:<jörg@remote.test> SMTPUTF8 BODY=8BITMIME\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n", &["250", "250", "354"]);
    h.expect("Subject: Grüße\r\n\r\nÄ\r\n.\r\n", &["250"]);
    assert!(h.committed[0].smtputf8);
    assert_eq!(h.committed[0].mail_from, "jörg@remote.test");
    assert_eq!(h.committed[0].raw, "Subject: Grüße\r\n\r\nÄ\r\n".as_bytes());
}

#[test]
fn failed_commit_is_a_temporary_error() {
    let mut h = ready();
    h.s.feed(b"MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nx\r\n.\r\n");
    let mut last = None;
    while let Some(ev) = h.s.next_event() {
        if let Event::Commit(_) = ev {
            last = Some(h.s.committed(Err("disk full".into())));
        }
    }
    let r = last.expect("a commit was asked for");
    assert_eq!(r.code, 451);
    h.expect("NOOP\r\n", &["250"]);
}

#[test]
fn shedding_a_message_answers_452_and_stores_nothing() {
    let mut h = ready();
    h.expect(
        "MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n",
        &["250", "250", "354"],
    );
    assert!(h.send(b"Subject: x\r\n\r\nsome data\r\n").is_empty());
    assert!(h.s.buffered() > 0);
    h.s.shed_data();
    assert_eq!(h.s.buffered(), 0);
    h.expect("more data\r\n.\r\n", &["452 4.3.1"]);
    assert!(h.committed.is_empty());
    h.expect("NOOP\r\n", &["250"]);
}
