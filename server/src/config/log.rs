//! `[log]`: how the service writes its log (to standard error). Which
//! events are written is `CONTINUITY_LOG` (`info` by default; e.g.
//! `warn,server::queue=debug`).

use serde::Deserialize;

use super::{invalid, ConfigError};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// "text" (the default: lines for a person) or "json" (one JSON
    /// object per line, for a log collector).
    pub format: Option<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    /// One object per line: `timestamp`, `level`, `fields` (the message
    /// and the event's fields) and `spans` (connection, session…).
    Json,
}

#[derive(Debug, Clone, Default)]
pub struct LogConfig {
    pub format: LogFormat,
}

impl RawLog {
    pub fn validate(self) -> Result<LogConfig, ConfigError> {
        let format = match self.format.as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "log.format",
                    format!("must be \"text\" or \"json\", not {other:?}"),
                ))
            }
        };
        Ok(LogConfig { format })
    }
}
