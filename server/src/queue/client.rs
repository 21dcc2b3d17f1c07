//! One SMTP client connection for delivery (RFC 5321), built on
//! smtp-proto's reply parsers: the greeting, EHLO (HELO when refused),
//! STARTTLS or implicit TLS, AUTH PLAIN/LOGIN, then any number of
//! transactions on the same connection.
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
use smtp_proto::{EhloResponse, EXT_8BIT_MIME, EXT_AUTH, EXT_CHUNKING, EXT_PIPELINING};
use smtp_proto::{EXT_SIZE, EXT_SMTP_UTF8, EXT_START_TLS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
            check_address(rcpt)?;
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

    /// One transaction: `message` from `mail_from` ("" for `<>`) to `rcpt`.
    pub async fn send(&mut self, mail_from: &str, rcpt: &str, message: &[u8]) -> (Attempt, Fate) {
        if let Err(why) = check_address(mail_from).and_then(|_| check_address(rcpt)) {
            return (Attempt::Permanent(why), Fate::Keep);
        }
        let utf8 = !mail_from.is_ascii() || !rcpt.is_ascii();
        if utf8 && self.caps & EXT_SMTP_UTF8 == 0 {
            return (
                Attempt::Permanent(
                    "the address is not ASCII and the server does not offer SMTPUTF8".into(),
                ),
                Fate::Keep,
            );
        }
        let mut mail = format!("MAIL FROM:<{mail_from}>");
        if self.caps & EXT_8BIT_MIME != 0 && !message.is_ascii() {
            mail.push_str(" BODY=8BITMIME");
        }
        if self.caps & EXT_SIZE != 0 {
            mail.push_str(&format!(" SIZE={}", message.len()));
        }
        if utf8 {
            mail.push_str(" SMTPUTF8");
        }
        mail.push_str("\r\n");
        let rcpt_cmd = format!("RCPT TO:<{rcpt}>\r\n");
        let pipelining = self.caps & EXT_PIPELINING != 0;
        let chunking = self.caps & EXT_CHUNKING != 0;
        let result = if pipelining {
            self.pipelined(&mail, &rcpt_cmd, message, chunking).await
        } else {
            self.one_by_one(&mail, &rcpt_cmd, message, chunking).await
        };
        match result {
            Ok(attempt) => {
                if matches!(attempt, Attempt::Accepted(_)) {
                    self.sent += 1;
                } else {
                    self.needs_reset = true;
                }
                (attempt, Fate::Keep)
            }
            Err(Step { at_first, why }) => {
                let fate = if at_first { Fate::Stale } else { Fate::Close };
                (Attempt::Temporary(why), fate)
            }
        }
    }

    /// MAIL, RCPT and DATA (or the whole message as BDAT) in one write.
    async fn pipelined(
        &mut self,
        mail: &str,
        rcpt: &str,
        message: &[u8],
        chunking: bool,
    ) -> Result<Attempt, Step> {
        let reset = std::mem::take(&mut self.needs_reset);
        let mut out = Vec::with_capacity(mail.len() + rcpt.len() + 32 + message.len());
        if reset {
            out.extend_from_slice(b"RSET\r\n");
        }
        out.extend_from_slice(mail.as_bytes());
        out.extend_from_slice(rcpt.as_bytes());
        if chunking {
            out.extend_from_slice(format!("BDAT {} LAST\r\n", message.len()).as_bytes());
            out.extend_from_slice(message);
        } else {
            out.extend_from_slice(b"DATA\r\n");
        }
        self.write(&out).await.map_err(Step::first)?;
        if reset {
            // whatever it says, the transaction below is judged by its own replies
            self.reply().await.map_err(Step::first)?;
        }
        let mail_r = self.reply().await.map_err(|b| Step::at(b, !reset))?;
        if mail_r.code == 421 {
            return Err(Step {
                at_first: !reset,
                why: mail_r.text,
            });
        }
        let rcpt_r = self.reply().await.map_err(Step::later)?;
        let data_r = self.reply().await.map_err(Step::later)?;
        if !mail_r.is_ok() {
            if data_r.code == 354 {
                self.end_empty_data().await?;
            }
            return Ok(mail_r.verdict());
        }
        if !rcpt_r.is_ok() {
            if data_r.code == 354 {
                self.end_empty_data().await?;
            }
            return Ok(rcpt_r.verdict());
        }
        if chunking {
            return Ok(data_r.verdict());
        }
        if data_r.code != 354 {
            return Ok(data_r.verdict());
        }
        self.write(&dot_stuffed(message))
            .await
            .map_err(Step::later)?;
        let end = self.reply().await.map_err(Step::later)?;
        Ok(end.verdict())
    }

    /// Without PIPELINING: each command waits for its reply.
    async fn one_by_one(
        &mut self,
        mail: &str,
        rcpt: &str,
        message: &[u8],
        chunking: bool,
    ) -> Result<Attempt, Step> {
        let mut first = true;
        if std::mem::take(&mut self.needs_reset) {
            self.command(b"RSET\r\n").await.map_err(Step::first)?;
            first = false;
        }
        let r = self
            .command(mail.as_bytes())
            .await
            .map_err(|b| Step::at(b, first))?;
        if r.code == 421 && first {
            return Err(Step {
                at_first: true,
                why: r.text,
            });
        }
        if !r.is_ok() {
            return Ok(r.verdict());
        }
        let r = self.command(rcpt.as_bytes()).await.map_err(Step::later)?;
        if !r.is_ok() {
            return Ok(r.verdict());
        }
        if chunking {
            let mut out = format!("BDAT {} LAST\r\n", message.len()).into_bytes();
            out.extend_from_slice(message);
            let r = self.command(&out).await.map_err(Step::later)?;
            return Ok(r.verdict());
        }
        let r = self.command(b"DATA\r\n").await.map_err(Step::later)?;
        if r.code != 354 {
            return Ok(r.verdict());
        }
        let r = self
            .command(&dot_stuffed(message))
            .await
            .map_err(Step::later)?;
        Ok(r.verdict())
    }

    /// DATA was accepted though no recipient was (RFC 2920 §3.1): an
    /// empty message ends it, and is refused.
    async fn end_empty_data(&mut self) -> Result<(), Step> {
        self.command(b".\r\n").await.map_err(Step::later)?;
        Ok(())
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

/// A transaction's failure that broke the connection: `at_first` when it
/// happened at its first reply (the server accepted nothing).
struct Step {
    at_first: bool,
    why: String,
}

impl Step {
    fn at(Broken(why): Broken, at_first: bool) -> Step {
        Step { at_first, why }
    }
    fn first(b: Broken) -> Step {
        Step::at(b, true)
    }
    fn later(b: Broken) -> Step {
        Step::at(b, false)
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

/// An address fit to go between `<` and `>` (no spaces, brackets or
/// control characters: nothing that would smuggle a command).
fn check_address(a: &str) -> Result<(), String> {
    if a.len() > 512
        || a.chars()
            .any(|c| c.is_control() || c == ' ' || c == '<' || c == '>')
    {
        return Err(format!("the address <{}> cannot be sent", a.escape_debug()));
    }
    Ok(())
}

/// The message as DATA sends it: a `.` doubled at the start of every line,
/// ending with CRLF and the final `.`.
fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
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

    #[test]
    fn dots_are_doubled_at_line_starts_and_the_end_is_added() {
        assert_eq!(
            dot_stuffed(b".a\r\nb.\r\n..c\r\n"),
            b"..a\r\nb.\r\n...c\r\n.\r\n"
        );
        assert_eq!(dot_stuffed(b"no end"), b"no end\r\n.\r\n");
    }

    #[test]
    fn addresses_cannot_smuggle_commands() {
        assert!(check_address("a@b.test").is_ok());
        assert!(check_address("").is_ok());
        assert!(check_address("a@b.test>\r\nRCPT TO:<c@d.test").is_err());
        assert!(check_address("a b@c.test").is_err());
    }
}
