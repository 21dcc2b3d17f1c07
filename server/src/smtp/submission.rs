//! SMTP submission (RFC 6409) — the session's AUTH and relaying rules
//! (pure, on [`Session`]) and what the listener does with them (checking
//! credentials, handing messages to the relay).
//!
//! Never an open relay: nothing is accepted before the client is someone —
//! a user who authenticated (their address and password, as in the webmail;
//! they may send as their address and aliases only) or a protected domain's
//! own server (its relay credentials, or one of its networks; it may send
//! as its domain's addresses). AUTH is offered only over TLS unless
//! configured for loopback tests.

use super::reply::Reply;
use super::sasl::{Exchange, Step};
use super::session::{Event, Principal, Session, State};
use crate::auth::{Auth, LoginError};
use crate::directory::RecipientPolicy;
use crate::relay::{self, Outgoing, RelayError, RelayOptions, Sender};
use crate::store::Summary;
use crate::store::{DomainId, MessageId, Origin, Store};

impl<P: RecipientPolicy> Session<P> {
    /// AUTH is advertised (and accepted) on this session now.
    pub(super) fn auth_offered(&self) -> bool {
        match &self.params.submission {
            Some(m) => !self.authenticated && (self.tls || m.allow_plaintext_auth),
            None => false,
        }
    }

    /// `AUTH mechanism [initial-response]` (RFC 4954 §4).
    pub(super) fn auth(&mut self, mechanism: u64, initial: &str) -> Event {
        let Some(mode) = &self.params.submission else {
            return self.error(Reply::new(
                503,
                [5, 5, 1],
                "AUTH is not available on this port",
            ));
        };
        if self.helo.is_none() {
            return self.error(Reply::new(503, [5, 5, 1], "Send EHLO first"));
        }
        if self.authenticated {
            return self.error(Reply::new(503, [5, 5, 1], "Already authenticated"));
        }
        if self.txn.is_some() {
            return self.error(Reply::new(
                503,
                [5, 5, 1],
                "AUTH not allowed during a mail transaction",
            ));
        }
        if !self.tls && !mode.allow_plaintext_auth {
            // RFC 4954 §6
            return self.error(Reply::new(
                538,
                [5, 7, 11],
                "Encryption required for requested authentication mechanism",
            ));
        }
        let name = match mechanism {
            smtp_proto::AUTH_PLAIN => "PLAIN",
            smtp_proto::AUTH_LOGIN => "LOGIN",
            _ => "",
        };
        let initial = (!initial.is_empty()).then_some(initial);
        let (exchange, step) = Exchange::start(name, initial);
        self.auth_step(exchange, step)
    }

    /// A line of an AUTH exchange.
    pub(super) fn auth_line(&mut self, line: &[u8]) -> Event {
        let State::Auth(exchange) = std::mem::replace(&mut self.state, State::Command) else {
            return Event::Reply(Reply::new(503, [5, 5, 1], "No AUTH in progress"));
        };
        let line = String::from_utf8_lossy(line).into_owned();
        let (exchange, step) = exchange.next(&line);
        self.auth_step(exchange, step)
    }

    fn auth_step(&mut self, exchange: Option<Exchange>, step: Step) -> Event {
        match step {
            Step::Challenge(c) => {
                if let Some(ex) = exchange {
                    self.state = State::Auth(ex);
                }
                Event::Reply(Reply::plain(334, c))
            }
            Step::Credentials { user, password } => {
                self.state = State::AwaitAuth;
                Event::Authenticate { user, password }
            }
            Step::Refused(reply) => {
                self.state = State::Command;
                self.error(reply)
            }
        }
    }

    /// The driver's verdict on the credentials of [`Event::Authenticate`].
    pub fn authenticated(&mut self, result: Result<Principal, Reply>) -> Reply {
        self.state = State::Command;
        match result {
            Ok(p) => {
                self.principal = Some(p);
                self.authenticated = true;
                Reply::new(235, [2, 7, 0], "Authentication successful")
            }
            Err(reply) => match self.error(reply) {
                Event::Reply(r) | Event::Close(r) => r,
                _ => Reply::new(535, [5, 7, 8], "Authentication credentials invalid"),
            },
        }
    }

