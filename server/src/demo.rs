//! The demo: a protected domain with users and a little mail, so that a
//! fresh install has something to look at. Idempotent.

use crate::config::TlsMode;
use crate::directory::{RcptVerdict, RecipientPolicy};
use crate::store::{NewMessage, NewRecipient, Origin, Store, StoreError, Summary};

pub const DEMO_DOMAIN: &str = "example.test";
pub const DEMO_USERS: [(&str, &str, &str); 3] = [
    ("alice", "Alice Martin", "alice.martin"),
    ("bob", "Bob Durand", "bob.durand"),
    ("carol", "Carol Petit", "carol.petit"),
];

/// Create the demo domain (primary `primary_host:primary_port`) and users,
/// and put a few messages in the archive. Returns false when it existed.
pub async fn ensure(
    store: &Store,
    primary_host: &str,
    primary_port: u16,
) -> Result<bool, StoreError> {
    if store.domain_by_name(DEMO_DOMAIN).await?.is_some() {
        return Ok(false);
    }
    store
        .add_domain(
            DEMO_DOMAIN,
            primary_host,
            primary_port,
            TlsMode::Opportunistic,
        )
        .await?;
    for (user, name, alias) in DEMO_USERS {
        store
            .add_user(
                &format!("{user}@{DEMO_DOMAIN}"),
                name,
                &[format!("{alias}@{DEMO_DOMAIN}")],
                "local",
            )
            .await?;
    }
    let snap = store.directory_snapshot().await?;
    let samples = [
        (
            "alice",
            "Quarterly report",
            "Hi Alice,\r\n\r\nThe quarterly report is attached in spirit.\r\n\r\nPaul\r\n",
        ),
        (
            "bob",
            "Réunion de lundi",
            "Bonjour Bob,\r\n\r\nLa réunion de lundi est déplacée à 10 h.\r\n\r\nClaire\r\n",
        ),
        (
            "carol",
            "Your order has shipped",
            "Hello Carol,\r\n\r\nYour order #4521 is on its way.\r\n",
        ),
    ];
    for (user, subject, body) in samples {
        let rcpt = format!("{user}@{DEMO_DOMAIN}");
        let raw = format!(
            "From: Demo Sender <sender@remote.test>\r\nTo: {rcpt}\r\nSubject: =?UTF-8?Q?{}?=\r\n\
             Date: Sat, 28 Nov 2026 09:00:00 +0000\r\nMessage-ID: <demo-{user}@remote.test>\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}",
            q_encode(subject)
        )
        .into_bytes();
        let (domain, user_id) = match snap.check(&rcpt) {
            RcptVerdict::Accept { domain, user } => (Some(domain), user),
            _ => (None, None),
        };
        store
            .ingest(NewMessage {
                origin: Origin::Demo,
                mail_from: "sender@remote.test".into(),
                client_ip: None,
                helo: None,
                tls: false,
                summary: Summary::parse(&raw),
                raw,
                recipients: vec![NewRecipient {
                    rcpt,
                    domain,
                    user: user_id,
                }],
                in_reply_to: None,
            })
            .await?;
    }
    Ok(true)
}

/// RFC 2047 Q-encoding of a UTF-8 header text.
fn q_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b' ' => out.push('_'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => out.push(b as char),
            _ => out.push_str(&format!("={b:02X}")),
        }
    }
    out
}
