//! One SMTP client connection for delivery (RFC 5321), built on
//! smtp-proto's reply parsers: the greeting, EHLO (HELO when refused),
//! STARTTLS or implicit TLS, AUTH PLAIN/LOGIN, then any number of
//! transactions on the same connection ([`transaction`]).
//!
//! A transaction costs as few round trips as the server allows: with
//! PIPELINING (RFC 2920) `MAIL`, `RCPT` and `DATA` go in one write, and
//! with CHUNKING too (RFC 3030) the message itself follows as
//! `BDAT n LAST` in that same write: one round trip per message. Each
//! reply is still read and judged on its own (a refused `RCPT` is that
//! recipient's answer, whatever `DATA` says). Without them, one command
//! at a time. A connection kept for the next message needs no `NOOP`:
//! after a completed transaction the next `MAIL` is simply sent (with an
//! `RSET` in the same write after a refused one); a connection the server
//! closed meanwhile fails on its first reply, before anything was
//! accepted ([`Fate::Stale`]), and the caller sends on a new one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use smtp_proto::response::parser::ResponseReceiver;
use smtp_proto::{EhloResponse, EXT_AUTH, EXT_START_TLS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod transaction;

use super::tls::{handshake, Stream};
use super::transport::{Attempt, Route};
use crate::config::TlsMode;
use crate::quickack::QuickAck;

/// One server reply: its code and its text as the server wrote it (lines
/// joined by spaces), e.g. `250 2.0.0 Ok: queued as 4Xy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    fn is_ok(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// The verdict this reply gives a delivery (2xx/3xx never reach here).
    fn verdict(&self) -> Attempt {
        match self.code {
            200..=299 => Attempt::Accepted(self.text.clone()),
            500..=599 => Attempt::Permanent(self.text.clone()),
            _ => Attempt::Temporary(self.text.clone()),
        }
    }
}

/// What became of the connection after a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Ready for the next message.
    Keep,
    /// Closed or in an unknown state: drop it.
    Close,
    /// Found closed at its first reply, before the server accepted
    /// anything: the message may go again on a new connection.
    Stale,
}

/// Why a connection could not be opened (always worth another try later,
/// or at the next host).
pub type ConnectError = String;

/// An open, greeted (and, as the route asks, encrypted and
/// authenticated) connection.
pub struct Conn {
    io: Stream,
    /// Bytes read and not parsed yet.
    buf: Vec<u8>,
    caps: u32,
    auth_mechanisms: u64,
    timeout: Duration,
    /// The last transaction was refused: `RSET` before the next.
    needs_reset: bool,
    /// Transactions completed on this connection.
    pub sent: u32,
    pub opened: Instant,
    pub idle_since: Instant,
}

/// A command's failure that leaves the connection unusable.
#[derive(Debug)]
struct Broken(String);

impl Conn {
    /// Connect to `route` and get it ready for transactions.
    pub async fn open(
        route: &Route,
        hello: &str,
        timeout: Duration,
        tls: &Arc<rustls::ClientConfig>,
    ) -> Result<Conn, ConnectError> {
        let tcp = tokio::time::timeout(
            timeout,
            TcpStream::connect((route.host.as_str(), route.port)),
        )
        .await
        .map_err(|_| format!("connect to {route}: timeout"))?
        .map_err(|e| format!("connect to {route}: {}", io_words(&e)))?;
        let _ = tcp.set_nodelay(true);
        // a pipelined group's replies may come in two writes, the second
        // held back by the server's Nagle until this side acknowledges
        let tcp = QuickAck::new(tcp);
        let name = route.tls_name.clone().unwrap_or_else(|| route.host.clone());
        let io = if route.tls == TlsMode::Implicit {
            Stream::Tls(Box::new(handshake(tcp, &name, tls, timeout).await?))
        } else {
            Stream::Plain(tcp)
        };
        let now = Instant::now();
        let mut conn = Conn {
            io,
            buf: Vec::new(),
            caps: 0,
            auth_mechanisms: 0,
            timeout,
            needs_reset: false,
            sent: 0,
            opened: now,
            idle_since: now,
        };
        conn.greet(hello).await.map_err(|Broken(e)| e)?;
        let offered = conn.caps & EXT_START_TLS != 0;
        let starttls = match route.tls {
            TlsMode::Required if !offered => {
                return Err(format!(
                    "{route} does not offer STARTTLS, which is required"
                ))
            }
            TlsMode::Required => true,
            TlsMode::Opportunistic => offered,
            TlsMode::None | TlsMode::Implicit => false,
        };
        if starttls {
            let r = conn.command(b"STARTTLS\r\n").await.map_err(|Broken(e)| e)?;
            if r.code != 220 {
                return Err(format!("STARTTLS refused: {}", r.text));
            }
            if !conn.buf.is_empty() {
                // RFC 3207 §5: nothing may follow STARTTLS in clear
                return Err("the server sent data after its STARTTLS answer".into());
            }
            let Stream::Plain(tcp) = std::mem::replace(&mut conn.io, Stream::Upgrading) else {
                return Err("STARTTLS on a connection already encrypted".into());
            };
            conn.io = Stream::Tls(Box::new(handshake(tcp, &name, tls, timeout).await?));
            conn.greet_again(hello).await.map_err(|Broken(e)| e)?;
        }
        if let Some(auth) = &route.auth {
            conn.authenticate(&auth.user, &auth.password)
                .await
                .map_err(|Broken(e)| e)?;
        }
        Ok(conn)
    }

