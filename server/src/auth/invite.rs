//! The set-password invitation mail: built with mail-builder and put in the
//! normal path (archived, tracked, queued for the user's primary), so the
//! user finds it in their usual mailbox while the primary works. Its link
//! sets the user's password: it is marked ([`HELO`]) so that no
//! administrator can download it from the archive (Live Tracking shows its
//! story, never its bytes).

use mail_builder::MessageBuilder;

use crate::store::accounts::Account;
use crate::store::{MessageId, NewMessage, NewRecipient, Origin, Store, StoreError, Summary};

/// Build the invitation (French and English in one message).
pub fn build(account: &Account, link: &str, hostname: &str, valid_days: u64) -> Vec<u8> {
    let name = if account.display_name.is_empty() {
        account.address.clone()
    } else {
        account.display_name.clone()
    };
    let text = format!(
        "Bonjour {name},\r\n\r\n\
         Définissez votre mot de passe d'urgence Continuity avec ce lien (valable {valid_days} jours, une seule fois) :\r\n\
         {link}\r\n\r\n\
         Ce mot de passe vous permettra de lire et d'envoyer vos e-mails si votre serveur de messagerie devient indisponible.\r\n\r\n\
         ----\r\n\r\n\
         Hello {name},\r\n\r\n\
         Set your Continuity emergency password with this link (valid for {valid_days} days, once):\r\n\
         {link}\r\n\r\n\
         With this password you can read and send your mail if your mail server becomes unavailable.\r\n"
    );
    let from = format!("continuity@{hostname}");
    MessageBuilder::new()
        .from(("Continuity", from.as_str()))
        .to((name.as_str(), account.address.as_str()))
        .subject("Mot de passe d'urgence / Emergency password — Continuity")
        .message_id(format!(
            "invite-{}-{}@{hostname}",
            account.user,
            crate::store::now_ms()
        ))
        .text_body(text)
        .write_to_vec()
        .unwrap_or_default()
}

/// What the invitation is stored as having come from. No SMTP client can
/// say this (a HELO name has no spaces), so it marks invitations only.
pub const HELO: &str = "continuity (password invitation)";

/// Store and queue the invitation for the user's primary.
pub async fn send(
    store: &Store,
    account: &Account,
    link: &str,
    hostname: &str,
    valid_days: u64,
) -> Result<MessageId, StoreError> {
    let raw = build(account, link, hostname, valid_days);
    store
        .ingest(NewMessage {
            // Submitted locally by the service itself.
            origin: Origin::Smtp,
            mail_from: format!("continuity@{hostname}"),
            client_ip: Some("127.0.0.1".into()),
            helo: Some(HELO.into()),
            tls: false,
            summary: Summary::parse(&raw),
            raw,
            recipients: vec![NewRecipient {
                rcpt: account.address.clone(),
                domain: Some(account.domain),
                user: Some(account.user),
            }],
            in_reply_to: None,
            sign_as: None,
        })
        .await
}
