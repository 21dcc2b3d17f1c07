//! Configuration: one TOML file plus `CONTINUITY_<SECTION>_<KEY>` environment
//! overrides, parsed into [`RawConfig`] (strings as written) and then validated
//! into the typed [`Config`] the rest of the server uses.
//!
//! Every field is documented where it is declared; [`EXAMPLE`]
//! (`example.toml` beside this file) is the documented file
//! `continuity config --example` prints, and a test checks that it parses to
//! exactly the defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod imap;
mod log;
mod metrics;
mod notify;
mod outbound;
mod queue;
mod shared;
mod store;
mod submission;
mod values;
mod web;
pub use imap::{ImapConfig, RawImap};
pub use log::{LogConfig, LogFormat, RawLog};
pub use metrics::{MetricsConfig, RawMetrics};
pub use notify::{NotifyConfig, RawNotify, SmsBody, SmsGateway};
pub use outbound::{OutboundConfig, RawOutbound, SmarthostAuth};
pub use queue::{QueueConfig, RawQueue};
pub use store::{RawStore, StoreConfig, StoreUrl};
pub use submission::{RawSubmission, SubmissionConfig};
use values::{addr_list, parse_addr, positive};
pub use values::{parse_duration, parse_host_port, parse_size};
pub use web::{RawWeb, WebConfig};

/// Errors found while reading or validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid TOML in {origin}: {message}")]
    Toml { origin: String, message: String },
    #[error("invalid value for {key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

/// A value that may be written as one string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The file as written: every field optional, strings not yet interpreted.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub web: RawWeb,
    #[serde(default)]
    pub smtp: RawSmtp,
    #[serde(default)]
    pub queue: RawQueue,
    #[serde(default)]
    pub outbound: RawOutbound,
    #[serde(default)]
    pub submission: RawSubmission,
    #[serde(default)]
    pub imap: RawImap,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub notify: RawNotify,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Name used in the SMTP banner, EHLO, Received headers and DSNs.
    pub hostname: Option<String>,
    /// Directory for the SQLite database, generated certificates, etc.
    pub data_dir: Option<PathBuf>,
    /// This node's name among the nodes sharing one database (default:
    /// the machine's host name).
    pub node_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    /// Inbound SMTP listen addresses (one or a list).
    pub listen: Option<OneOrMany>,
    /// PEM certificate chain and key for STARTTLS. Without them STARTTLS is
    /// not offered (unless `self_signed = true`).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Generate (once) and use a self-signed certificate under data_dir.
    pub self_signed: Option<bool>,
    /// Largest message accepted, e.g. "50MiB" (advertised with SIZE).
    pub max_message_size: Option<String>,
    /// Most recipients in one transaction (452 4.5.3 beyond).
    pub max_recipients: Option<usize>,
    /// Longest command line, in bytes (500 5.5.2 beyond).
    pub max_line_length: Option<usize>,
    /// Most simultaneous connections (421 4.7.0 beyond).
    pub max_connections: Option<usize>,
    /// Most simultaneous connections from one client address (an IPv6 /64).
    pub max_connections_per_ip: Option<usize>,
    /// Commands that move no mail (NOOP, RSET, VRFY, HELP, EHLO…) allowed
    /// since the session's last accepted message (421 beyond): an idle
    /// session cannot keep itself open forever.
    pub max_junk_commands: Option<u32>,
    /// Message data all sessions together may hold in memory, e.g. "1GiB".
    /// A message that would exceed it is refused with 452 4.3.1 (the client
    /// retries later): no exhaustion, no deadlock between sessions.
    pub max_inflight_data: Option<String>,
    /// Time allowed between two commands, e.g. "5m" (RFC 5321 §4.5.3.2.7).
    pub idle_timeout: Option<String>,
    /// Time allowed for a whole DATA phase, e.g. "10m".
    pub data_timeout: Option<String>,
    /// Errors tolerated in one session before it is closed (421).
    pub max_errors: Option<u32>,
    /// "reject" (default) or "normalize" messages with a bare LF or lone CR.
    pub bare_newlines: Option<String>,
}