    /// Read the greeting and say EHLO (HELO if EHLO is refused).
    async fn greet(&mut self, hello: &str) -> Result<(), Broken> {
        let banner = self.reply().await?;
        if banner.code != 220 {
            return Err(Broken(format!("greeting: {}", banner.text)));
        }
        self.greet_again(hello).await
    }

    async fn greet_again(&mut self, hello: &str) -> Result<(), Broken> {
        self.write(format!("EHLO {hello}\r\n").as_bytes()).await?;
        let raw = self.raw_reply().await?;
        match EhloResponse::parse(&mut raw.iter()) {
            Ok(ehlo) => {
                self.caps = ehlo.capabilities;
                self.auth_mechanisms = ehlo.auth_mechanisms;
                Ok(())
            }
            Err(_) => {
                let r = self.command(format!("HELO {hello}\r\n").as_bytes()).await?;
                if r.code != 250 {
                    return Err(Broken(format!("HELO: {}", r.text)));
                }
                self.caps = 0;
                Ok(())
            }
        }
    }

    async fn authenticate(&mut self, user: &str, password: &str) -> Result<(), Broken> {
        let b64 = base64::engine::general_purpose::STANDARD;
        if self.caps & EXT_AUTH == 0 {
            return Err(Broken("the server offers no AUTH".into()));
        }
        let r = if self.auth_mechanisms & smtp_proto::AUTH_PLAIN != 0 {
            let token = b64.encode(format!("\0{user}\0{password}"));
            self.command(format!("AUTH PLAIN {token}\r\n").as_bytes())
                .await?
        } else if self.auth_mechanisms & smtp_proto::AUTH_LOGIN != 0 {
            let r = self.command(b"AUTH LOGIN\r\n").await?;
            if r.code != 334 {
                return Err(Broken(format!("AUTH LOGIN: {}", r.text)));
            }
            let r = self
                .command(format!("{}\r\n", b64.encode(user)).as_bytes())
                .await?;
            if r.code != 334 {
                return Err(Broken(format!("AUTH LOGIN: {}", r.text)));
            }
            self.command(format!("{}\r\n", b64.encode(password)).as_bytes())
                .await?
        } else {
            return Err(Broken(
                "the server offers neither AUTH PLAIN nor AUTH LOGIN".into(),
            ));
        };
        if r.code != 235 {
            return Err(Broken(format!("authentication failed: {}", r.text)));
        }
        Ok(())
    }

