//! `[imap]`: IMAP access to the continuity mailbox (RFC 3501), for users'
//! desktop and phone mail apps. Off unless given an address. It uses the
//! `[smtp]` certificate.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::{addr_list, invalid, parse_duration, ConfigError, OneOrMany};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImap {
    /// Addresses with STARTTLS (port 143 style), one or a list.
    pub listen: Option<OneOrMany>,
    /// Addresses with TLS from the first byte (port 993 style).
    pub tls_listen: Option<OneOrMany>,
    /// Allow LOGIN / AUTHENTICATE before TLS. Only for tests on loopback:
    /// otherwise LOGINDISABLED is announced until STARTTLS.
    pub allow_plaintext_auth: Option<bool>,
    /// Most simultaneous IMAP connections (all users).
    pub max_connections: Option<usize>,
    /// Most simultaneous IMAP connections from one client address (an
    /// IPv6 /64).
    pub max_connections_per_ip: Option<usize>,
    /// Most simultaneous sessions of one user.
    pub max_sessions_per_user: Option<usize>,
    /// Time allowed from connecting to logging in (the whole time, not
    /// between commands), e.g. "1m".
    pub login_timeout: Option<String>,
    /// Time allowed between commands once logged in, and in IDLE
    /// (RFC 3501 §5.4: at least 30 minutes), e.g. "30m".
    pub idle_timeout: Option<String>,
    /// Largest literal (APPEND) accepted, e.g. "50MiB".
    pub max_literal_size: Option<String>,
    /// Most a user may append to their mailbox over IMAP (what the archive
    /// holds of it), e.g. "1GiB"; beyond, APPEND answers NO [OVERQUOTA].
    pub append_quota: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ImapConfig {
    pub listen: Vec<SocketAddr>,
    pub tls_listen: Vec<SocketAddr>,
    pub allow_plaintext_auth: bool,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub max_sessions_per_user: usize,
    pub login_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_literal_size: usize,
    pub append_quota: usize,
}

impl ImapConfig {
    pub fn enabled(&self) -> bool {
        !self.listen.is_empty() || !self.tls_listen.is_empty()
    }
}

impl RawImap {
    pub fn validate(self) -> Result<ImapConfig, ConfigError> {
        let idle_timeout = parse_duration(
            "imap.idle_timeout",
            self.idle_timeout.as_deref().unwrap_or("30m"),
        )?;
        if idle_timeout < Duration::from_secs(60) {
            return Err(invalid("imap.idle_timeout", "must be at least 1m"));
        }
        let max_literal_size = super::parse_size(
            "imap.max_literal_size",
            self.max_literal_size.as_deref().unwrap_or("50MiB"),
        )?;
        if max_literal_size < 1024 || max_literal_size > (u32::MAX as usize) / 2 {
            return Err(invalid(
                "imap.max_literal_size",
                "must be between 1KiB and 2GiB",
            ));
        }
        Ok(ImapConfig {
            listen: addr_list("imap.listen", self.listen)?,
            tls_listen: addr_list("imap.tls_listen", self.tls_listen)?,
            allow_plaintext_auth: self.allow_plaintext_auth.unwrap_or(false),
            max_connections: self.max_connections.unwrap_or(500).max(1),
            max_connections_per_ip: self.max_connections_per_ip.unwrap_or(20).max(1),
            max_sessions_per_user: self.max_sessions_per_user.unwrap_or(10).max(1),
            login_timeout: parse_duration(
                "imap.login_timeout",
                self.login_timeout.as_deref().unwrap_or("1m"),
            )?,
            idle_timeout,
            max_literal_size,
            append_quota: super::parse_size(
                "imap.append_quota",
                self.append_quota.as_deref().unwrap_or("1GiB"),
            )?,
        })
    }
}
