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
//! server"), nor the system's error text.

use std::time::Duration;

use lettre::address::Address;
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Mail, Quit, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;

use crate::config::TlsMode;

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
        Ok(r) => r,
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

fn describe(step: &str, e: lettre::transport::smtp::Error) -> String {
    if let Some(code) = e.status() {
        // an SMTP server's reply: its code and text
        let text = std::error::Error::source(&e)
            .map(|s| printable(&s.to_string()))
            .unwrap_or_default();
        return format!("{step}: {code} {text}").trim_end().to_string();
    }
    tracing::debug!(error = %e, step, "probe failed");
    let why = if e.is_timeout() {
        "timeout"
    } else if e.is_response() {
        "not an SMTP server"
    } else if e.is_tls() {
        "TLS handshake failed"
    } else if e.is_client() {
        "the probe could not be sent"
    } else {
        io_reason(&e)
    };
    format!("{step}: {why}")
}

/// A connection failure in a few words (the system's own text may carry
/// details of the network that a domain admin need not see).
fn io_reason(e: &lettre::transport::smtp::Error) -> &'static str {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            return match io.kind() {
                K::ConnectionRefused => "connection refused",
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                    "connection closed by the server"
                }
                K::UnexpectedEof => "connection closed by the server",
                K::TimedOut => "timeout",
                K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => "unreachable",
                _ => "connection failed",
            };
        }
        source = s.source();
    }
    "connection failed"
}

async fn probe_inner(
    target: &ProbeTarget,
    hello: &str,
    timeout: Duration,
) -> Result<String, String> {
    let tls = match target.tls {
        TlsMode::Implicit => Some(
            TlsParameters::builder(target.host.clone())
                .dangerous_accept_invalid_certs(true)
                .dangerous_accept_invalid_hostnames(true)
                .build_rustls()
                .map_err(|e| format!("TLS setup: {e}"))?,
        ),
        // Probing the plain session is enough to know the server takes mail.
        _ => None,
    };
    let hello = ClientId::Domain(hello.to_string());
    let connected = match target.connect_to {
        Some(addr) => {
            AsyncSmtpConnection::connect_tokio1(addr, Some(timeout), &hello, tls, None).await
        }
        None => {
            AsyncSmtpConnection::connect_tokio1(
                (target.host.as_str(), target.port),
                Some(timeout),
                &hello,
                tls,
                None,
            )
            .await
        }
    };
    let mut conn = connected.map_err(|e| describe("connect/banner/EHLO", e))?;
    let rcpt: Address = target
        .rcpt
        .parse()
        .map_err(|e| format!("probe address {:?}: {e}", target.rcpt))?;
    let result = async {
        conn.command(Mail::new(None, vec![]))
            .await
            .map_err(|e| describe("MAIL FROM:<>", e))?;
        let r = conn
            .command(Rcpt::new(rcpt, vec![]))
            .await
            .map_err(|e| describe("RCPT TO", e))?;
        Ok(format!(
            "{} {}",
            r.code(),
            printable(&r.message().collect::<Vec<_>>().join(" "))
        ))
    }
    .await;
    let _ = conn.command(Rset).await;
    let _ = conn.command(Quit).await;
    result
}
