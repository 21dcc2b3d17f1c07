//! The Control Panel's data: an administrator, a domain's Continuity
//! Service settings and state, its reconciliation report and webhook, Email
//! Live Tracking, directory sync.

use serde::{Deserialize, Serialize};

/// A Control Panel administrator, as the admin pages see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminViewer {
    pub address: String,
    pub display_name: String,
    pub operator: bool,
    pub csrf: String,
    /// The domains this administrator may manage, by name.
    pub domains: Vec<String>,
}

/// A user listed in a domain's Continuity Service users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinuityUser {
    pub id: i64,
    pub address: String,
    pub display_name: String,
}

/// One audit line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub before: String,
    pub after: String,
}

/// Security settings > Continuity Service, for one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinuityView {
    pub domain: String,
    pub enabled: bool,
    /// "all" or "selected".
    pub scope: String,
    pub users: Vec<ContinuityUser>,
    /// "normal", "outage", "recovering" or "drill".
    pub state: String,
    pub audit: Vec<AuditEntry>,
    /// "Activer le mot de passe d'urgence" is on.
    pub emergency_enabled: bool,
    /// Covered users and their emergency password.
    pub emergency: Vec<EmergencyUser>,
    pub primary: PrimaryView,
    /// The continuity state's recent changes, newest first.
    pub timeline: Vec<TimelineEntry>,
    /// What waits for the primary now.
    pub held: HeldView,
    /// The reconciliation report of the last outage, if any.
    pub report: Option<OutageReport>,
    /// Where state changes are posted.
    pub webhook: Option<String>,
    /// The webhook's new signing secret, on the page right after it was
    /// made (shown once).
    pub webhook_secret: Option<String>,
    /// The latest webhook notifications, newest first.
    pub webhook_log: Vec<WebhookEntry>,
    /// Users told of starts and ends.
    pub notices: super::NoticesView,
    /// The domain's users must log in with a second factor.
    pub users_second_factor: bool,
}

/// One webhook notification and how its delivery went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEntry {
    pub id: i64,
    pub event: String,
    /// "pending", "delivered" or "failed".
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
}

/// Deliveries to the primary not yet done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldView {
    pub waiting: i64,
    /// … of which kept during an outage.
    pub via_continuity: i64,
    /// Arrival of the oldest (Unix ms).
    pub oldest: Option<i64>,
}

/// The reconciliation report of one outage: per user, the mail held, how
/// much reached the primary since, what still waits, and what they sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutageReport {
    /// Unix ms.
    pub start: i64,
    /// None while the outage or its delivery backlog lasts.
    pub end: Option<i64>,
    pub lines: Vec<ReportLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLine {
    pub address: String,
    pub held: i64,
    pub delivered: i64,
    pub pending: i64,
    pub failed: i64,
    pub sent: i64,
}

/// A covered user's emergency password status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyUser {
    pub id: i64,
    pub address: String,
    pub display_name: String,
    /// "local" or "ldap".
    pub source: String,
    /// "set", "invited" or "none".
    pub status: String,
}

/// The domain's primary server and how it is watched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryView {
    pub host: String,
    pub port: u16,
    pub tls: String,
    pub interval_s: i64,
    pub timeout_s: i64,
    pub fail_after: u32,
    pub recover_after: u32,
    pub probe_rcpt: String,
}

/// One change of the continuity state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: i64,
    pub from: String,
    pub to: String,
    /// As stored: [`Reason`]'s text.
    pub reason: String,
}

/// Live Tracking filters, as they appear in the URL (all text: the server
/// validates them and says which one is wrong).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackingQuery {
    /// YYYY-MM-DD, from the start of that day (UTC).
    pub since: String,
    /// YYYY-MM-DD, to the end of that day (UTC).
    pub until: String,
    /// "", "in" or "out".
    pub direction: String,
    pub sender: String,
    pub recipient: String,
    pub subject: String,
    /// "", "queued", "delivered", "delayed", "bounced", "expired", "rejected".
    pub status: String,
    /// "", "yes" or "no".
    pub via: String,
    /// A domain name, or "" for all the viewer's domains.
    pub domain: String,
    /// "" (newest first) or "oldest".
    pub order: String,
    /// Where the page starts (from the previous page's `next`).
    pub after: String,
}

