//! The inbound SMTP session: a sans-IO state machine (RFC 5321).
//!
//! Bytes go in with [`Session::feed`]; [`Session::next_event`] hands out what
//! the connection must do: write a reply, commit a message, start TLS, or
//! close. The driver (in [`super`]) does the I/O and the store does the
//! commit; nothing here waits, reads or writes. Commands are parsed by
//! `smtp-proto`; DATA is read by [`super::data::MessageReader`].

mod verbs;

use std::sync::Arc;

use smtp_proto::{Error as ProtoError, Request, MAIL_BODY_BINARYMIME, MAIL_SMTPUTF8};

use super::data::{Finished, MessageReader};
use super::reply::Reply;
use crate::config::BareNewlines;
use crate::directory::{RcptVerdict, RecipientPolicy};
use crate::store::{MessageId, NewRecipient, Rejection};

/// The limits and identity a session runs with.
#[derive(Debug, Clone)]
pub struct SessionParams {
    pub hostname: String,
    pub max_message_size: usize,
    pub max_recipients: usize,
    pub max_line_length: usize,
    pub max_errors: u32,
    /// Commands that move no mail allowed since the last accepted message.
    pub max_junk_commands: u32,
    pub bare_newlines: BareNewlines,
    /// STARTTLS can be offered (a certificate is configured).
    pub tls_available: bool,
    /// A submission listener (RFC 6409): AUTH, relaying for the
    /// authenticated; `None` for the inbound MX listener.
    pub submission: Option<SubmissionMode>,
}

/// How a submission listener authenticates.
#[derive(Debug, Clone, Default)]
pub struct SubmissionMode {
    /// AUTH before TLS (loopback tests only).
    pub allow_plaintext_auth: bool,
}

/// Who a submission session acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A user, who may send as their address and aliases.
    User {
        id: crate::store::UserId,
        addresses: Vec<String>,
    },
    /// A protected domain's own server (its credentials or networks): may
    /// send as any address of the domain, and bounces (`<>`).
    Primary {
        domain: crate::store::DomainId,
        name: String,
    },
}

/// A message ready to be committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub mail_from: String,
    pub recipients: Vec<NewRecipient>,
    pub raw: Vec<u8>,
    pub helo: Option<String>,
    pub tls: bool,
    pub smtputf8: bool,
    /// Who sent it (submission listener only).
    pub principal: Option<Principal>,
}

/// What the connection must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Write this reply.
    Reply(Reply),
    /// Store this message durably, then call [`Session::committed`].
    Commit(Envelope),
    /// Write this reply, flush, then run the TLS handshake and call
    /// [`Session::tls_established`].
    StartTls(Reply),
    /// Write this reply and close the connection.
    Close(Reply),
    /// Check these credentials, then call [`Session::authenticated`].
    Authenticate { user: String, password: String },
}

pub(super) struct Transaction {
    pub(super) mail_from: String,
    pub(super) recipients: Vec<NewRecipient>,
    smtputf8: bool,
}

pub(super) enum State {
    Command,
    /// An AUTH exchange waiting for the client's next line.
    Auth(super::sasl::Exchange),
    /// Credentials handed out, waiting for [`Session::authenticated`].
    AwaitAuth,
    Data(Box<MessageReader>),
    AwaitCommit,
    Closed,
}

pub struct Session<P> {
    pub(super) params: Arc<SessionParams>,
    policy: P,
    client_ip: String,
    pub(super) state: State,
    pub(super) input: Vec<u8>,
    /// Skipping the rest of an over-long command line.
    skipping_line: bool,
    pub(super) helo: Option<String>,
    esmtp: bool,
    pub(super) tls: bool,
    pub(super) txn: Option<Transaction>,
    errors: u32,
    /// Commands that moved no mail since the last accepted message.
    junk: u32,
    rejections: Vec<Rejection>,
    /// Submission: who the session acts for (AUTH, or the client's network).
    pub(super) principal: Option<Principal>,
    /// Submission: the principal came from AUTH (not the network).
    pub(super) authenticated: bool,
}

const OK: [u8; 3] = [2, 0, 0];

impl<P: RecipientPolicy> Session<P> {
    pub(super) fn policy(&self) -> &P {
        &self.policy
    }

    /// Submission: the session acts for someone (AUTH, or a relay network).
    pub fn has_principal(&self) -> bool {
        self.principal.is_some()
    }

