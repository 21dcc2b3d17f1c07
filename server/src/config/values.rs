//! Reading the values the configuration is written with: durations
//! ("90s", "1h 30m"), sizes ("50MiB"), addresses ("127.0.0.1:2525"),
//! host:port pairs; each error names its key.

use std::net::SocketAddr;
use std::time::Duration;

use super::{invalid, ConfigError, OneOrMany};

/// Parse "90s", "5m", "1h 30m", "5d".
pub fn parse_duration(key: &str, s: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(s.trim()).map_err(|e| invalid(key, format!("{s:?}: {e}")))
}

/// Parse "50MiB", "10MB", "512KiB", "1048576".
pub fn parse_size(key: &str, s: &str) -> Result<usize, ConfigError> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| invalid(key, format!("{s:?}: expected a size like \"50MiB\"")))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        other => return Err(invalid(key, format!("{s:?}: unknown unit {other:?}"))),
    };
    n.checked_mul(mult)
        .ok_or_else(|| invalid(key, format!("{s:?}: too large")))
}

/// Listen addresses given as one or a list (none when absent).
pub(super) fn addr_list(key: &str, v: Option<OneOrMany>) -> Result<Vec<SocketAddr>, ConfigError> {
    v.map(OneOrMany::into_vec)
        .unwrap_or_default()
        .iter()
        .map(|a| parse_addr(key, a))
        .collect()
}

pub(super) fn parse_addr(key: &str, s: &str) -> Result<SocketAddr, ConfigError> {
    s.trim()
        .parse()
        .map_err(|_| invalid(key, format!("{s:?}: expected ip:port, e.g. 127.0.0.1:2525")))
}

/// Split "host:port" (or "[v6]:port"); the port is required.
pub fn parse_host_port(key: &str, s: &str) -> Result<(String, u16), ConfigError> {
    let s = s.trim();
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| invalid(key, format!("{s:?}: expected host:port")))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port
        .parse()
        .map_err(|_| invalid(key, format!("{s:?}: bad port")))?;
    if host.is_empty() || port == 0 {
        return Err(invalid(key, format!("{s:?}: expected host:port")));
    }
    Ok((host.to_string(), port))
}

pub(super) fn positive(key: &str, v: usize) -> Result<usize, ConfigError> {
    if v == 0 {
        Err(invalid(key, "must be at least 1"))
    } else {
        Ok(v)
    }
}
