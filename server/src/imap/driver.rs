//! The driver between any async stream and imap-next's sans-IO server:
//! commands in, responses out, in order; AUTHENTICATE PLAIN (with SASL-IR)
//! and IDLE flows; before login, small commands and a deadline; a FETCH is
//! a job written batch by batch; STARTTLS ends the drive so the caller can
//! start TLS with a fresh parser.

use std::collections::VecDeque;

use imap_next::imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_next::imap_types::core::Tag;
use imap_next::imap_types::response::{CommandContinuationRequest, Response};
use imap_next::server::{Event, Options, ResponseHandle, Server};
use imap_next::{Interrupt, Io, State};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::reply::{bad, bye, no, ok, untagged_bad};
use super::session::{After, Outcome, Session};
use super::ImapContext;
use crate::store::MailboxEvent;

#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Closed,
    StartTls,
}

fn server_options(ctx: &ImapContext) -> Options {
    let mut o = Options::default();
    o.max_literal_size = ctx.max_literal_size;
    o.max_command_size = ctx.max_literal_size.saturating_add(64 * 1024);
    o
}

fn continuation(text: &str) -> CommandContinuationRequest<'static> {
    CommandContinuationRequest::basic(None, text.to_string())
        .unwrap_or_else(|_| CommandContinuationRequest::basic(None, "go on").expect("plain text"))
}

/// Where an AUTHENTICATE exchange stands.
struct Authenticating {
    tag: Tag<'static>,
}