/// A page of Live Tracking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingPage {
    pub rows: Vec<TrackingLine>,
    /// The `after` of the next page, if there is one.
    pub next: Option<String>,
    /// The domains the viewer may filter on.
    pub domains: Vec<String>,
}

/// One delivery (or refused transaction) in Live Tracking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingLine {
    pub id: i64,
    pub refused: bool,
    pub message: Option<i64>,
    /// Unix ms.
    pub at: i64,
    pub inbound: bool,
    pub mail_from: String,
    pub rcpt: String,
    pub subject: String,
    /// queued, delivering, delivered, delayed, bounced, expired, rejected.
    pub status: String,
    pub via_continuity: bool,
    pub attempts: i64,
    pub last_reply: String,
    pub client_ip: String,
}

/// A message's whole story: how it arrived, each recipient's delivery,
/// every event in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageTrack {
    pub id: i64,
    pub subject: String,
    pub from: String,
    pub mail_from: String,
    pub received_at: i64,
    pub client_ip: String,
    pub helo: String,
    pub tls: bool,
    pub size: i64,
    /// The body is still in the archive (download, redelivery).
    pub archived: bool,
    pub deliveries: Vec<TrackingLine>,
    pub events: Vec<TrackEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackEvent {
    pub at: i64,
    /// received, queued, attempt, delivered, delayed, bounced, expired,
    /// requeued, dsn, held, released.
    pub kind: String,
    /// The recipient it concerns, if one.
    pub rcpt: String,
    /// The remote reply, the reason, who asked: human-readable.
    pub detail: String,
}

/// A domain's directory sync: settings and the last run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryView {
    pub domain: String,
    pub configured: bool,
    pub url: String,
    pub starttls: bool,
    /// An operator allowed plain ldap:// without StartTLS.
    pub allow_plaintext: bool,
    pub ca_file: String,
    pub bind_dn: String,
    pub bind_password_file: String,
    pub base_dn: String,
    pub user_filter: String,
    pub group_dn: String,
    /// "openldap" or "ad".
    pub flavor: String,
    /// The attributes read for users' mobile and backup address.
    pub mobile_attr: String,
    pub alt_email_attr: String,
    pub interval_min: i64,
    pub max_disable_pct: u32,
    pub last_at: Option<i64>,
    pub last_ok: bool,
    /// The last run's result as recorded (English, technical when it failed).
    pub last_result: String,
    /// Users the last successful run read (runs recorded before this was
    /// kept have none).
    pub last_seen: Option<u64>,
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub disabled: Vec<String>,
    pub enabled: Vec<String>,
    pub warnings: Vec<String>,
}

/// A domain's outbound mail through Continuity: its DKIM keys and how its
/// own server may relay through the submission listener.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundView {
    pub domain: String,
    /// Newest first.
    pub keys: Vec<DkimKeyView>,
    /// Networks the domain's server may relay from (CIDR).
    pub networks: Vec<String>,
    /// Relay credentials are set (only a hash is kept).
    pub has_secret: bool,
    /// The credentials just made, shown once to the administrator who made
    /// them (never stored in clear, gone on the next page).
    pub new_secret: Option<String>,
    /// How mail leaves: "smarthost host:port" or empty for direct to MX.
    pub route: String,
    /// The submission listener's addresses ("" when it is off).
    pub submission: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimKeyView {
    pub selector: String,
    /// "rsa-sha256" or "ed25519-sha256".
    pub algorithm: String,
    pub active: bool,
    pub created_at: i64,
    /// `selector._domainkey.domain`
    pub record_name: String,
    /// The TXT value to publish (`v=DKIM1; k=…; p=…`).
    pub record_value: String,
    /// The zone-file line, cut into 255-byte strings.
    pub zone_line: String,
}
