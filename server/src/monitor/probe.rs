//! The active probe of a primary: TCP connect, `220` banner, EHLO,
//! `MAIL FROM:<>`, `RCPT TO:<probe address>`, RSET, QUIT — all within one
//! timeout. Anything else is a failure with the reason the timeline shows:
//! refused, timeout (e.g. a frozen server that accepts TCP but never says
//! hello), no banner, `421`, or a 4xx/5xx at EHLO, MAIL or RCPT (a server
//! that is up but refuses mail, such as `452` for a full disk).
//!
//! What a failure says is shown to domain admins (the test button, the
//! timeline), so it names the step and, from an SMTP server, its reply
//! code and text — never bytes a non-SMTP service sent ("not an SMTP
//! server"), nor the system's error text. It runs on the delivery
//! client's connection ([`crate::queue::client`]).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::TlsMode;
use crate::queue::client::Conn;
use crate::queue::Route;
use crate::queue::TlsSetup;

/// Where and how to probe one primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// The recipient asked for at RCPT (postmaster@domain by default: RFC
    /// 5321 §4.5.1 requires every domain to accept it).
    pub rcpt: String,
    /// Connect here rather than resolving `host` again (an address already
    /// checked by [`super::reach`]).
    pub connect_to: Option<std::net::SocketAddr>,
}

/// Probe once. `Ok` with the RCPT reply, or `Err` with why it failed.
pub async fn probe(target: &ProbeTarget, hello: &str, timeout: Duration) -> Result<String, String> {
    match tokio::time::timeout(timeout, probe_inner(target, hello, timeout)).await {
        Ok(r) => r.map(|ok| printable(&ok)).map_err(|e| printable(&e)),
        Err(_) => Err(format!(
            "no complete answer within {} s (frozen or overloaded server)",
            timeout.as_secs_f32()
        )),
    }
}

/// Printable text only, at most 200 characters: what an SMTP reply may show.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

/// The TLS configuration of probes: any certificate (a probe asks whether
/// the server takes mail, not who it is).
fn any_certificate() -> Result<Arc<rustls::ClientConfig>, String> {
    static TLS: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    TLS.get_or_init(|| TlsSetup::new().map(|t| t.any)).clone()
}

async fn probe_inner(
    target: &ProbeTarget,
    hello: &str,
    timeout: Duration,
) -> Result<String, String> {
    let tls = any_certificate().map_err(|e| format!("TLS setup: {e}"))?;
    let (host, port) = match target.connect_to {
        Some(addr) => (addr.ip().to_string(), addr.port()),
        None => (target.host.clone(), target.port),
    };
    let route = Route {
        // probing the plain session is enough to know the server takes mail
        tls: match target.tls {
            TlsMode::Implicit => TlsMode::Implicit,
            _ => TlsMode::None,
        },
        tls_name: Some(target.host.clone()),
        ..Route::new(host, port, TlsMode::None)
    };
    let conn = Conn::open(&route, hello, timeout, &tls)
        .await
        .map_err(|e| format!("connect/banner/EHLO: {e}"))?;
    conn.probe(&target.rcpt).await
}