/// RFC 4616: authzid NUL authcid NUL password; acting as another is refused.
fn plain_credentials(data: &[u8]) -> Option<(String, String)> {
    let mut parts = data.split(|&b| b == 0);
    let (Some(authz), Some(user), Some(pass), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let authz = String::from_utf8(authz.to_vec()).ok()?;
    let user = String::from_utf8(user.to_vec()).ok()?;
    let pass = String::from_utf8(pass.to_vec()).ok()?;
    if user.is_empty() || (!authz.is_empty() && !authz.eq_ignore_ascii_case(&user)) {
        return None;
    }
    Some((user, pass))
}

/// Too many protocol errors in a row end the session.
const MAX_ERRORS: u32 = 10;
/// Before login: the most a command may be (literals included, as
/// Dovecot), and the most commands a client may send.
const PRE_LOGIN_COMMAND: usize = 64 * 1024;
const PRE_LOGIN_COMMANDS: u32 = 20;

/// The length of a literal announced at the end of a line (`{N}` or
/// `{N+}` before CRLF) within `bytes`, the largest if several.
fn announced_literal(bytes: &[u8]) -> Option<u64> {
    let mut largest = None;
    for (i, _) in bytes.iter().enumerate().filter(|(_, &b)| b == b'\n') {
        let line = bytes[..i].strip_suffix(b"\r").unwrap_or(&bytes[..i]);
        let Some(line) = line.strip_suffix(b"}") else {
            continue;
        };
        let line = line.strip_suffix(b"+").unwrap_or(line);
        let digits = line.iter().rev().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || line.len() == digits || line[line.len() - digits - 1] != b'{' {
            continue;
        }
        let n = std::str::from_utf8(&line[line.len() - digits..])
            .ok()
            .and_then(|d| d.parse::<u64>().ok())
            .unwrap_or(u64::MAX);
        largest = largest.max(Some(n));
    }
    largest
}

/// Move bytes between `stream` and imap-next's server for `session`, until
/// the client logs out, the connection closes, a timeout passes, or STARTTLS
/// is to begin. `greet`: send the greeting first (not after STARTTLS).
pub async fn drive<S>(
    stream: &mut S,
    session: &mut Session,
    ctx: &ImapContext,
    stop: &mut watch::Receiver<bool>,
    greet: bool,
    login_deadline: tokio::time::Instant,
) -> std::io::Result<Ended>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut server = Server::new(server_options(ctx), session.greeting());
    if !greet {
        // drain the greeting the new parser would send: it was sent before TLS
        loop {
            match server.next() {
                Ok(Event::GreetingSent { .. }) => break,
                Err(Interrupt::Io(Io::Output(_))) => continue,
                _ => break,
            }
        }
    }
    let mut events = ctx.store.mailbox_events();
    let mut buf = vec![0u8; 16 * 1024];
    let mut idling: Option<Tag<'static>> = None;
    let mut authenticating: Option<Authenticating> = None;
    // the response after which to start TLS, or to close
    let mut pending: Option<(ResponseHandle, After)> = None;
    let mut errors = 0u32;
    // before login: bytes since the last command, commands so far, and the
    // last bytes seen (a literal's announcement may straddle two reads)
    let mut pre_login_bytes = 0usize;
    let mut pre_login_commands = 0u32;
    let mut tail: Vec<u8> = Vec::new();
    // what the parser gave while a FETCH was being written (pipelined
    // commands), handled in order afterwards
    let mut stash: VecDeque<Result<Event, Interrupt<imap_next::server::Error>>> = VecDeque::new();
    loop {
        let step = match stash.pop_front() {
            Some(s) => s,
            None => server.next(),
        };
        match step {
            Ok(Event::GreetingSent { .. }) => {}
            Ok(Event::ResponseSent { handle, .. }) => {
                if let Some((h, after)) = pending {
                    if h == handle {
                        stream.flush().await?;
                        return Ok(match after {
                            After::StartTls => Ended::StartTls,
                            _ => Ended::Closed,
                        });
                    }
                }
            }
            Ok(Event::CommandReceived { command }) => {
                errors = 0;
                if !session.is_authenticated() {
                    pre_login_bytes = 0;
                    pre_login_commands += 1;
                    if pre_login_commands > PRE_LOGIN_COMMANDS {
                        server.enqueue_status(bye("Too many commands before login"));
                        flush_all(&mut server, stream).await?;
                        return Ok(Ended::Closed);
                    }
                }
                let mut outcome = session.command(command).await;
                let job = outcome.job.take();
                pending = enqueue(&mut server, outcome).or(pending);
                if let Some(mut job) = job {
                    // a FETCH goes out batch by batch: each is written
                    // before the next is read from the store
                    loop {
                        drain(&mut server, stream, &mut stash).await?;
                        let (responses, done) = job.step(session).await;
                        for r in responses {
                            enqueue_one(&mut server, r);
                        }
                        if done {
                            break;
                        }
                    }
                }
            }
            Ok(Event::CommandAuthenticateReceived {
                command_authenticate,
            }) => {
                errors = 0;
                pre_login_bytes = 0;
                pre_login_commands += 1;
                if pre_login_commands > PRE_LOGIN_COMMANDS {
                    server.enqueue_status(bye("Too many commands before login"));
                    flush_all(&mut server, stream).await?;
                    return Ok(Ended::Closed);
                }
                let tag = command_authenticate.tag.clone();
                if session.is_authenticated() {
                    let _ = server.authenticate_finish(bad(&tag, "Already authenticated"));
                } else if !session.login_allowed() {
                    let _ = server.authenticate_finish(no(
                        &tag,
                        None,
                        "AUTHENTICATE is disabled until STARTTLS",
                    ));
                } else if command_authenticate.mechanism != AuthMechanism::Plain {
                    let _ = server.authenticate_finish(no(
                        &tag,
                        None,
                        "Only AUTHENTICATE PLAIN is supported",
                    ));
                } else if let Some(initial) = command_authenticate.initial_response {
                    let status = finish_plain(session, &tag, initial.declassify()).await;
                    let _ = server.authenticate_finish(status);
                } else {
                    let _ = server.authenticate_continue(continuation(" "));
                    authenticating = Some(Authenticating { tag });
                }
            }
            Ok(Event::AuthenticateDataReceived { authenticate_data }) => {
                pre_login_bytes = 0;
                let Some(a) = authenticating.take() else {
                    continue;
                };
                let status = match authenticate_data {
                    AuthenticateData::Cancel => bad(&a.tag, "AUTHENTICATE cancelled"),
                    AuthenticateData::Continue(data) => {
                        finish_plain(session, &a.tag, data.declassify()).await
                    }
                };
                let _ = server.authenticate_finish(status);
            }
            Ok(Event::IdleCommandReceived { tag }) => {
                if session.is_selected() {
                    let _ = server.idle_accept(continuation("idling"));
                    for r in session.changes().await {
                        enqueue_one(&mut server, r);
                    }
                    idling = Some(tag);
                } else {
                    let _ = server.idle_reject(bad(&tag, "Select a mailbox first"));
                }
            }
            Ok(Event::IdleDoneReceived) => {
                if let Some(tag) = idling.take() {
                    for r in session.changes().await {
                        enqueue_one(&mut server, r);
                    }
                    server.enqueue_status(ok(&tag, None, "IDLE terminated"));
                }
            }
            Err(Interrupt::Io(Io::Output(bytes))) => {
                stream.write_all(&bytes).await?;
                // replies go out before waiting for the client
                stream.flush().await?;
            }
            Err(Interrupt::Io(Io::NeedMoreInput)) => {
                let deadline = if session.is_authenticated() {
                    tokio::time::Instant::now() + ctx.idle_timeout
                } else {
                    login_deadline
                };
                tokio::select! {
                    read = tokio::time::timeout_at(deadline, stream.read(&mut buf)) => match read {
                        Err(_) => {
                            server.enqueue_status(bye(if session.is_authenticated() {
                                "Autologout: idle for too long"
                            } else {
                                "Autologout: log in sooner"
                            }));
                            flush_all(&mut server, stream).await?;
                            return Ok(Ended::Closed);
                        }
                        Ok(Ok(0)) => return Ok(Ended::Closed),
                        Ok(Ok(n)) => {
                            if !session.is_authenticated() {
                                // before login, a command is small: nobody
                                // makes us hold megabytes without a password
                                pre_login_bytes += n;
                                tail.extend_from_slice(&buf[..n]);
                                let too_big = announced_literal(&tail)
                                    .is_some_and(|l| l > PRE_LOGIN_COMMAND as u64);
                                let keep = tail.len().saturating_sub(32);
                                tail.drain(..keep);
                                if too_big || pre_login_bytes > PRE_LOGIN_COMMAND {
                                    server.enqueue_status(bye("Command too long before login"));
                                    flush_all(&mut server, stream).await?;
                                    return Ok(Ended::Closed);
                                }
                            }
                            server.enqueue_input(&buf[..n]);
                        }
                        Ok(Err(e)) => return Err(e),
                    },
                    ev = events.recv(), if idling.is_some() => {
                        let mine = match ev {
                            Ok(MailboxEvent::Changed(u)) => Some(u) == session.user(),
                            // missed some: look anyway
                            Ok(MailboxEvent::Missed)
                            | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                            Err(_) => false,
                        };
                        if mine {
                            for r in session.changes().await {
                                enqueue_one(&mut server, r);
                            }
                        }
                    }
                    _ = stop.changed() => {
                        server.enqueue_status(bye("Server shutting down, try again later"));
                        flush_all(&mut server, stream).await?;
                        return Ok(Ended::Closed);
                    }
                }
            }
            Err(Interrupt::Error(e)) => {
                errors += 1;
                use imap_next::server::Error as E;
                let fatal = matches!(e, E::CommandTooLong { .. });
                let (text, discarded) = match &e {
                    E::ExpectedCrlfGotLf { discarded_bytes } => {
                        ("Lines must end with CRLF", discarded_bytes)
                    }
                    E::MalformedMessage { discarded_bytes } => {
                        ("Command syntax error", discarded_bytes)
                    }
                    E::LiteralTooLong { discarded_bytes } => ("Literal too long", discarded_bytes),
                    E::CommandTooLong { discarded_bytes } => ("Command too long", discarded_bytes),
                };
                // the tag, when the line has one, gets its BAD (RFC 3501 §7.1.3)
                let tag = discarded
                    .declassify()
                    .split(|&b| b == b' ')
                    .next()
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .and_then(|t| Tag::try_from(t.to_string()).ok());
                if !matches!(e, E::LiteralTooLong { .. }) {
                    server.enqueue_status(match &tag {
                        Some(t) if !fatal => bad(t, text),
                        _ => untagged_bad(text),
                    });
                }
                if fatal || errors >= MAX_ERRORS {
                    server.enqueue_status(bye("Too many errors"));
                    flush_all(&mut server, stream).await?;
                    return Ok(Ended::Closed);
                }
            }
        }
    }
}

