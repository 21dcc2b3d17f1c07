//! `[outbound]`: how mail for domains we do not protect leaves — through a
//! smarthost (optionally with AUTH), or straight to each domain's MX.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{invalid, parse_addr, parse_host_port, ConfigError, OneOrMany, TlsMode};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutbound {
    /// "host:port" of a smarthost for mail to domains we do not protect
    /// (mail written in the webmail, DSNs to remote senders). Without one,
    /// such mail goes straight to each domain's MX (see `direct`).
    pub smarthost: Option<String>,
    /// TLS mode towards the smarthost: none, opportunistic, required, implicit.
    pub smarthost_tls: Option<String>,
    /// User name for SMTP AUTH at the smarthost (PLAIN or LOGIN). Needs
    /// `smarthost_tls` "required" or "implicit": a password never crosses the
    /// network in clear text.
    pub smarthost_user: Option<String>,
    /// File holding the smarthost's password (read at start; first line).
    pub smarthost_password_file: Option<PathBuf>,
    /// PEM file of the CA that signed the smarthost's certificate, when it is
    /// not one the public roots know (a private CA).
    pub smarthost_ca: Option<PathBuf>,
    /// Without a smarthost, deliver straight to each recipient domain's MX
    /// (MX, then its A/AAAA when it has none; RFC 5321 §5.1). `false`: such
    /// mail waits (Delayed) until a smarthost is configured.
    pub direct: Option<bool>,
    /// TLS towards MX hosts: "opportunistic" (STARTTLS when offered, the
    /// certificate not checked: RFC 7435) or "required" (STARTTLS with a
    /// verified certificate, else the attempt fails and is retried).
    pub direct_tls: Option<String>,
    /// The port MX hosts are reached on. 25 is the Internet's; change it only
    /// to test against servers on loopback.
    pub mx_port: Option<u16>,
    /// DNS servers for MX lookups ("ip:port", one or a list). Default: the
    /// system's (/etc/resolv.conf).
    pub nameservers: Option<OneOrMany>,
}

/// The validated `[outbound]` section.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    pub smarthost: Option<(String, u16)>,
    pub smarthost_tls: TlsMode,
    pub smarthost_auth: Option<SmarthostAuth>,
    pub smarthost_ca: Option<PathBuf>,
    pub direct: bool,
    pub direct_tls: TlsMode,
    pub mx_port: u16,
    /// Empty: the system's resolvers.
    pub nameservers: Vec<SocketAddr>,
}

/// Who we are at the smarthost (the password is read from its file at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmarthostAuth {
    pub user: String,
    pub password_file: PathBuf,
}

impl RawOutbound {
    pub fn validate(self) -> Result<OutboundConfig, ConfigError> {
        let smarthost = self
            .smarthost
            .as_deref()
            .map(|s| parse_host_port("outbound.smarthost", s))
            .transpose()?;
        let smarthost_tls: TlsMode = self
            .smarthost_tls
            .as_deref()
            .unwrap_or("required")
            .parse()
            .map_err(|e| invalid("outbound.smarthost_tls", e))?;
        let smarthost_auth = match (self.smarthost_user, self.smarthost_password_file) {
            (None, None) => None,
            (Some(user), Some(password_file)) => {
                if user.is_empty() || user.chars().any(|c| c.is_control()) {
                    return Err(invalid("outbound.smarthost_user", "must be a plain name"));
                }
                if !matches!(smarthost_tls, TlsMode::Required | TlsMode::Implicit) {
                    return Err(invalid(
                        "outbound.smarthost_tls",
                        "must be \"required\" or \"implicit\" with smarthost_user: \
                         the password would otherwise travel in clear text",
                    ));
                }
                Some(SmarthostAuth {
                    user,
                    password_file,
                })
            }
            _ => {
                return Err(invalid(
                    "outbound.smarthost_user",
                    "smarthost_user and smarthost_password_file must be given together",
                ))
            }
        };
        if smarthost_auth.is_some() && smarthost.is_none() {
            return Err(invalid(
                "outbound.smarthost_user",
                "is set but outbound.smarthost is not",
            ));
        }
        let direct_tls: TlsMode = self
            .direct_tls
            .as_deref()
            .unwrap_or("opportunistic")
            .parse()
            .map_err(|e| invalid("outbound.direct_tls", e))?;
        if !matches!(direct_tls, TlsMode::Opportunistic | TlsMode::Required) {
            return Err(invalid(
                "outbound.direct_tls",
                "must be \"opportunistic\" or \"required\" (MX hosts speak STARTTLS on port 25)",
            ));
        }
        let mx_port = self.mx_port.unwrap_or(25);
        if mx_port == 0 {
            return Err(invalid("outbound.mx_port", "must be a port number"));
        }
        let nameservers = self
            .nameservers
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
            .iter()
            .map(|a| parse_addr("outbound.nameservers", a))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OutboundConfig {
            smarthost,
            smarthost_tls,
            smarthost_auth,
            smarthost_ca: self.smarthost_ca,
            direct: self.direct.unwrap_or(true),
            direct_tls,
            mx_port,
            nameservers,
        })
    }
}
