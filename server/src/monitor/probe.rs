//! The active probe of a primary: TCP connect, `220` banner, EHLO,
//! `MAIL FROM:<>`, `RCPT TO:<probe address>`, RSET, QUIT — all within one
//! timeout. Anything else is a failure with the reason the timeline shows:
//! refused, timeout (e.g. a frozen server that accepts TCP but never says
//! hello), no banner, `421`, or a 4xx/5xx at EHLO, MAIL or RCPT (a server
//! that is up but refuses mail, such as `452` for a full disk).

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

fn describe(step: &str, e: lettre::transport::smtp::Error) -> String {
    match e.status() {
        Some(code) => format!("{step}: {code} {e}"),
        None if e.is_timeout() => format!("{step}: timeout"),
        None => format!("{step}: {e}"),
    }
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
    let mut conn = AsyncSmtpConnection::connect_tokio1(
        (target.host.as_str(), target.port),
        Some(timeout),
        &ClientId::Domain(hello.to_string()),
        tls,
        None,
    )
    .await
    .map_err(|e| describe("connect/banner/EHLO", e))?;
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
            r.message().collect::<Vec<_>>().join(" ")
        ))
    }
    .await;
    let _ = conn.command(Rset).await;
    let _ = conn.command(Quit).await;
    result
}
