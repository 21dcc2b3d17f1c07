//! Users told of starts and ends: a user's contact points (Settings) and
//! a domain's notices (the Control Panel).

use serde::{Deserialize, Serialize};

/// One contact point as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPointView {
    pub value: String,
    /// It counts (proved, or set by an administrator or the directory).
    pub verified: bool,
    /// "user", "admin" or "directory".
    pub source: String,
}

/// The Settings card: where the user is told when mail is down.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactsView {
    pub csrf: String,
    pub alt_email: Option<ContactPointView>,
    pub mobile: Option<ContactPointView>,
    /// A code was texted and waits to be typed.
    pub mobile_waiting: bool,
    /// An SMS gateway is configured (a mobile can be proved and told).
    pub sms: bool,
}

/// One user's notice of a start or an end, on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeLine {
    pub id: i64,
    pub user: String,
    /// "start" or "end".
    pub kind: String,
    /// "email" or "sms".
    pub channel: String,
    pub address: String,
    /// "queued", "sent", "failed" or "skipped".
    pub status: String,
    /// Why (skipped: "quiet", "cap", "no-gateway", "failing-domain"; failed:
    /// the gateway's answer).
    pub detail: String,
    /// A mail's delivery: "queued", "delivered", "bounced"…
    pub delivery: Option<String>,
    pub at: i64,
}

/// The Control Panel's panel: the domain's switches and its last event's
/// notices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticesView {
    pub users_on: bool,
    pub drills_on: bool,
    pub sms: bool,
    pub lines: Vec<NoticeLine>,
}
