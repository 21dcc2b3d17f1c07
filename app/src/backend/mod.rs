//! The backend port: what the UI needs from the server, as data types shared
//! by both builds and (server build only) the trait the server implements.
//!
//! Server functions reach the implementation with
//! `use_context::<SharedBackend>()`; the server provides it to every request.

use serde::{Deserialize, Serialize};

mod admin;
mod codes;
mod notify;
mod security;
pub use admin::*;
pub use codes::{Reason, Refusal};
pub use notify::*;
pub use security::*;

/// Deliveries of one route counted by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounts {
    pub queued: i64,
    pub delayed: i64,
    pub delivering: i64,
    pub delivered: i64,
    pub bounced: i64,
    pub expired: i64,
}

/// A protected domain, its primary and its queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainOverview {
    pub name: String,
    /// "host:port (tls mode)"
    pub primary: String,
    pub users: i64,
    pub queue: QueueCounts,
}

/// The status page's data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub hostname: String,
    pub messages: i64,
    pub domains: Vec<DomainOverview>,
    /// Mail to domains we do not protect (bounces to remote senders).
    pub outbound: QueueCounts,
}

/// Why a password was refused (shown translated next to the form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PasswordProblem {
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    /// zxcvbn score below 3.
    TooGuessable,
    ContainsAddress,
    Mismatch,
    WrongCurrent,
}

impl PasswordProblem {
    /// A short code for the URL of a form shown again after a refusal.
    pub fn code(&self) -> &'static str {
        match self {
            PasswordProblem::TooShort { .. } => "short",
            PasswordProblem::TooLong { .. } => "long",
            PasswordProblem::TooGuessable => "guessable",
            PasswordProblem::ContainsAddress => "address",
            PasswordProblem::Mismatch => "mismatch",
            PasswordProblem::WrongCurrent => "current",
        }
    }
    pub fn from_code(code: &str) -> Option<PasswordProblem> {
        Some(match code {
            "short" => PasswordProblem::TooShort { min: 12 },
            "long" => PasswordProblem::TooLong { max: 256 },
            "guessable" => PasswordProblem::TooGuessable,
            "address" => PasswordProblem::ContainsAddress,
            "mismatch" => PasswordProblem::Mismatch,
            "current" => PasswordProblem::WrongCurrent,
            _ => return None,
        })
    }
}

/// Why a set-password link cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkProblem {
    /// Not a link we issued (or altered).
    Invalid,
    Expired,
    /// Already used, or replaced by a newer link.
    Used,
}

/// The logged-in user, as every page sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub address: String,
    pub display_name: String,
    pub domain: String,
    /// "local" or "ldap" (LDAP-synced users log in with their emergency password).
    pub source: String,
    /// Token every state-changing form carries.
    pub csrf: String,
    /// Continuity is active for the user's domain (outage or drill).
    pub continuity_active: bool,
    /// "normal", "outage", "recovering" or "drill".
    pub domain_state: String,
    pub counts: FolderCounts,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderCounts {
    pub inbox: i64,
    pub inbox_unseen: i64,
    pub sent: i64,
    pub trash: i64,
    pub drafts: i64,
    /// The user's own folders, by name (made here or in a mail app).
    pub folders: Vec<FolderInfo>,
}

/// What a folder of the user's is for (RFC 6154), when mail apps use it
/// (their Drafts folder is not among the user's folders in the webmail:
/// its messages are the Drafts page's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FolderUse {
    Junk,
    Archive,
}

/// One of the user's own folders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderInfo {
    pub id: i64,
    /// The whole path, levels split by `/`.
    pub name: String,
    pub special: Option<FolderUse>,
    pub total: i64,
    pub unseen: i64,
}

impl FolderInfo {
    /// Its last level (what the folder list shows, indented by depth).
    pub fn leaf(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }
    /// How many levels down it is (0 at the top).
    pub fn depth(&self) -> usize {
        self.name.matches('/').count()
    }
    /// Its page.
    pub fn href(&self) -> String {
        format!("/mail/folder/{}", self.id)
    }
}

/// One line of a mailbox list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailSummary {
    pub id: i64,
    pub from: String,
    pub to: String,
    pub subject: String,
    /// Unix ms.
    pub received_at: i64,
    pub size: i64,
    pub attachments: i64,
    pub seen: bool,
    pub during_outage: bool,
}

/// One of the user's drafts, in the Drafts list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftSummary {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub preview: String,
    pub updated_at: i64,
    pub files: i64,
}

/// A page of a folder or of search results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailPage {
    pub items: Vec<MailSummary>,
    /// Cursor of the next (older) page, if there is one.
    pub next: Option<String>,
}

/// A search form's fields, as they travel in the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchParams {
    pub q: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    /// YYYY-MM-DD (inclusive), or empty.
    pub since: String,
    /// YYYY-MM-DD (inclusive), or empty.
    pub until: String,
    pub attachment: bool,
    /// "", "inbox" or "sent".
    pub folder: String,
}