    pub fn new(params: Arc<SessionParams>, policy: P, client_ip: String, tls: bool) -> Self {
        Session {
            params,
            policy,
            client_ip,
            state: State::Command,
            input: Vec::new(),
            skipping_line: false,
            helo: None,
            esmtp: false,
            tls,
            txn: None,
            errors: 0,
            junk: 0,
            rejections: Vec::new(),
            principal: None,
            authenticated: false,
        }
    }

    /// Submission: the client's address is one of a domain's relay networks.
    pub fn set_network_principal(&mut self, p: Principal) {
        self.principal = Some(p);
    }

    /// The 220 banner (RFC 5321 §4.3.1).
    pub fn greeting(&self) -> Reply {
        Reply::plain(220, format!("{} ESMTP Continuity", self.params.hostname))
    }

    /// RFC 5321 §4.5.3.2: a timeout closes with 421.
    pub fn timeout_reply(&self) -> Reply {
        Reply::new(
            421,
            [4, 4, 2],
            format!(
                "{} Timeout exceeded, closing connection",
                self.params.hostname
            ),
        )
    }

    pub fn shutdown_reply(&self) -> Reply {
        Reply::new(
            421,
            [4, 3, 2],
            format!(
                "{} Service shutting down, try again later",
                self.params.hostname
            ),
        )
    }

    /// True while message data is being received (the DATA timeout applies,
    /// and a graceful shutdown lets it finish).
    pub fn in_data(&self) -> bool {
        matches!(self.state, State::Data(_) | State::AwaitCommit)
    }

    /// Message bytes this session holds in memory.
    pub fn buffered(&self) -> usize {
        match &self.state {
            State::Data(reader) => reader.buffered() + self.input.len(),
            _ => self.input.len(),
        }
    }