    /// MAIL FROM on a submission port: only as someone the client is.
    pub(super) fn may_send_as(&self, from: &str) -> Result<(), Reply> {
        match &self.principal {
            None => Err(Reply::new(530, [5, 7, 0], "Authentication required")),
            Some(Principal::User { addresses, .. }) => {
                if addresses.iter().any(|a| a.eq_ignore_ascii_case(from)) {
                    Ok(())
                } else {
                    Err(Reply::new(
                        553,
                        [5, 7, 1],
                        format!("<{from}>: Sender address rejected: not owned by the authenticated user"),
                    ))
                }
            }
            Some(Principal::Primary { domain: id, name }) => {
                let domain = from.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
                match domain {
                    // bounces from the domain's server
                    None if from.is_empty() => Ok(()),
                    // its domain and subdomains — but a subdomain that is
                    // itself protected is another tenant's (its DKIM key,
                    // its users' Sent), never this server's to use
                    Some(d) if self.policy().owner_domain(&d) == Some(*id) => Ok(()),
                    _ => Err(Reply::new(
                        553,
                        [5, 7, 1],
                        format!("<{from}>: Sender address rejected: not in {name}"),
                    )),
                }
            }
        }
    }

    /// RCPT TO on a submission port (MAIL already checked the sender).
    pub(super) fn submission_rcpt(&mut self, to: &str) -> Event {
        if !crate::compose::valid_address(to) {
            return self.error(Reply::new(501, [5, 1, 3], "Bad recipient address syntax"));
        }
        if let Some(txn) = &mut self.txn {
            txn.recipients.push(crate::store::NewRecipient {
                rcpt: to.to_ascii_lowercase(),
                domain: None,
                user: None,
            });
        }
        Event::Reply(Reply::new(250, [2, 1, 5], "Ok"))
    }
}

/// What the submission listener needs besides the SMTP context.
pub struct SubmissionContext {
    pub auth: std::sync::Arc<Auth>,
    pub relay: RelayOptions,
    /// TLS from the first byte (port 465).
    pub implicit_tls: bool,
    /// Time to authenticate from connecting.
    pub login_timeout: std::time::Duration,
}

/// A domain's server relaying from one of its networks
/// (`continuity domain relay --allow-ip`).
pub async fn network_principal(store: &Store, ip: std::net::IpAddr) -> Option<Principal> {
    let nets = match store.relay_networks().await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "cannot read relay networks");
            return None;
        }
    };
    // an IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d
    let ip = match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        v4 => v4,
    };
    let mut matching: Vec<DomainId> = nets
        .into_iter()
        .filter(|(_, n)| {
            n.parse::<ipnet::IpNet>()
                .map(|net| net.contains(&ip))
                .unwrap_or(false)
        })
        .map(|(d, _)| d)
        .collect();
    matching.dedup();
    // networks never overlap across domains (the store refuses it); should
    // two still claim this address, it is nobody's rather than the first's
    let domain = match matching.as_slice() {
        [one] => *one,
        [] => return None,
        _ => {
            tracing::warn!(%ip, "submission: several domains claim this address; not trusted");
            return None;
        }
    };
    let d = store.domain(domain).await.ok().flatten()?;
    tracing::info!(%ip, domain = %d.name, "submission: client in the domain's relay networks");
    Some(Principal::Primary {
        domain: d.id,
        name: d.name,
    })
}

fn invalid() -> Reply {
    Reply::new(535, [5, 7, 8], "Authentication credentials invalid")
}

/// Check credentials: a user's address and password, or a domain's name
/// and its relay secret.
pub async fn verify(
    store: &Store,
    auth: &Auth,
    user: &str,
    password: &str,
    ip: &str,
) -> Result<Principal, Reply> {
    if !user.contains('@') {
        return match auth.verify_relay_secret(user, password, ip).await {
            Ok(domain) => {
                tracing::info!(%ip, domain = %domain.name, "submission: relay credentials");
                Ok(Principal::Primary {
                    domain: domain.id,
                    name: domain.name,
                })
            }
            Err(e) => Err(login_reply(e)),
        };
    }
    let account = auth
        .verify_user(user, password, ip, crate::auth::Channel::Submission)
        .await
        .map_err(login_reply)?;
    let addresses = store
        .own_addresses(account.user)
        .await
        .map_err(|_| Reply::new(454, [4, 7, 0], "Temporary authentication failure"))?;
    Ok(Principal::User {
        id: account.user,
        addresses,
    })
}