impl SearchParams {
    pub fn is_empty(&self) -> bool {
        self.q.trim().is_empty()
            && self.from.trim().is_empty()
            && self.to.trim().is_empty()
            && self.subject.trim().is_empty()
            && self.since.trim().is_empty()
            && self.until.trim().is_empty()
            && !self.attachment
    }
}

/// An attachment of a message being read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentInfo {
    /// Position among the message's parts (what the download URL names).
    pub part: u32,
    pub name: String,
    pub content_type: String,
    pub size: i64,
}

/// A message being read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailView {
    pub id: i64,
    /// "inbox", "sent" or "trash".
    pub folder: String,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub reply_to: String,
    pub subject: String,
    /// The Date header (Unix ms), if any.
    pub date: Option<i64>,
    pub received_at: i64,
    pub during_outage: bool,
    pub seen: bool,
    /// The plain-text body (converted from HTML when there is no text part).
    pub text: String,
    /// There is an HTML body (shown in a sandboxed frame).
    pub has_html: bool,
    /// Remote images / styles held back until the user allows them.
    pub remote_blocked: usize,
    pub attachments: Vec<AttachmentInfo>,
    pub size: i64,
}

/// The compose form: a new message, a reply, a reply to all, a forward or
/// a draft.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComposeView {
    /// The user's address and aliases (the only possible senders).
    pub from_options: Vec<String>,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
    /// The mailbox entry replied to or forwarded.
    pub reference: Option<i64>,
    /// "new", "reply", "replyall" or "forward".
    pub mode: String,
    /// The draft being edited (0: none yet).
    pub draft: i64,
    /// A forward's original attachments, kept unless unticked (`id`: their
    /// position in the original). Empty once the draft holds them.
    pub forwarded: Vec<ComposeFile>,
    /// Files attached to the draft (uploaded, or kept from a forward).
    pub files: Vec<ComposeFile>,
    /// Most bytes all attached files may take.
    pub files_budget: i64,
    /// Suggested recipients (correspondents, colleagues).
    pub contacts: Vec<String>,
}

/// A file of a message being written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComposeFile {
    pub id: i64,
    pub name: String,
    pub size: i64,
}

/// An address suggested while typing (user or alias).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub address: String,
    pub display_name: String,
}

/// An error the UI may show: its text is meant for people, never internals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum BackendError {
    #[error("the service is temporarily unavailable; try again in a moment")]
    Unavailable,
    #[error("{0}")]
    Invalid(String),
    #[error("not found")]
    NotFound,
    #[error("your session has ended; log in again")]
    Unauthorized,
}

impl leptos::server_fn::error::FromServerFnError for BackendError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;
    fn from_server_fn_error(e: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        // Transport and decoding failures: nothing the user can act on but retry.
        let _ = e;
        BackendError::Unavailable
    }
}

impl BackendError {
    /// The text shown to people, in their language.
    pub fn message(&self, t: &crate::i18n::Strings) -> String {
        match self {
            BackendError::Unavailable => t.unavailable.to_string(),
            BackendError::Invalid(m) => m.clone(),
            BackendError::NotFound => t.not_found_text.to_string(),
            BackendError::Unauthorized => t.session_expired.to_string(),
        }
    }
}

/// The session of a request, resolved by the server before any page or
/// server function runs (absent: nobody is logged in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub user: i64,
    pub csrf: String,
}

/// The administrator session of a request (the Control Panel), resolved by
/// the server like [`SessionUser`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub admin: i64,
    pub csrf: String,
}

#[cfg(feature = "ssr")]
mod port {
    use super::*;
    use std::sync::Arc;