/// TLS mode towards a remote server (a primary or a smarthost).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain SMTP.
    None,
    /// STARTTLS when offered, certificate not verified (RFC 7435).
    Opportunistic,
    /// STARTTLS required and the certificate verified.
    Required,
    /// TLS from the first byte (port 465 style), certificate verified.
    Implicit,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::Opportunistic => "opportunistic",
            TlsMode::Required => "required",
            TlsMode::Implicit => "implicit",
        }
    }
}

impl std::str::FromStr for TlsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(TlsMode::None),
            "opportunistic" | "starttls" => Ok(TlsMode::Opportunistic),
            "required" => Ok(TlsMode::Required),
            "implicit" | "tls" => Ok(TlsMode::Implicit),
            other => Err(format!(
                "unknown TLS mode {other:?} (none, opportunistic, required, implicit)"
            )),
        }
    }
}

/// What to do with a message containing a bare LF or a lone CR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BareNewlines {
    /// Refuse it (550 5.6.0): nothing ambiguous is ever stored or relayed.
    Reject,
    /// Turn every bare LF and lone CR into CRLF, then accept.
    Normalize,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub hostname: String,
    pub node_id: String,
    pub data_dir: PathBuf,
    pub web: WebConfig,
    pub smtp: SmtpConfig,
    pub queue: QueueConfig,
    pub outbound: OutboundConfig,
    pub submission: SubmissionConfig,
    pub imap: ImapConfig,
    pub store: StoreConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub notify: NotifyConfig,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub listen: Vec<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub self_signed: bool,
    pub max_message_size: usize,
    pub max_recipients: usize,
    pub max_line_length: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub max_junk_commands: u32,
    pub max_inflight_data: usize,
    pub idle_timeout: Duration,
    pub data_timeout: Duration,
    pub max_errors: u32,
    pub bare_newlines: BareNewlines,
}

/// The documented configuration file, with every default spelled out.
pub const EXAMPLE: &str = include_str!("example.toml");

impl Config {
    /// Load `path` (if any), apply `CONTINUITY_*` overrides from `env`, validate.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (text, origin) = match path {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?,
                p.display().to_string(),
            ),
            None => (String::new(), "defaults".to_string()),
        };
        Config::parse(&text, &origin, env)
    }

    /// [`Config::load`] from the file's text (`origin` names it in errors).
    pub fn parse(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let origin = origin.to_string();
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Toml {
                    origin: origin.clone(),
                    message: e.to_string(),
                })?;
        apply_env(&mut table, env)?;
        let raw: RawConfig =
            RawConfig::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Toml {
                origin,
                message: e.to_string(),
            })?;
        raw.validate()
    }
}

const SECTIONS: [&str; 11] = [
    "server",
    "web",
    "smtp",
    "queue",
    "outbound",
    "submission",
    "imap",
    "store",
    "log",
    "metrics",
    "notify",
];

/// `CONTINUITY_SMTP_MAX_RECIPIENTS=50` sets `[smtp] max_recipients = 50`. The
/// value is read as TOML when it parses as such (numbers, booleans, lists),
/// else as a plain string.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("CONTINUITY_") else {
            continue;
        };
        let rest = rest.to_ascii_lowercase();
        let Some(section) = SECTIONS.iter().find(|s| rest.starts_with(&format!("{s}_"))) else {
            continue; // other CONTINUITY_* variables (e.g. CONTINUITY_CONFIG) are not keys
        };
        let key = &rest[section.len() + 1..];
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(value.clone()));
        let entry = table
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(t) => {
                t.insert(key.to_string(), parsed);
            }
            _ => return Err(invalid(section, "must be a table")),
        }
    }
    Ok(())
}