fn login_reply(e: LoginError) -> Reply {
    match e {
        LoginError::Invalid => invalid(),
        LoginError::Throttled => {
            Reply::new(454, [4, 7, 0], "Too many failed attempts, try again later")
        }
        LoginError::NotCovered => Reply::new(
            535,
            [5, 7, 8],
            "The Continuity Service is not enabled for this account",
        ),
        // as the big providers answer it, so mail apps say the right thing
        LoginError::AppPasswordNeeded => Reply::new(
            534,
            [5, 7, 9],
            "Application-specific password required: this account has a second factor",
        ),
        LoginError::Unavailable => Reply::new(454, [4, 7, 0], "Temporary authentication failure"),
    }
}

/// What submission checks and completes in a message's header, read in
/// the parse that makes the stored summary (nothing parsed twice).
struct Header {
    /// Addresses in the From (and Sender) fields; `None` when the header
    /// cannot be read or names its author twice (a second From a reader
    /// might show instead of the first).
    senders: Option<Vec<String>>,
    has_date: bool,
    has_message_id: bool,
}

impl Header {
    #[cfg(test)]
    fn read(raw: &[u8]) -> Header {
        Header::of(mail_parser::MessageParser::default().parse(raw).as_ref())
    }

    fn of(m: Option<&mail_parser::Message<'_>>) -> Header {
        let Some(m) = m else {
            // unreadable: nothing added, and the sender check refuses it
            return Header {
                senders: None,
                has_date: true,
                has_message_id: true,
            };
        };
        let count = |name: mail_parser::HeaderName<'_>| {
            m.headers().iter().filter(|h| h.name == name).count()
        };
        let senders = if count(mail_parser::HeaderName::From) > 1
            || count(mail_parser::HeaderName::Sender) > 1
        {
            None
        } else {
            let list = |a: Option<&mail_parser::Address>| -> Vec<String> {
                a.map(|a| {
                    a.iter()
                        .filter_map(|x| x.address().map(str::to_ascii_lowercase))
                        .collect()
                })
                .unwrap_or_default()
            };
            let mut out = list(m.from());
            out.extend(list(m.sender()));
            Some(out)
        };
        Header {
            senders,
            has_date: m.date().is_some(),
            has_message_id: m.message_id().is_some(),
        }
    }

    /// RFC 6409 §8.2, §8.3: a message without Date or Message-ID gets
    /// them, and its summary says so.
    fn complete(&self, raw: Vec<u8>, summary: &mut Summary, hostname: &str) -> Vec<u8> {
        let mut extra = String::new();
        if !self.has_date {
            let now = time::OffsetDateTime::now_utc();
            let text = now
                .format(&time::format_description::well_known::Rfc2822)
                .unwrap_or_default();
            extra.push_str(&format!("Date: {text}\r\n"));
            summary.date = Some(now.unix_timestamp());
        }
        if !self.has_message_id {
            let id = format!("{}@{hostname}", crate::auth::token::random_token());
            extra.push_str(&format!("Message-ID: <{id}>\r\n"));
            summary.message_id = Some(id);
        }
        if extra.is_empty() {
            return raw;
        }
        let mut out = extra.into_bytes();
        out.extend_from_slice(&raw);
        out
    }
}