async fn finish_plain(
    session: &mut Session,
    tag: &Tag<'static>,
    data: &[u8],
) -> imap_next::imap_types::response::Status<'static> {
    let Some((user, pass)) = plain_credentials(data) else {
        return no(
            tag,
            super::reply::code("AUTHENTICATIONFAILED"),
            "Invalid credentials",
        );
    };
    let outcome = session.login(tag, &user, &pass).await;
    match outcome.responses.into_iter().next() {
        Some(Response::Status(s)) => s,
        _ => no(tag, None, "Authentication failed"),
    }
}

fn enqueue_one(server: &mut Server, r: Response<'static>) -> Option<ResponseHandle> {
    match r {
        Response::Data(d) => Some(server.enqueue_data(d)),
        Response::Status(s) => Some(server.enqueue_status(s)),
        Response::CommandContinuationRequest(c) => Some(server.enqueue_continuation_request(c)),
    }
}

/// Queue a command's responses; the handle of the last one when something
/// must happen after it is sent.
fn enqueue(server: &mut Server, outcome: Outcome) -> Option<(ResponseHandle, After)> {
    let mut last = None;
    for r in outcome.responses {
        last = enqueue_one(server, r);
    }
    match (outcome.after, last) {
        (After::Nothing, _) | (_, None) => None,
        (after, Some(h)) => Some((h, after)),
    }
}

/// Write the queued responses; anything else the parser produces meanwhile
/// (a pipelined command) is kept, in order, for the main loop.
async fn drain<S: AsyncWrite + Unpin>(
    server: &mut Server,
    stream: &mut S,
    stash: &mut VecDeque<Result<Event, Interrupt<imap_next::server::Error>>>,
) -> std::io::Result<()> {
    loop {
        match server.next() {
            Err(Interrupt::Io(Io::Output(bytes))) => stream.write_all(&bytes).await?,
            Err(Interrupt::Io(Io::NeedMoreInput)) => break,
            Ok(Event::ResponseSent { .. }) => continue,
            other => {
                stash.push_back(other);
                break;
            }
        }
    }
    stream.flush().await
}

/// Write whatever is queued (a BYE before closing).
async fn flush_all<S: AsyncWrite + Unpin>(
    server: &mut Server,
    stream: &mut S,
) -> std::io::Result<()> {
    for _ in 0..64 {
        match server.next() {
            Err(Interrupt::Io(Io::Output(bytes))) => stream.write_all(&bytes).await?,
            Ok(Event::ResponseSent { .. }) | Ok(Event::GreetingSent { .. }) => continue,
            _ => break,
        }
    }
    stream.flush().await
}
