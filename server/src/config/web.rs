//! `[web]`: the web UI (webmail and Control Panel): where it listens and is
//! reached, sessions and links, login throttles, drafts and sending limits,
//! and the second factor required of administrators.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{addr_list, invalid, parse_addr, parse_duration, parse_size, ConfigError, OneOrMany};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    /// Address of the web UI (webmail, Control Panel).
    pub listen: Option<String>,
    /// Directory holding the compiled site (pkg/ with JS, WASM and CSS).
    pub site_root: Option<PathBuf>,
    /// The URL people reach the web UI at, e.g. "https://continuity.example.com".
    /// Used in the links that are mailed (set your emergency password). An
    /// https URL also makes the session cookie `Secure`. Its host names the
    /// passkeys: they work only when it is a name, not an IP address.
    pub public_url: Option<String>,
    /// A session ends after this long without a request, e.g. "1h".
    pub session_idle: Option<String>,
    /// A session ends this long after login whatever happens, e.g. "12h".
    pub session_lifetime: Option<String>,
    /// How long a set-password link stays valid, e.g. "7d".
    pub password_link_ttl: Option<String>,
    /// Mail sent from the webmail also goes to the sender's own mailbox on
    /// their primary (once it is up), so their own server has it too.
    pub copy_sent_to_primary: Option<bool>,
    /// Failed logins allowed per account within `login_window` before the
    /// account is held back (the message never says whether it exists).
    pub login_failures_per_account: Option<u32>,
    /// Failed logins allowed per client IP within `login_window`.
    pub login_failures_per_ip: Option<u32>,
    /// The window of the login throttles, e.g. "15m".
    pub login_window: Option<String>,
    /// HTTPS listen addresses (rustls, the service's certificate: the
    /// `[smtp]` one, or its self-signed one). `listen` stays plain HTTP.
    pub tls_listen: Option<OneOrMany>,
    /// Reverse proxies (networks) whose `Forwarded` / `X-Forwarded-For`
    /// is believed for the client's address; from anywhere else the
    /// socket's address counts.
    pub trusted_proxies: Option<Vec<String>>,
    /// Drafts a user may keep in the webmail.
    pub max_drafts: Option<u32>,
    /// What the files of a user's drafts may take together, e.g. "200MiB".
    pub draft_files_quota: Option<String>,
    /// Messages a user may send in an hour, from the webmail and their mail
    /// apps (submission) together.
    pub max_sends_per_hour: Option<u32>,
    /// Every Control Panel administrator must log in with a second factor
    /// (one without is asked to set it up at their next login).
    pub admins_second_factor: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct WebConfig {
    pub listen: SocketAddr,
    pub site_root: PathBuf,
    /// Without a trailing slash.
    pub public_url: String,
    pub secure_cookies: bool,
    pub session_idle: Duration,
    pub session_lifetime: Duration,
    pub password_link_ttl: Duration,
    pub copy_sent_to_primary: bool,
    pub login_failures_per_account: u32,
    pub login_failures_per_ip: u32,
    pub login_window: Duration,
    pub tls_listen: Vec<SocketAddr>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub max_drafts: u32,
    pub draft_files_quota: usize,
    pub max_sends_per_hour: u32,
    pub admins_second_factor: bool,
}

impl RawWeb {
    pub fn validate(self) -> Result<WebConfig, ConfigError> {
        let w = self;
        let listen = parse_addr(
            "web.listen",
            w.listen.as_deref().unwrap_or("127.0.0.1:8080"),
        )?;
        let public_url = w
            .public_url
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://"))
            || public_url
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "web.public_url",
                "must be an http:// or https:// URL",
            ));
        }
        let dur = |key: &str, v: Option<String>, default: &str| {
            parse_duration(key, v.as_deref().unwrap_or(default))
        };
        let session_idle = dur("web.session_idle", w.session_idle, "1h")?;
        let session_lifetime = dur("web.session_lifetime", w.session_lifetime, "12h")?;
        if session_idle.is_zero() || session_lifetime < session_idle {
            return Err(invalid(
                "web.session_lifetime",
                "must be at least web.session_idle, which must not be zero",
            ));
        }
        let password_link_ttl = dur("web.password_link_ttl", w.password_link_ttl, "7d")?;
        if password_link_ttl < Duration::from_secs(60) {
            return Err(invalid("web.password_link_ttl", "must be at least 1m"));
        }
        Ok(WebConfig {
            listen,
            site_root: w.site_root.unwrap_or_else(|| PathBuf::from("target/site")),
            secure_cookies: public_url.starts_with("https://"),
            public_url,
            session_idle,
            session_lifetime,
            password_link_ttl,
            copy_sent_to_primary: w.copy_sent_to_primary.unwrap_or(true),
            login_failures_per_account: w.login_failures_per_account.unwrap_or(5).max(1),
            login_failures_per_ip: w.login_failures_per_ip.unwrap_or(30).max(1),
            login_window: dur("web.login_window", w.login_window, "15m")?,
            tls_listen: addr_list("web.tls_listen", w.tls_listen)?,
            trusted_proxies: w
                .trusted_proxies
                .unwrap_or_default()
                .iter()
                .map(|n| {
                    n.trim()
                        .parse::<ipnet::IpNet>()
                        .map(|n| n.trunc())
                        .or_else(|_| n.trim().parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| {
                            invalid(
                                "web.trusted_proxies",
                                format!("{n:?} is not an IP address or network"),
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
            max_drafts: w.max_drafts.unwrap_or(500).max(1),
            draft_files_quota: parse_size(
                "web.draft_files_quota",
                w.draft_files_quota.as_deref().unwrap_or("200MiB"),
            )?,
            max_sends_per_hour: w.max_sends_per_hour.unwrap_or(200).max(1),
            admins_second_factor: w.admins_second_factor.unwrap_or(false),
        })
    }
}