    /// The outage monitor's check: `MAIL FROM:<>`, `RCPT TO:<rcpt>`, then
    /// `RSET` and `QUIT`. `Ok` with the RCPT reply; `Err` naming the step
    /// and the server's reply (or what went wrong).
    pub async fn probe(mut self, rcpt: &str) -> Result<String, String> {
        let result = async {
            transaction::check_address(rcpt)?;
            let r = self
                .command(b"MAIL FROM:<>\r\n")
                .await
                .map_err(|Broken(e)| format!("MAIL FROM:<>: {e}"))?;
            if !r.is_ok() {
                return Err(format!("MAIL FROM:<>: {}", r.text));
            }
            let r = self
                .command(format!("RCPT TO:<{rcpt}>\r\n").as_bytes())
                .await
                .map_err(|Broken(e)| format!("RCPT TO: {e}"))?;
            if !r.is_ok() {
                return Err(format!("RCPT TO: {}", r.text));
            }
            Ok(r.text)
        }
        .await;
        let _ = self.command(b"RSET\r\n").await;
        self.quit().await;
        result
    }

    /// Say goodbye (best effort, bounded).
    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            if self.write(b"QUIT\r\n").await.is_ok() {
                let _ = self.reply().await;
            }
            let _ = self.io.shutdown().await;
        })
        .await;
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Broken> {
        let w = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(self.timeout, w).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Broken(format!("write: {}", io_words(&e)))),
            Err(_) => Err(Broken("write: timeout".into())),
        }
    }

    async fn command(&mut self, bytes: &[u8]) -> Result<Reply, Broken> {
        self.write(bytes).await?;
        self.reply().await
    }

    /// The next reply.
    async fn reply(&mut self) -> Result<Reply, Broken> {
        let raw = self.raw_reply().await?;
        let code = match ResponseReceiver::default().parse(&mut raw.iter()) {
            Ok(r) => r.code,
            Err(_) => return Err(Broken("not an SMTP server".into())),
        };
        // the text as written, enhanced codes included: "250 2.0.0 Ok"
        let mut text = code.to_string();
        for line in raw.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line.get(4..).unwrap_or_default());
            let line = line.trim();
            if !line.is_empty() && text.len() < 1000 {
                text.push(' ');
                // shown in the tracking: never a control character
                text.extend(line.chars().map(|c| if c.is_control() { '?' } else { c }));
            }
        }
        Ok(Reply { code, text })
    }

    /// The bytes of the next whole reply (every line up to the one whose
    /// code is followed by a space), read with the timeout.
    async fn raw_reply(&mut self) -> Result<Vec<u8>, Broken> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if let Some(end) = reply_end(&self.buf) {
                let rest = self.buf.split_off(end);
                return Ok(std::mem::replace(&mut self.buf, rest));
            }
            if self.buf.len() > 64 * 1024 {
                return Err(Broken("reply too long".into()));
            }
            let mut chunk = [0u8; 4096];
            let n = match tokio::time::timeout_at(deadline, self.io.read(&mut chunk)).await {
                Ok(Ok(0)) => return Err(Broken("the server closed the connection".into())),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(Broken(format!("read: {}", io_words(&e)))),
                Err(_) => return Err(Broken("no complete answer in time (timeout)".into())),
            };
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A connection's failure in a few words: the system's own text may carry
/// details of the network that a domain admin need not see (the probe's
/// reasons are shown in the Control Panel).
fn io_words(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            "connection closed by the server"
        }
        K::TimedOut => "timeout",
        K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => "unreachable",
        _ => "connection failed",
    }
}

/// Where the first whole reply in `buf` ends: after the line whose code is
/// followed by a space (or nothing: `250\r\n`). A line that does not begin
/// with a code ends it too (not SMTP: the parser says so).
fn reply_end(buf: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
        let line = &buf[start..start + nl];
        start += nl + 1;
        let coded = line.len() >= 3 && line[..3].iter().all(u8::is_ascii_digit);
        if !coded || line.get(3).is_none_or(|&c| c != b'-') {
            return Some(start);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_ends_at_its_last_line() {
        assert_eq!(reply_end(b"250-a\r\n250-b\r\n"), None);
        assert_eq!(reply_end(b"250-a\r\n250 b\r\n354 go"), Some(14));
        assert_eq!(reply_end(b"250\r\n"), Some(5));
        assert_eq!(reply_end(b"25"), None);
        // not SMTP (an SSH banner has a '-' where a code's dash would be)
        assert_eq!(reply_end(b"SSH-2.0-OpenSSH_9.2\r\n"), Some(21));
    }
}
