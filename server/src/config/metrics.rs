//! `[metrics]`: Prometheus metrics on their own listener, off unless
//! `listen` is set (see `crate::metrics`).

use std::net::SocketAddr;

use serde::Deserialize;

use super::values::parse_addr;
use super::{invalid, ConfigError};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// e.g. "127.0.0.1:9310": where `GET /metrics` answers.
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    pub listen: Option<SocketAddr>,
}

impl RawMetrics {
    pub fn validate(self, web: SocketAddr) -> Result<MetricsConfig, ConfigError> {
        let listen = match self.listen.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(a) => Some(parse_addr("metrics.listen", a)?),
        };
        if listen.is_some_and(|a| a == web) {
            return Err(invalid(
                "metrics.listen",
                "must not be the web listener's address: metrics go on a port of their own",
            ));
        }
        Ok(MetricsConfig { listen })
    }
}
