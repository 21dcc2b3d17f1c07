//! The SMTP session machine fed arbitrary bytes, as the inbound MX and as
//! the submission port, the driver's answers played by the first bytes.
//! Properties: it never panics; what it hands over to be stored never
//! holds a bare LF or lone CR (no SMTP smuggling), nor more than the limits.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use server::config::BareNewlines;
use server::smtp::reply::Reply;
use server::smtp::session::{Event, Principal, Session, SessionParams, SubmissionMode};
use server::store::admin::DirectorySnapshot;
use server::store::{DomainId, MessageId, UserId};

fn snapshot() -> DirectorySnapshot {
    let mut s = DirectorySnapshot::default();
    s.domains.insert("example.test".into(), (DomainId(1), true));
    s.domains.insert("sub.example.test".into(), (DomainId(2), false));
    s.addresses
        .insert("alice@example.test".into(), (UserId(1), DomainId(1), false));
    s.addresses
        .insert("bob@example.test".into(), (UserId(2), DomainId(1), true));
    s
}

const MAX_SIZE: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let submission = mode & 1 == 1;
    let params = Arc::new(SessionParams {
        hostname: "mx.fuzz.test".into(),
        max_message_size: MAX_SIZE,
        max_recipients: 5,
        max_line_length: 512,
        max_errors: 20,
        max_junk_commands: 20,
        bare_newlines: if mode & 2 == 2 {
            BareNewlines::Normalize
        } else {
            BareNewlines::Reject
        },
        tls_available: mode & 4 == 4,
        submission: submission.then(|| SubmissionMode {
            allow_plaintext_auth: mode & 8 == 8,
        }),
    });
    let mut s = Session::new(params, snapshot(), "192.0.2.1".into(), mode & 16 == 16);
    if submission && mode & 32 == 32 {
        s.set_network_principal(Principal::Primary {
            domain: DomainId(1),
            name: "example.test".into(),
        });
    }
    let _ = s.greeting().to_bytes();
    // chunk sizes vary with the input, as reads do
    let step = 1 + (mode as usize >> 6) * 97;
    let mut verdicts = rest.iter().rev().copied().cycle();
    for chunk in rest.chunks(step) {
        s.feed(chunk);
        while let Some(event) = s.next_event() {
            match event {
                Event::Reply(r) => {
                    let _ = r.to_bytes();
                }
                Event::Commit(env) => {
                    assert!(
                        !server::smtp::data::has_bare_newline(&env.raw),
                        "a bare LF or lone CR was handed over to be stored"
                    );
                    assert!(env.raw.len() <= MAX_SIZE + 2);
                    assert!(!env.recipients.is_empty() && env.recipients.len() <= 5);
                    let _ = s.committed(Ok(MessageId(1)));
                }
                Event::Authenticate { .. } => {
                    let ok = verdicts.next().unwrap_or(0) & 1 == 1;
                    let _ = s.authenticated(if ok {
                        Ok(Principal::User {
                            id: UserId(1),
                            addresses: vec!["alice@example.test".into()],
                        })
                    } else {
                        Err(Reply::new(535, [5, 7, 8], "no"))
                    });
                }
                Event::StartTls(_) => s.tls_established(),
                Event::Close(_) => return,
            }
        }
    }
});
