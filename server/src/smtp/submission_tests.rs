//! Scripted conversations with a submission session (RFC 6409, RFC 4954):
//! nothing relayed before AUTH, AUTH only over TLS, PLAIN and LOGIN, who
//! may send as whom — tried by breaking each rule.

use base64::Engine;

use super::session::{Principal, SubmissionMode};
use super::session_tests::{params, Harness};
use crate::store::{DomainId, UserId};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

fn alice() -> Principal {
    Principal::User {
        id: UserId(1),
        addresses: vec!["alice@example.test".into(), "a.smith@example.test".into()],
    }
}

fn submission(plaintext_auth: bool, tls: bool) -> Harness {
    let mut p = params();
    p.submission = Some(SubmissionMode {
        allow_plaintext_auth: plaintext_auth,
    });
    let mut h = Harness::new(p);
    if tls {
        h.s.tls_established();
    }
    h.accounts
        .push(("alice@example.test".into(), "pw-alice".into(), alice()));
    h.accounts.push((
        "example.test".into(),
        "cty_relay_x".into(),
        Principal::Primary {
            domain: DomainId(1),
            name: "example.test".into(),
        },
    ));
    h
}

#[test]
fn issue_6_nothing_is_relayed_before_auth_and_auth_needs_tls() {
    let mut h = submission(false, false);
    let ehlo = h.send(b"EHLO c.test\r\n").join("");
    assert!(
        ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    h.expect(
        &format!("AUTH PLAIN {}\r\n", b64("\0alice@example.test\0pw-alice")),
        &["538 5.7.11"],
    );
    assert!(
        h.asked.is_empty(),
        "the password was never looked at in clear text"
    );
    h.expect("MAIL FROM:<alice@example.test>\r\n", &["530 5.7.0"]);
    h.expect("RCPT TO:<anyone@remote.test>\r\n", &["503"]);
    assert!(h.committed.is_empty());

    // over TLS AUTH is offered, and a wrong password relays nothing
    let mut h = submission(false, true);
    let ehlo = h.send(b"EHLO c.test\r\n").join("");
    assert!(
        ehlo.contains("AUTH PLAIN LOGIN") && !ehlo.contains("STARTTLS"),
        "{ehlo}"
    );
    h.expect(
        &format!("AUTH PLAIN {}\r\n", b64("\0alice@example.test\0wrong")),
        &["535 5.7.8"],
    );
    h.expect("MAIL FROM:<alice@example.test>\r\n", &["530 5.7.0"]);
}

#[test]
fn issue_6_a_user_sends_as_their_own_addresses_only() {
    let mut h = submission(false, true);
    h.expect("EHLO c.test\r\n", &["250-mx.test"]);
    // LOGIN in two steps
    h.expect("AUTH LOGIN\r\n", &["334 VXNlcm5hbWU6"]);
    h.expect(
        &format!("{}\r\n", b64("alice@example.test")),
        &["334 UGFzc3dvcmQ6"],
    );
    h.expect(&format!("{}\r\n", b64("pw-alice")), &["235 2.7.0"]);
    h.expect("AUTH PLAIN\r\n", &["503 5.5.1"]);
    h.expect("MAIL FROM:<bob@example.test>\r\n", &["553 5.7.1"]);
    h.expect("MAIL FROM:<ceo@bank.test>\r\n", &["553 5.7.1"]);
    h.expect("MAIL FROM:<A.Smith@example.test>\r\n", &["250"]);
    // any recipient, but a real address
    h.expect("RCPT TO:<friend@remote.test>\r\n", &["250"]);
    h.expect("RCPT TO:<bob@example.test>\r\n", &["250"]);
    h.expect("RCPT TO:<\"a,b\"@x>\r\n", &["501"]);
    h.expect("DATA\r\n", &["354"]);
    h.expect("From: a.smith@example.test\r\n\r\nhi\r\n.\r\n", &["250"]);
    let env = &h.committed[0];
    assert_eq!(env.principal, Some(alice()));
    let rcpts: Vec<_> = env.recipients.iter().map(|r| r.rcpt.as_str()).collect();
    assert_eq!(rcpts, ["friend@remote.test", "bob@example.test"]);
}

#[test]
fn issue_6_plain_with_a_challenge_a_cancel_and_the_domains_own_server() {
    let mut h = submission(false, true);
    h.expect("EHLO c.test\r\n", &["250-mx.test"]);
    h.expect("AUTH PLAIN\r\n", &["334 "]);
    h.expect("*\r\n", &["501 5.7.0"]);
    h.expect("AUTH CRAM-MD5\r\n", &["504 5.5.4"]);
    h.expect("AUTH PLAIN\r\n", &["334 "]);
    h.expect(
        &format!("{}\r\n", b64("\0example.test\0cty_relay_x")),
        &["235"],
    );
    // the domain's server: its domain (and subdomains) and bounces only
    h.expect("MAIL FROM:<news@other.test>\r\n", &["553 5.7.1"]);
    h.expect("MAIL FROM:<>\r\n", &["250"]);
    h.expect("RSET\r\n", &["250"]);
    h.expect("MAIL FROM:<news@lists.example.test>\r\n", &["250"]);
    h.expect("RCPT TO:<x@remote.test>\r\n", &["250"]);
}

#[test]
fn issue_6_a_domains_network_relays_without_auth_and_tls_forgets_a_cleartext_login() {
    let mut h = submission(true, false);
    h.s.set_network_principal(Principal::Primary {
        domain: DomainId(1),
        name: "example.test".into(),
    });
    h.expect("EHLO c.test\r\n", &["250-mx.test"]);
    h.expect("MAIL FROM:<bob@example.test>\r\n", &["250"]);
    h.expect("RCPT TO:<x@remote.test>\r\n", &["250"]);
    h.expect("RSET\r\n", &["250"]);

    // plaintext AUTH (configured for loopback tests) is forgotten at STARTTLS
    let mut h = submission(true, false);
    h.expect("EHLO c.test\r\n", &["250-mx.test"]);
    h.expect(
        &format!("AUTH PLAIN {}\r\n", b64("\0alice@example.test\0pw-alice")),
        &["235"],
    );
    h.expect("STARTTLS\r\n", &["220"]);
    h.s.tls_established();
    h.expect("EHLO c.test\r\n", &["250-mx.test"]);
    h.expect("MAIL FROM:<alice@example.test>\r\n", &["530"]);
}
