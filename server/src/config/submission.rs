//! `[submission]`: the authenticated SMTP submission listener (RFC 6409) —
//! users' mail apps send through it during an outage, and a domain's own
//! server may relay its outbound mail through it. Off unless given an
//! address. It uses the `[smtp]` certificate and limits.

use std::net::SocketAddr;

use serde::Deserialize;

use super::{addr_list, ConfigError, OneOrMany};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubmission {
    /// Addresses with STARTTLS (port 587 style), one or a list.
    pub listen: Option<OneOrMany>,
    /// Addresses with TLS from the first byte (port 465 style, RFC 8314).
    pub tls_listen: Option<OneOrMany>,
    /// Allow AUTH before TLS. Only for tests on loopback: a password would
    /// otherwise cross the network in clear text.
    pub allow_plaintext_auth: Option<bool>,
    /// Messages a domain's own server may relay through us in an hour
    /// (450 4.7.1 beyond: its queue retries). Users have their own limit.
    pub relay_max_per_hour: Option<u32>,
    /// Time a client has to authenticate from connecting, e.g. "1m".
    pub login_timeout: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SubmissionConfig {
    pub listen: Vec<SocketAddr>,
    pub tls_listen: Vec<SocketAddr>,
    pub allow_plaintext_auth: bool,
    pub relay_max_per_hour: u32,
    pub login_timeout: std::time::Duration,
}

impl SubmissionConfig {
    pub fn enabled(&self) -> bool {
        !self.listen.is_empty() || !self.tls_listen.is_empty()
    }
}

impl RawSubmission {
    pub fn validate(self) -> Result<SubmissionConfig, ConfigError> {
        Ok(SubmissionConfig {
            listen: addr_list("submission.listen", self.listen)?,
            tls_listen: addr_list("submission.tls_listen", self.tls_listen)?,
            allow_plaintext_auth: self.allow_plaintext_auth.unwrap_or(false),
            relay_max_per_hour: self.relay_max_per_hour.unwrap_or(20_000),
            login_timeout: super::parse_duration(
                "submission.login_timeout",
                self.login_timeout.as_deref().unwrap_or("1m"),
            )?,
        })
    }
}