impl RawConfig {
    pub fn validate(self) -> Result<Config, ConfigError> {
        let s = self.server;
        let hostname = s
            .hostname
            .unwrap_or_else(|| "continuity.localhost".to_string());
        if hostname.is_empty()
            || !hostname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(invalid("server.hostname", "must be a DNS name"));
        }
        let data_dir = s.data_dir.unwrap_or_else(|| PathBuf::from("./data"));
        let node_id = s
            .node_id
            .map(|n| n.trim().to_string())
            .unwrap_or_else(crate::cluster::host_name);
        if node_id.is_empty()
            || node_id.len() > 100
            || node_id.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(invalid(
                "server.node_id",
                "must be a name of 1 to 100 characters without spaces",
            ));
        }

        let web = self.web.validate()?;

        let m = self.smtp;
        let listen = m
            .listen
            .map(OneOrMany::into_vec)
            .unwrap_or_else(|| vec!["127.0.0.1:2525".to_string()])
            .iter()
            .map(|a| parse_addr("smtp.listen", a))
            .collect::<Result<Vec<_>, _>>()?;
        if m.tls_cert.is_some() != m.tls_key.is_some() {
            return Err(invalid(
                "smtp.tls_cert",
                "tls_cert and tls_key must be given together",
            ));
        }
        let max_message_size = parse_size(
            "smtp.max_message_size",
            m.max_message_size.as_deref().unwrap_or("50MiB"),
        )?;
        let max_line_length = m.max_line_length.unwrap_or(4096);
        if max_line_length < 512 {
            // RFC 5321 §4.5.3.1.4: a command line may be 512 octets.
            return Err(invalid("smtp.max_line_length", "must be at least 512"));
        }
        let max_recipients = m.max_recipients.unwrap_or(100);
        if max_recipients < 1 {
            return Err(invalid("smtp.max_recipients", "must be at least 1"));
        }
        let bare_newlines = match m.bare_newlines.as_deref().unwrap_or("reject") {
            "reject" => BareNewlines::Reject,
            "normalize" => BareNewlines::Normalize,
            other => {
                return Err(invalid(
                    "smtp.bare_newlines",
                    format!("{other:?}: expected \"reject\" or \"normalize\""),
                ))
            }
        };
        let max_inflight_data = parse_size(
            "smtp.max_inflight_data",
            m.max_inflight_data.as_deref().unwrap_or("1GiB"),
        )?;
        if max_inflight_data < max_message_size {
            return Err(invalid(
                "smtp.max_inflight_data",
                "must be at least smtp.max_message_size",
            ));
        }
        let smtp = SmtpConfig {
            listen,
            tls_cert: m.tls_cert,
            tls_key: m.tls_key,
            self_signed: m.self_signed.unwrap_or(false),
            max_message_size: positive("smtp.max_message_size", max_message_size)?,
            max_recipients,
            max_line_length,
            max_connections: positive("smtp.max_connections", m.max_connections.unwrap_or(500))?,
            max_connections_per_ip: positive(
                "smtp.max_connections_per_ip",
                m.max_connections_per_ip.unwrap_or(50),
            )?,
            max_junk_commands: m.max_junk_commands.unwrap_or(50).max(1),
            max_inflight_data,
            idle_timeout: parse_duration(
                "smtp.idle_timeout",
                m.idle_timeout.as_deref().unwrap_or("5m"),
            )?,
            data_timeout: parse_duration(
                "smtp.data_timeout",
                m.data_timeout.as_deref().unwrap_or("10m"),
            )?,
            max_errors: m.max_errors.unwrap_or(10).max(1),
            bare_newlines,
        };

        let queue = self.queue.validate()?;

        let outbound = self.outbound.validate()?;
        let submission = self.submission.validate()?;
        let imap = self.imap.validate()?;
        let store = self.store.validate(&data_dir)?;
        let log = self.log.validate()?;
        let metrics = self.metrics.validate(web.listen)?;
        let notify = self.notify.validate()?;

        Ok(Config {
            hostname,
            node_id,
            data_dir,
            web,
            smtp,
            queue,
            outbound,
            submission,
            imap,
            store,
            log,
            metrics,
            notify,
        })
    }
}

impl Config {
    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("continuity.db")
    }
}

#[cfg(test)]
mod tests;
