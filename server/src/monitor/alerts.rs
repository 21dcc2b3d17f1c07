//! Outage alerts: when a domain enters an outage, and when the outage is
//! over, its administrators are told by mail at their recovery addresses.
//! The alert is stored and queued like any message (tracked, retried); an
//! address in the failing domain itself is skipped, since that mail would
//! wait behind the dead primary.

use mail_builder::MessageBuilder;

use super::state::{Mode, Transition};
use crate::directory::{RcptVerdict, RecipientPolicy};
use crate::store::continuity::Monitored;
use crate::store::{now_ms, NewMessage, NewRecipient, Origin, Store, StoreError, Summary};

/// Which transitions are announced, and their subject line.
fn subject(d: &Monitored, t: &Transition) -> Option<String> {
    match (t.from, t.to) {
        (_, Mode::Outage) => Some(format!(
            "[Continuity] {}: outage, the Continuity Service is active",
            d.name
        )),
        (Mode::Recovering, Mode::Normal) => Some(format!(
            "[Continuity] {}: the primary is back, held mail delivered",
            d.name
        )),
        _ => None,
    }
}

/// Queue the alert for a transition (if it is one worth telling).
pub async fn announce(
    store: &Store,
    hostname: &str,
    d: &Monitored,
    t: &Transition,
) -> Result<usize, StoreError> {
    let Some(subject) = subject(d, t) else {
        return Ok(0);
    };
    let to = store.alert_recipients(d.id).await?;
    if to.is_empty() {
        return Ok(0);
    }
    let snap = store.directory_snapshot().await?;
    let mut recipients = Vec::new();
    for rcpt in &to {
        match snap.check(rcpt) {
            RcptVerdict::Accept { domain, .. } if domain == d.id => {
                tracing::warn!(%rcpt, domain = %d.name, "recovery address in the failing domain: alert skipped");
            }
            RcptVerdict::Accept { domain, user } => recipients.push(NewRecipient {
                rcpt: rcpt.clone(),
                domain: Some(domain),
                user,
            }),
            _ => recipients.push(NewRecipient {
                rcpt: rcpt.clone(),
                domain: None,
                user: None,
            }),
        }
    }
    if recipients.is_empty() {
        return Ok(0);
    }
    let from = format!("continuity@{hostname}");
    let body = format!(
        "Domain: {}\r\nState: {} -> {}\r\nWhy: {}\r\nPrimary: {}:{}\r\n\r\n\
         While the domain is in outage, its users read and send their mail in the Continuity webmail, \
         and mail for the primary is held; it is delivered, oldest first, once the primary is back.\r\n",
        d.name,
        t.from.as_str(),
        t.to.as_str(),
        t.reason,
        d.primary_host,
        d.primary_port
    );
    let raw = MessageBuilder::new()
        .from(("Continuity", from.as_str()))
        .to(recipients
            .iter()
            .map(|r| r.rcpt.as_str())
            .collect::<Vec<_>>())
        .subject(subject)
        .message_id(format!("alert-{}-{}@{hostname}", d.id, now_ms()))
        .text_body(body)
        .write_to_vec()
        .unwrap_or_default();
    let n = recipients.len();
    store
        .ingest(NewMessage {
            origin: Origin::Smtp,
            mail_from: from,
            client_ip: Some("127.0.0.1".into()),
            helo: Some("continuity (outage alert)".into()),
            tls: false,
            summary: Summary::parse(&raw),
            raw,
            recipients,
            in_reply_to: None,
            sign_as: None,
        })
        .await?;
    Ok(n)
}
