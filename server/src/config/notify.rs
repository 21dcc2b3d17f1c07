//! `[notify]`: telling users that their domain's continuity started or
//! ended (see `crate::notify`): the quiet period that keeps a flapping
//! primary from sending a storm, and the SMS gateway — any provider with
//! an HTTP API, through a POST whose body is a template.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::values::parse_duration;
use super::{invalid, ConfigError};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// At most one start and one end per user and channel within this
    /// time ("30m").
    pub quiet_period: Option<String>,
    /// The gateway's URL (https://…); no SMS without it.
    pub sms_url: Option<String>,
    /// The request's Content-Type: "application/json" (the placeholders are
    /// JSON-escaped) or "application/x-www-form-urlencoded" (URL-encoded).
    pub sms_content_type: Option<String>,
    /// The body, with `{to}` (the number, E.164) and `{text}`.
    pub sms_body: Option<String>,
    /// A file holding the HMAC key of the `Continuity-Signature` header.
    pub sms_secret_file: Option<PathBuf>,
    /// A file of extra header lines ("Authorization: Bearer …"): the
    /// provider's credentials stay out of the configuration.
    pub sms_headers_file: Option<PathBuf>,
    /// SMS sent at most per domain and event (the rest are recorded as
    /// skipped and can be sent again from the Control Panel).
    pub sms_cap_per_domain: Option<u32>,
}

/// How SMS are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsGateway {
    pub url: String,
    pub content_type: SmsBody,
    pub body: String,
    pub secret_file: Option<PathBuf>,
    pub headers_file: Option<PathBuf>,
    pub cap_per_domain: u32,
}

/// How the body's placeholders are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsBody {
    Json,
    Form,
}

impl SmsBody {
    pub fn mime(self) -> &'static str {
        match self {
            SmsBody::Json => "application/json",
            SmsBody::Form => "application/x-www-form-urlencoded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    pub quiet_period: Duration,
    pub sms: Option<SmsGateway>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            quiet_period: Duration::from_secs(30 * 60),
            sms: None,
        }
    }
}

pub const DEFAULT_SMS_BODY: &str = r#"{"to": "{to}", "text": "{text}"}"#;

impl RawNotify {
    pub fn validate(self) -> Result<NotifyConfig, ConfigError> {
        let quiet_period = match self.quiet_period.as_deref() {
            None => NotifyConfig::default().quiet_period,
            Some(s) => parse_duration("notify.quiet_period", s)?,
        };
        let sms = match self.sms_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => {
                crate::monitor::webhook::check_url(url)
                    .map_err(|e| invalid("notify.sms_url", e))?;
                let content_type = match self
                    .sms_content_type
                    .as_deref()
                    .map(|s| s.trim().to_ascii_lowercase())
                    .as_deref()
                {
                    None | Some("application/json") => SmsBody::Json,
                    Some("application/x-www-form-urlencoded") => SmsBody::Form,
                    Some(other) => {
                        return Err(invalid(
                            "notify.sms_content_type",
                            format!(
                                "{other:?}: \"application/json\" or \
                                 \"application/x-www-form-urlencoded\""
                            ),
                        ))
                    }
                };
                let body = self
                    .sms_body
                    .unwrap_or_else(|| DEFAULT_SMS_BODY.to_string());
                if !body.contains("{to}") || !body.contains("{text}") {
                    return Err(invalid("notify.sms_body", "must contain {to} and {text}"));
                }
                Some(SmsGateway {
                    url: url.to_string(),
                    content_type,
                    body,
                    secret_file: self.sms_secret_file,
                    headers_file: self.sms_headers_file,
                    cap_per_domain: self.sms_cap_per_domain.unwrap_or(500),
                })
            }
        };
        Ok(NotifyConfig { quiet_period, sms })
    }
}
