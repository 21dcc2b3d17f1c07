//! The tracking events written with mail: one row per step of a message's
//! and its deliveries' life (`received`, `queued`, `held`, attempts, `dsn`),
//! and the SMTP transactions refused. Live Tracking (`tracking/`) reads them.

use serde_json::json;

use crate::store::db;

use super::{DeliveryId, MessageId, NewMessage, NewRecipient, Rejection, Result};

pub(crate) async fn event(
    conn: &mut db::Tx<'_>,
    at: i64,
    message: Option<MessageId>,
    delivery: Option<DeliveryId>,
    kind: &str,
    detail: serde_json::Value,
) -> Result<()> {
    db::query(
        "INSERT INTO events (at, message_id, delivery_id, kind, detail) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(at)
    .bind(message.map(|m| m.0))
    .bind(delivery.map(|d| d.0))
    .bind(kind)
    .bind(detail.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// A refused SMTP transaction (Live Tracking shows it with its reply).
pub(crate) async fn rejected(conn: &mut db::Tx<'_>, r: &Rejection, now: i64) -> Result<()> {
    event(
        conn,
        now,
        None,
        None,
        "rejected",
        json!({
            "client_ip": r.client_ip,
            "helo": r.helo,
            "mail_from": r.mail_from,
            "rcpt": r.rcpt,
            "reply": r.reply,
        }),
    )
    .await
}

/// The tracking event of a message's arrival (its detail).
pub(crate) fn received_detail(m: &NewMessage) -> serde_json::Value {
    json!({
        "origin": m.origin.as_str(),
        "mail_from": m.mail_from,
        "client_ip": m.client_ip,
        "helo": m.helo,
        "tls": m.tls,
        "size": m.raw.len(),
        "recipients": m.recipients.len(),
    })
}

/// The tracking event of a delivery queued (its detail).
pub(crate) fn queued_detail(r: &NewRecipient) -> serde_json::Value {
    let route = if r.domain.is_some() {
        "primary"
    } else {
        "outbound"
    };
    json!({ "rcpt": r.rcpt, "route": route })
}

/// The tracking event of a delivery held from the start (its detail).
pub(crate) fn held_detail() -> serde_json::Value {
    json!({ "reason": "the primary is in an outage: kept in the continuity mailbox" })
}