/// Hand a submitted message to the relay; the reply for end of data.
pub async fn commit(
    store: &Store,
    snap: &crate::store::admin::DirectorySnapshot,
    opts: &RelayOptions,
    hostname: &str,
    env: super::session::Envelope,
    client_ip: &str,
) -> Result<MessageId, Reply> {
    let Some(principal) = env.principal else {
        return Err(Reply::new(530, [5, 7, 0], "Authentication required"));
    };
    let (raw, mut summary, header) = Summary::for_ingest_with(env.raw, Header::of)
        .await
        .map_err(|_| {
            Reply::new(
                451,
                [4, 3, 0],
                "Temporary failure storing the message, try again later",
            )
        })?;
    let senders = header.senders.as_deref().unwrap_or_default();
    let sender = match &principal {
        Principal::User { id, addresses } => {
            // the From header must be theirs too: no forged author
            if senders.is_empty()
                || !senders
                    .iter()
                    .all(|s| addresses.iter().any(|a| a.eq_ignore_ascii_case(s)))
            {
                return Err(Reply::new(
                    550,
                    [5, 7, 1],
                    "The From header must be one of your own addresses",
                ));
            }
            Sender::User(*id)
        }
        Principal::Primary { domain, name } => {
            // what the domain's server relays is the domain's own mail: its
            // authors too, not only its envelope (a protected subdomain is
            // another tenant's)
            use crate::directory::RecipientPolicy;
            let ours = |a: &String| {
                a.rsplit_once('@')
                    .is_some_and(|(_, d)| snap.owner_domain(d) == Some(*domain))
            };
            if senders.is_empty() || !senders.iter().all(ours) {
                return Err(Reply::new(
                    550,
                    [5, 7, 1],
                    format!("The From header must be an address of {name}"),
                ));
            }
            Sender::Primary(*domain)
        }
    };
    let raw = header.complete(raw, &mut summary, hostname);
    let out = Outgoing {
        origin: Origin::Submission,
        sender,
        mail_from: env.mail_from,
        rcpts: env.recipients.into_iter().map(|r| r.rcpt).collect(),
        raw,
        summary: Some(summary),
        client_ip: Some(client_ip.to_string()),
        helo: env.helo,
        tls: env.tls,
    };
    match relay::send(store, snap, opts, out).await {
        Ok(id) => Ok(id),
        Err(RelayError::RateLimited(n)) => Err(Reply::new(
            450,
            [4, 7, 1],
            format!("{n} messages sent in the last hour: the most allowed; try again later"),
        )),
        Err(RelayError::Disabled) => Err(Reply::new(550, [5, 7, 1], "The account is disabled")),
        Err(RelayError::NotCovered) => Err(Reply::new(
            550,
            [5, 7, 1],
            "The Continuity Service is not enabled for this account",
        )),
        Err(RelayError::NoRecipient) => Err(Reply::new(554, [5, 5, 1], "No valid recipients")),
        Err(RelayError::Unavailable(e)) => {
            tracing::error!(error = %e, "could not store a submitted message; answered 451");
            Err(Reply::new(
                451,
                [4, 3, 0],
                "Temporary failure storing the message, try again later",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_date_and_message_id_are_added() {
        let raw = b"From: a@example.test\r\nSubject: x\r\n\r\nbody\r\n".to_vec();
        let mut summary = Summary::parse(&raw);
        let out = Header::read(&raw).complete(raw, &mut summary, "mx.test");
        // the summary stored with it says what the message now says
        assert_eq!(Summary::parse(&out).message_id, summary.message_id);
        assert_eq!(Summary::parse(&out).date, summary.date);
        assert!(summary.date.is_some());
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("Date: "), "{out}");
        assert!(out.contains("\r\nMessage-ID: <") && out.contains("@mx.test>\r\n"));
        let full = b"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <x@y>\r\nFrom: a@example.test\r\n\r\nb\r\n".to_vec();
        let mut summary = Summary::parse(&full);
        let before = summary.clone();
        assert_eq!(
            Header::read(&full).complete(full.clone(), &mut summary, "mx.test"),
            full
        );
        assert_eq!(summary, before);
    }

    #[test]
    fn from_and_sender_are_read() {
        let raw = b"From: \"A\" <Alice@Example.test>, bob@example.test\r\nSender: carol@example.test\r\n\r\n";
        assert_eq!(
            Header::read(raw).senders.unwrap(),
            [
                "alice@example.test",
                "bob@example.test",
                "carol@example.test"
            ]
        );
    }
}
