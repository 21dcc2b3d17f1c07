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

/// Control Panel logins of the demo: (address, operator?).
pub const DEMO_ADMINS: [(&str, bool); 2] =
    [("ops@continuity.test", true), ("admin@example.test", false)];

/// The demo users' password (printed when the demo starts).
pub const DEMO_PASSWORD: &str = "lantern-orchid-2026";

/// Create the demo domain (primary `primary_host:primary_port`) and users,
/// and put a few messages in the archive; give every demo user without a
/// password [`DEMO_PASSWORD`]. Returns false when the domain existed.
pub async fn ensure(
    store: &Store,
    primary_host: &str,
    primary_port: u16,
) -> Result<bool, StoreError> {
    let created = create(store, primary_host, primary_port).await?;
    // Control Panel logins: an operator and the demo domain's admin
    for (address, operator) in DEMO_ADMINS {
        if store.admin_by_address(address).await?.is_none() {
            let hash = tokio::task::spawn_blocking(|| crate::auth::password::hash(DEMO_PASSWORD))
                .await
                .map_err(|e| StoreError::Invalid(e.to_string()))?
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let domains = match store.domain_by_name(DEMO_DOMAIN).await? {
                Some(d) if !operator => vec![d.id],
                _ => Vec::new(),
            };
            store
                .add_admin(address, "", operator, &domains, &hash)
                .await?;
        }
    }
    for (user, _, _) in DEMO_USERS {
        if let Some(a) = store
            .account_by_address(&format!("{user}@{DEMO_DOMAIN}"))
            .await?
        {
            if a.password_hash.is_none() {
                let hash =
                    tokio::task::spawn_blocking(|| crate::auth::password::hash(DEMO_PASSWORD))
                        .await
                        .map_err(|e| StoreError::Invalid(e.to_string()))?
                        .map_err(|e| StoreError::Invalid(e.to_string()))?;
                store.set_password_hash(a.user, &hash).await?;
            }
        }
    }
    Ok(created)
}

async fn create(store: &Store, primary_host: &str, primary_port: u16) -> Result<bool, StoreError> {
    if store.domain_by_name(DEMO_DOMAIN).await?.is_some() {
        return Ok(false);
    }
    let domain = store
        .add_domain(
            DEMO_DOMAIN,
            primary_host,
            primary_port,
            TlsMode::Opportunistic,
        )
        .await?;
    // mail the demo sends is DKIM-signed (selector "demo")
    let key = tokio::task::spawn_blocking(|| {
        crate::relay::dkim::generate(crate::relay::dkim::Algorithm::RsaSha256, 2048)
    })
    .await
    .map_err(|e| StoreError::Invalid(e.to_string()))?
    .map_err(|e| StoreError::Invalid(e.to_string()))?;
    store
        .add_dkim_key(
            domain.id,
            "demo",
            "rsa-sha256",
            &key.private_der,
            &key.public_b64,
        )
        .await?;
    // probe every 5 s: an unreachable demo primary shows continuity active
    // within seconds
    store
        .set_monitoring(domain.id, 5_000, 4_000, 2, 2, None)
        .await?;
    // the demo's admin may point the primary at a test server on this
    // machine (a real domain's admins name a public mail server)
    let local = crate::monitor::reach::PrimaryAllowance::parse(
        "127.0.0.0/8 ::1",
        &primary_port.to_string(),
    )
    .map_err(StoreError::Invalid)?;
    store.set_primary_allowance(domain.id, &local).await?;
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
    let mut messages: Vec<(String, Vec<u8>)> = Vec::new();
    for (user, subject, body) in samples {
        let rcpt = format!("{user}@{DEMO_DOMAIN}");
        let raw = format!(
            "From: Demo Sender <sender@remote.test>\r\nTo: {rcpt}\r\nSubject: =?UTF-8?Q?{}?=\r\n\
             Date: Sat, 28 Nov 2026 09:00:00 +0000\r\nMessage-ID: <demo-{user}@remote.test>\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}",
            q_encode(subject)
        )
        .into_bytes();
        messages.push((rcpt, raw));
    }
    messages.push((format!("alice@{DEMO_DOMAIN}"), NEWSLETTER.to_vec()));
    for (rcpt, raw) in messages {
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
                sign_as: None,
            })
            .await?;
    }
    Ok(true)
}

/// An HTML message with everything the reader must handle safely: a
/// script, an event handler, a remote tracking pixel, an inline (cid:)
/// image and a PDF attachment with an accented name.
const NEWSLETTER: &[u8] = b"From: =?UTF-8?Q?Caf=C3=A9_des_Arts?= <news@remote.test>\r\n\
To: alice@example.test\r\n\
Subject: =?UTF-8?Q?Programme_de_d=C3=A9cembre?=\r\n\
Date: Sat, 28 Nov 2026 08:30:00 +0000\r\n\
Message-ID: <demo-newsletter@remote.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
--outer\r\n\
Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n\
--rel\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n\
<html><body><h2 style=\"color:#7a3b00\">Programme de d\xc3\xa9cembre</h2>\
<p id=\"greeting\">Bonjour Alice, voici notre programme.</p>\
<img src=\"cid:logo@remote.test\" alt=\"logo\" id=\"logo\">\
<img src=\"https://tracker.remote.test/pixel.gif?u=alice\" width=\"1\" height=\"1\" alt=\"\">\
<img src=\"x\" onerror=\"document.title='pwned'\">\
<script>document.title='pwned'</script>\
<p><a href=\"javascript:document.title='pwned'\">cliquez</a> \
<a href=\"https://remote.test/programme\">le programme</a></p></body></html>\r\n\
--rel\r\n\
Content-Type: image/png\r\n\
Content-ID: <logo@remote.test>\r\n\
Content-Transfer-Encoding: base64\r\n\r\n\
iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n\
--rel--\r\n\
--outer\r\n\
Content-Type: application/pdf; name=\"programme.pdf\"\r\n\
Content-Disposition: attachment; filename*=UTF-8''programme%20d%C3%A9cembre.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\n\
JVBERi0xLjQKJSBkZW1vCg==\r\n\
--outer--\r\n";

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