    /// The server cannot hold this message: keep reading to its end, store
    /// nothing, answer 452 4.3.1.
    pub fn shed_data(&mut self) {
        if let State::Data(reader) = &mut self.state {
            reader.shed();
        }
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    pub fn client_ip(&self) -> &str {
        &self.client_ip
    }

    pub fn helo(&self) -> Option<&str> {
        self.helo.as_deref()
    }

    /// Refused steps since the last call, for tracking.
    pub fn take_rejections(&mut self) -> Vec<Rejection> {
        std::mem::take(&mut self.rejections)
    }

    /// Bytes received from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.is_closed() {
            self.input.extend_from_slice(bytes);
        }
    }

    /// The next thing to do, or `None` when more input is needed.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            match self.state {
                State::Closed | State::AwaitCommit | State::AwaitAuth => return None,
                State::Data(_) => return self.data_event(),
                State::Command | State::Auth(_) => {}
            }
            let Some(pos) = self.input.iter().position(|&b| b == b'\n') else {
                if self.input.len() > self.params.max_line_length {
                    self.input.clear();
                    self.skipping_line = true;
                    return Some(self.error(Reply::new(500, [5, 5, 2], "Line too long")));
                }
                return None;
            };
            let line: Vec<u8> = self.input.drain(..=pos).collect();
            if std::mem::take(&mut self.skipping_line) {
                continue; // the tail of a line already answered
            }
            if line.len() > self.params.max_line_length {
                if matches!(self.state, State::Auth(_)) {
                    self.state = State::Command;
                }
                return Some(self.error(Reply::new(500, [5, 5, 2], "Line too long")));
            }
            if let State::Auth(_) = self.state {
                return Some(self.auth_line(&line));
            }
            return Some(self.command(&line));
        }
    }

    /// The store's answer for the message handed out with [`Event::Commit`].
    pub fn committed(&mut self, result: Result<MessageId, String>) -> Reply {
        self.state = State::Command;
        self.txn = None;
        match result {
            Ok(id) => {
                self.junk = 0;
                Reply::new(250, OK, format!("Ok: queued as {id}"))
            }
            // Nothing was stored: the client keeps the message and retries.
            Err(_) => Reply::new(
                451,
                [4, 3, 0],
                "Temporary failure storing the message, try again later",
            ),
        }
    }

    /// The message handed out with [`Event::Commit`] was refused: answer this.
    pub fn commit_refused(&mut self, reply: Reply) -> Reply {
        self.state = State::Command;
        self.txn = None;
        reply
    }

    /// TLS is up: RFC 3207 §4.2, forget everything learnt before it.
    pub fn tls_established(&mut self) {
        self.tls = true;
        self.helo = None;
        self.esmtp = false;
        self.txn = None;
        self.input.clear();
        self.skipping_line = false;
        self.state = State::Command;
        if self.authenticated {
            self.principal = None;
            self.authenticated = false;
        }
    }

    pub(super) fn error(&mut self, reply: Reply) -> Event {
        self.errors += 1;
        if self.errors >= self.params.max_errors {
            self.state = State::Closed;
            return Event::Close(Reply::new(
                421,
                [4, 7, 0],
                format!(
                    "{} Too many errors, closing connection",
                    self.params.hostname
                ),
            ));
        }
        Event::Reply(reply)
    }

    fn reject(&mut self, rcpt: Option<&str>, reply: Reply) -> Event {
        self.rejections.push(Rejection {
            client_ip: self.client_ip.clone(),
            helo: self.helo.clone(),
            mail_from: self.txn.as_ref().map(|t| t.mail_from.clone()),
            rcpt: rcpt.map(str::to_string),
            reply: reply.to_string(),
        });
        self.error(reply)
    }

    fn command(&mut self, line: &[u8]) -> Event {
        let request = match Request::parse(&mut line.iter()) {
            Ok(r) => r,
            Err(e) => return self.parse_error(e),
        };
        // A session that only keeps itself alive (NOOP every few minutes,
        // RSET, VRFY, EHLO again...) ends: no connection is held forever.
        if matches!(
            request,
            Request::Noop { .. }
                | Request::Rset
                | Request::Vrfy { .. }
                | Request::Help { .. }
                | Request::Ehlo { .. }
                | Request::Helo { .. }
                | Request::Expn { .. }
                | Request::Etrn { .. }
        ) {
            self.junk += 1;
            if self.junk > self.params.max_junk_commands {
                self.state = State::Closed;
                return Event::Close(Reply::new(
                    421,
                    [4, 7, 0],
                    format!(
                        "{} Too many commands without mail, closing connection",
                        self.params.hostname
                    ),
                ));
            }
        }
        match request {
            Request::Ehlo { host } => self.hello(host.as_ref(), true),
            Request::Helo { host } => self.hello(host.as_ref(), false),
            Request::Mail { from } => {
                let flags = from.flags;
                let size = from.size;
                self.mail(from.address.as_ref(), flags, size)
            }
            Request::Rcpt { to } => self.rcpt(to.address.as_ref()),
            Request::Data => self.data(),
            Request::Rset => {
                self.txn = None;
                Event::Reply(Reply::new(250, OK, "Ok"))
            }
            Request::Noop { .. } => Event::Reply(Reply::new(250, OK, "Ok")),
            Request::Quit => {
                self.state = State::Closed;
                Event::Close(Reply::new(221, OK, "Bye"))
            }
            // RFC 5321 §3.5.3: do not confirm or deny addresses.
            Request::Vrfy { .. } => Event::Reply(Reply::new(
                252,
                [2, 5, 0],
                "Cannot VRFY user, but will accept message for delivery",
            )),
            Request::Help { .. } => Event::Reply(Reply::new(
                214,
                OK,
                "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT STARTTLS",
            )),
            Request::StartTls => self.starttls(),
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, initial_response.as_ref()),
            Request::Lhlo { .. }
            | Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. }
            | Request::Bdat { .. } => {
                self.error(Reply::new(502, [5, 5, 1], "Command not implemented"))
            }
        }
    }

    fn parse_error(&mut self, e: ProtoError) -> Event {
        let reply = match e {
            ProtoError::UnknownCommand => Reply::new(500, [5, 5, 1], "Command unrecognized"),
            ProtoError::InvalidSenderAddress => {
                Reply::new(501, [5, 1, 7], "Bad sender address syntax")
            }
            ProtoError::InvalidRecipientAddress => {
                Reply::new(501, [5, 1, 3], "Bad recipient address syntax")
            }
            ProtoError::SyntaxError { syntax } => {
                Reply::new(501, [5, 5, 4], format!("Syntax: {syntax}"))
            }
            ProtoError::InvalidParameter { param } => {
                Reply::new(501, [5, 5, 4], format!("Invalid {param} parameter"))
            }
            // RFC 5321 §4.1.1.11
            ProtoError::UnsupportedParameter { param } => {
                let param: String = param
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(64)
                    .collect();
                Reply::new(555, [5, 5, 4], format!("Unsupported parameter {param}"))
            }
            ProtoError::ResponseTooLong => Reply::new(500, [5, 5, 2], "Line too long"),
            ProtoError::NeedsMoreData { .. } | ProtoError::InvalidResponse { .. } => {
                Reply::new(500, [5, 5, 2], "Syntax error")
            }
        };
        self.error(reply)
    }
}