    /// What the server implements for the UI.
    #[async_trait::async_trait]
    pub trait Backend: Send + Sync + 'static {
        async fn overview(&self) -> Result<Overview, BackendError>;
        /// The logged-in user's identity, banner state and counts.
        async fn viewer(&self, session: &SessionUser) -> Result<Viewer, BackendError>;
        /// The user's drafts, the last changed first.
        async fn draft_list(
            &self,
            session: &SessionUser,
        ) -> Result<Vec<DraftSummary>, BackendError>;
        /// A page of a folder ("inbox", "sent", "trash" or "f" and the id
        /// of one of the user's folders), newest first.
        async fn mail_list(
            &self,
            session: &SessionUser,
            folder: &str,
            cursor: Option<String>,
        ) -> Result<MailPage, BackendError>;
        /// Search the user's mail.
        async fn mail_search(
            &self,
            session: &SessionUser,
            params: &SearchParams,
            cursor: Option<String>,
        ) -> Result<MailPage, BackendError>;
        /// Read one message (marks it read). `NotFound` if it is not the user's.
        async fn mail_view(&self, session: &SessionUser, id: i64)
            -> Result<MailView, BackendError>;
        /// The user's own line of the last outage's reconciliation report
        /// (None if their domain never had one).
        async fn my_report(
            &self,
            session: &SessionUser,
        ) -> Result<Option<OutageReport>, BackendError>;
        /// What the compose form starts from (a forward's header in the
        /// viewer's language).
        async fn compose_view(
            &self,
            session: &SessionUser,
            mode: &str,
            reference: Option<i64>,
            draft: Option<i64>,
            lang: crate::i18n::Lang,
        ) -> Result<ComposeView, BackendError>;
        /// The address a set-password link is for, or why it cannot be used.
        async fn password_link(
            &self,
            token: &str,
        ) -> Result<Result<String, LinkProblem>, BackendError>;
        /// The logged-in administrator and their domains.
        async fn admin_viewer(&self, session: &AdminSession) -> Result<AdminViewer, BackendError>;
        /// A domain's Continuity Service settings (`NotFound` if the
        /// administrator may not manage it).
        /// `reveal`: the id of a webhook secret just made, shown once.
        async fn continuity_view(
            &self,
            session: &AdminSession,
            domain: &str,
            reveal: &str,
        ) -> Result<ContinuityView, BackendError>;
        /// A domain's directory sync settings and last run.
        async fn directory_view(
            &self,
            session: &AdminSession,
            domain: &str,
        ) -> Result<DirectoryView, BackendError>;
        /// A domain's DKIM keys and relay settings; `reveal` names new
        /// relay credentials this session just made (shown once).
        async fn outbound_view(
            &self,
            session: &AdminSession,
            domain: &str,
            reveal: &str,
        ) -> Result<OutboundView, BackendError>;
        /// A page of Live Tracking within the administrator's domains.
        async fn admin_tracking(
            &self,
            session: &AdminSession,
            q: &TrackingQuery,
        ) -> Result<TrackingPage, BackendError>;
        /// One message's story (`NotFound` outside the administrator's domains).
        async fn admin_message_track(
            &self,
            session: &AdminSession,
            id: i64,
        ) -> Result<MessageTrack, BackendError>;
        /// A page of the user's own tracking.
        async fn my_tracking(
            &self,
            session: &SessionUser,
            q: &TrackingQuery,
        ) -> Result<TrackingPage, BackendError>;
        /// An account's second factor and app passwords; `reveal` names
        /// secrets this session just made (shown once).
        async fn security(
            &self,
            of: &SecurityOf,
            reveal: &str,
        ) -> Result<SecurityView, BackendError>;
        /// The set-up a login must do (a second factor is required), from
        /// its challenge cookie.
        async fn enrolment(&self, challenge: &str) -> Result<Option<TotpSetupView>, BackendError>;
        /// What the second step of the login of `challenge` may use.
        async fn second_step(&self, challenge: &str) -> Result<SecondStepView, BackendError>;
        /// Where the user is told when mail is down.
        async fn contacts(&self, session: &SessionUser) -> Result<ContactsView, BackendError>;
        /// Users and aliases of the domain containing `fragment` (3+ chars).
        async fn suggest_users(
            &self,
            session: &AdminSession,
            domain: &str,
            fragment: &str,
        ) -> Result<Vec<Suggestion>, BackendError>;
    }

    /// The form in which the server provides the backend as context.
    pub type SharedBackend = Arc<dyn Backend>;
}

#[cfg(feature = "ssr")]
pub use port::{Backend, SharedBackend};

/// The administrator of this request, inside a server function (or
/// `Unauthorized`).
#[cfg(feature = "ssr")]
pub fn admin_session() -> Result<AdminSession, BackendError> {
    leptos::prelude::use_context::<Option<AdminSession>>()
        .flatten()
        .ok_or(BackendError::Unauthorized)
}

/// The logged-in user of this request, inside a server function (or
/// `Unauthorized`).
#[cfg(feature = "ssr")]
pub fn session_user() -> Result<SessionUser, BackendError> {
    leptos::prelude::use_context::<Option<SessionUser>>()
        .flatten()
        .ok_or(BackendError::Unauthorized)
}

/// The backend from context, inside a server function.
#[cfg(feature = "ssr")]
pub fn backend() -> Result<SharedBackend, leptos::prelude::ServerFnError> {
    leptos::prelude::use_context::<SharedBackend>()
        .ok_or_else(|| leptos::prelude::ServerFnError::new(BackendError::Unavailable.to_string()))
}

/// The backend and the logged-in user, inside a server function.
#[cfg(feature = "ssr")]
pub fn backend_for_user() -> Result<(SharedBackend, SessionUser), BackendError> {
    let backend =
        leptos::prelude::use_context::<SharedBackend>().ok_or(BackendError::Unavailable)?;
    Ok((backend, session_user()?))
}
