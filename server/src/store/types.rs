//! Ids and the rows the store takes and gives.

use crate::config::TlsMode;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A stored message (one accepted transaction).
    MessageId
);
id_type!(
    /// One recipient of one message.
    DeliveryId
);
id_type!(
    /// A protected domain.
    DomainId
);
id_type!(
    /// A user of a protected domain.
    UserId
);

/// Where a stored message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Smtp,
    Dsn,
    Demo,
    /// Written and sent in the webmail.
    Webmail,
    /// Sent through the submission listener (a user's mail app, or a
    /// domain's own server relaying).
    Submission,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Smtp => "smtp",
            Origin::Dsn => "dsn",
            Origin::Demo => "demo",
            Origin::Webmail => "webmail",
            Origin::Submission => "submission",
        }
    }
}

/// The parsed summary kept beside the raw bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub from: String,
    pub to: String,
    /// The Cc header ("Name <address>, …").
    pub cc: String,
    pub subject: String,
    /// The Date: header, Unix seconds.
    pub date: Option<i64>,
    pub message_id: Option<String>,
    pub attachments: u32,
    /// Plain text of the body (and attachment names), capped, for search.
    pub text: String,
}

impl Summary {
    /// The From header's address, lower case ("Name <a@b>" → "a@b").
    pub fn from_address(&self) -> String {
        self.from
            .rsplit_once('<')
            .map(|(_, a)| a.trim_end_matches('>').to_string())
            .unwrap_or_else(|| self.from.clone())
            .to_ascii_lowercase()
    }
}

/// A recipient accepted for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecipient {
    pub rcpt: String,
    /// `None`: not in a protected domain (system mail routed outbound).
    pub domain: Option<DomainId>,
    pub user: Option<UserId>,
}

/// A message to store, with everything the tracking needs.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub origin: Origin,
    /// Envelope sender; empty for the null sender `<>`.
    pub mail_from: String,
    pub client_ip: Option<String>,
    pub helo: Option<String>,
    pub tls: bool,
    pub raw: Vec<u8>,
    pub summary: Summary,
    pub recipients: Vec<NewRecipient>,
    /// For a DSN: the message it reports on (tracked on both).
    pub in_reply_to: Option<MessageId>,
    /// The protected domain whose DKIM key signs the message each time it
    /// is delivered (mail its users or its own server send through us).
    pub sign_as: Option<DomainId>,
}

/// A refused step of an SMTP session, for Email Live Tracking.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub client_ip: String,
    pub helo: Option<String>,
    pub mail_from: Option<String>,
    pub rcpt: Option<String>,
    pub reply: String,
}

/// A delivery claimed by the queue, with what is needed to attempt it.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The node that holds the claim.
    pub node: String,
    pub delivery: DeliveryId,
    pub message: MessageId,
    pub rcpt: String,
    pub domain: Option<DomainId>,
    pub mail_from: String,
    pub received_at: i64,
    /// Attempts made before this one.
    pub attempts: i64,
    pub client_ip: Option<String>,
    pub helo: Option<String>,
    pub tls: bool,
    /// Sign with this domain's active DKIM key when delivering.
    pub sign_as: Option<DomainId>,
}

/// The result of one delivery attempt.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The remote server accepted the message.
    Delivered { reply: String, remote: String },
    /// Temporary failure: try again at `next_attempt_at`.
    Deferred {
        reply: String,
        remote: String,
        next_attempt_at: i64,
    },
    /// Permanent failure; `dsn` (if any) is stored in the same transaction.
    Bounced {
        reply: String,
        remote: String,
        dsn: Option<NewMessage>,
    },
    /// Retried for too long; `dsn` as for `Bounced`.
    Expired {
        reply: String,
        dsn: Option<NewMessage>,
    },
}

/// A protected domain and its primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: DomainId,
    pub name: String,
    pub primary_host: String,
    pub primary_port: u16,
    pub primary_tls: TlsMode,
    pub verify_recipients: bool,
    pub continuity_enabled: bool,
}

/// A user of a protected domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub domain: DomainId,
    pub address: String,
    pub display_name: String,
    pub source: String,
    pub disabled: bool,
    pub aliases: Vec<String>,
}
