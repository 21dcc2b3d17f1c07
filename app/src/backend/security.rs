//! An account's security section: its second factor, recovery codes and
//! (a webmail user's) app passwords. Shared by the webmail's Settings and
//! the Control Panel's home page.

use serde::{Deserialize, Serialize};

use super::{AdminSession, SessionUser};

/// Whose section: the request's webmail user or administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOf {
    User(SessionUser),
    Admin(AdminSession),
}

/// What the section shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityView {
    /// The session's CSRF token (masked), for the section's forms.
    pub csrf: String,
    /// Logins ask for a second step after the password (a code or a
    /// passkey).
    pub on: bool,
    /// An authenticator app (TOTP) is one of the factors.
    pub totp_on: bool,
    /// An enrolment under way: the key to type into an app (its QR code
    /// is served apart, as an image).
    pub setup: Option<TotpSetupView>,
    /// Recovery codes not used yet.
    pub codes_left: i64,
    /// Recovery codes just made, shown this once.
    pub new_codes: Vec<String>,
    /// A webmail user's app passwords, newest first (`None` for an
    /// administrator: the Control Panel has no mail apps).
    pub app_passwords: Option<Vec<AppPasswordView>>,
    /// An app password just made, shown this once.
    pub new_app_password: Option<NewAppPassword>,
    /// The account's passkeys and security keys, oldest first.
    pub passkeys: Vec<PasskeyView>,
    /// Passkeys can be used at this service's address (it is a name, not
    /// an IP address).
    pub passkeys_here: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyView {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What a login's second step may use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondStepView {
    /// The account has a passkey, usable here.
    pub passkey: bool,
    /// Passkeys can be used at this service's address (a set-up may make
    /// one).
    pub passkeys_here: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSetupView {
    /// Base32, in groups of four.
    pub secret: String,
    /// The `otpauth://` URI the QR code holds.
    pub uri: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPasswordView {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    /// "imap" or "submission".
    pub last_used_with: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAppPassword {
    pub name: String,
    pub secret: String,
}
