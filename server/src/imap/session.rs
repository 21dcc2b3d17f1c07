//! One IMAP session's state machine (RFC 3501 §3): not authenticated →
//! authenticated → selected → logout. Commands come parsed by imap-next;
//! each is answered with imap-types responses; the driver ([`super`]) does
//! the I/O. Mailbox semantics are ours: INBOX, Sent, Trash and the user's
//! folders ([`super::mailboxes`]), the webmail's mailbox rows and flags.
//!
//! Selected-state commands (FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE) are
//! in [`super::selected_cmds`].

use std::sync::Arc;

use imap_next::imap_types::auth::AuthMechanism;
use imap_next::imap_types::command::{Command, CommandBody};
use imap_next::imap_types::core::{IString, NString, Tag, Vec1};
use imap_next::imap_types::extensions::enable::CapabilityEnable;
use imap_next::imap_types::extensions::utf8::Utf8Kind;
use imap_next::imap_types::response::{
    Capability, Code, Data, Greeting, GreetingKind, Response, Status,
};

use super::condstore::Resync;
use super::reply::{bad, bye, code, no, ok, text};
use super::selected::Selected;
use super::ImapContext;
use crate::auth::LoginError;
use crate::store::UserId;

pub enum State {
    NotAuthenticated,
    Authenticated(UserId),
    Selected(UserId, Selected),
    Logout,
}

/// What the driver does once the responses are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Nothing,
    /// Start TLS (after the tagged OK).
    StartTls,
    /// Close the connection (after BYE and the tagged OK).
    Logout,
}

pub struct Outcome {
    pub responses: Vec<Response<'static>>,
    pub after: After,
    /// A FETCH sent batch by batch (its responses come from the job).
    pub job: Option<Box<super::read_cmds::FetchJob>>,
}

impl Outcome {
    pub fn one(status: Status<'static>) -> Outcome {
        Outcome {
            responses: vec![Response::Status(status)],
            after: After::Nothing,
            job: None,
        }
    }
}

pub struct Session {
    pub(super) ctx: Arc<ImapContext>,
    pub(super) state: State,
    pub(super) tls: bool,
    pub(super) ip: String,
    /// Holds one of the user's session slots while logged in.
    slot: Option<super::Slot>,
    /// CONDSTORE / QRESYNC as enabled by the client (RFC 7162).
    pub(super) resync: Resync,
    /// Drafts, Junk and Archive were made (if missing) at this session's
    /// first LIST.
    pub(super) specials_made: bool,
    /// UTF8=ACCEPT enabled (RFC 6855): mailbox names in UTF-8, not in
    /// modified UTF-7.
    pub(super) utf8: bool,
}

/// What ID tells about the server (RFC 2971 §3.3).
fn server_id() -> Option<Vec<(IString<'static>, NString<'static>)>> {
    let pair = |k: &'static str, v: &'static str| {
        Some((
            IString::try_from(k).ok()?,
            NString(Some(IString::try_from(v).ok()?)),
        ))
    };
    [
        pair("name", "Continuity"),
        pair("version", env!("CARGO_PKG_VERSION")),
    ]
    .into_iter()
    .collect()
}

impl Session {
    pub fn new(ctx: Arc<ImapContext>, tls: bool, ip: String) -> Session {
        Session {
            ctx,
            state: State::NotAuthenticated,
            tls,
            ip,
            slot: None,
            resync: Resync::Off,
            specials_made: false,
            utf8: false,
        }
    }

    pub fn user(&self) -> Option<UserId> {
        match &self.state {
            State::Authenticated(u) | State::Selected(u, _) => Some(*u),
            _ => None,
        }
    }

    pub fn is_authenticated(&self) -> bool {
        self.user().is_some()
    }

    pub fn is_selected(&self) -> bool {
        matches!(self.state, State::Selected(..))
    }

    /// Login is possible on this connection now (TLS, or allowed without).
    pub fn login_allowed(&self) -> bool {
        self.tls || self.ctx.allow_plaintext_auth
    }

    /// ENABLE (RFC 5161): CONDSTORE, QRESYNC (which implies CONDSTORE),
    /// UTF8=ACCEPT (RFC 6855); the ENABLED response names what this command
    /// turned on.
    fn enable(&mut self, tag: &Tag<'static>, asked: &[CapabilityEnable<'_>]) -> Outcome {
        let mut enabled: Vec<CapabilityEnable<'static>> = Vec::new();
        for c in asked {
            let want = match c {
                CapabilityEnable::CondStore => Resync::CondStore,
                CapabilityEnable::Utf8(Utf8Kind::Accept) => {
                    if !self.utf8 {
                        self.utf8 = true;
                        enabled.push(CapabilityEnable::Utf8(Utf8Kind::Accept));
                    }
                    continue;
                }
                other if other.to_string().eq_ignore_ascii_case("QRESYNC") => Resync::QResync,
                _ => continue,
            };
            if self.resync < want {
                self.resync = want;
                enabled.push(match want {
                    Resync::QResync => CapabilityEnable::from(
                        imap_next::imap_types::core::Atom::try_from("QRESYNC").expect("an atom"),
                    ),
                    _ => CapabilityEnable::CondStore,
                });
            }
        }
        Outcome {
            responses: vec![
                Response::Data(Data::Enabled {
                    capabilities: enabled,
                }),
                Response::Status(ok(tag, None, "ENABLE completed")),
            ],
            after: After::Nothing,
            job: None,
        }
    }

    pub fn capabilities(&self) -> Vec1<Capability<'static>> {
        let mut c = vec![Capability::Imap4Rev1];
        if !self.is_authenticated() {
            if !self.tls && self.ctx.tls_available {
                c.push(Capability::StartTls);
            }
            if self.login_allowed() {
                c.push(Capability::Auth(AuthMechanism::Plain));
                c.push(Capability::SaslIr);
            } else {
                c.push(Capability::LoginDisabled);
            }
        }
        c.extend([
            Capability::Idle,
            Capability::UidPlus,
            Capability::Unselect,
            Capability::Move,
            Capability::Id,
            Capability::Namespace,
            Capability::LiteralPlus,
            Capability::Enable,
            Capability::CondStore,
            Capability::QResync,
            Capability::Utf8(Utf8Kind::Accept),
        ]);
        if let Ok(a) = imap_next::imap_types::core::Atom::try_from("SPECIAL-USE") {
            c.push(Capability::from(a));
        }
        Vec1::try_from(c).unwrap_or_else(|_| Vec1::from(Capability::Imap4Rev1))
    }

    pub fn greeting(&self) -> Greeting<'static> {
        Greeting {
            kind: GreetingKind::Ok,
            code: Some(Code::Capability(self.capabilities())),
            text: text(&format!("{} Continuity IMAP ready", self.ctx.hostname)),
        }
    }

    /// Check credentials; on success the session is authenticated.
    pub async fn login(&mut self, tag: &Tag<'static>, user: &str, password: &str) -> Outcome {
        if self.is_authenticated() {
            return Outcome::one(bad(tag, "Already authenticated"));
        }
        if !self.login_allowed() {
            return Outcome::one(no(tag, None, "LOGIN is disabled until STARTTLS"));
        }
        let account = match self
            .ctx
            .auth
            .verify_user(user, password, &self.ip, crate::auth::Channel::Imap)
            .await
        {
            Ok(a) => a,
            Err(LoginError::Invalid) => {
                return Outcome::one(no(tag, code("AUTHENTICATIONFAILED"), "Invalid credentials"))
            }
            Err(LoginError::AppPasswordNeeded) => {
                return Outcome::one(no(
                    tag,
                    code("AUTHENTICATIONFAILED"),
                    "This account has a second factor: log in with an app password (made in the webmail's Settings)",
                ))
            }
            Err(LoginError::Throttled) => {
                return Outcome::one(no(
                    tag,
                    code("UNAVAILABLE"),
                    "Too many failed attempts, try again later",
                ))
            }
            Err(LoginError::NotCovered) => {
                return Outcome::one(no(
                    tag,
                    code("AUTHORIZATIONFAILED"),
                    "The Continuity Service is not enabled for this account",
                ))
            }
            Err(LoginError::Unavailable) => {
                return Outcome::one(no(
                    tag,
                    code("UNAVAILABLE"),
                    "Temporary failure, try again later",
                ))
            }
        };
        let Some(slot) = self.ctx.take_slot(account.user) else {
            return Outcome::one(no(tag, code("LIMIT"), "Too many sessions for this account"));
        };
        self.slot = Some(slot);
        self.state = State::Authenticated(account.user);
        Outcome::one(ok(
            tag,
            Some(Code::Capability(self.capabilities())),
            "Logged in",
        ))
    }

    /// One command (AUTHENTICATE and IDLE are driven by [`super`]).
    pub async fn command(&mut self, cmd: Command<'static>) -> Outcome {
        let tag = cmd.tag.clone();
        match cmd.body {
            CommandBody::Capability => Outcome {
                responses: vec![
                    Response::Data(Data::Capability(self.capabilities())),
                    Response::Status(ok(&tag, None, "CAPABILITY completed")),
                ],
                after: After::Nothing,
                job: None,
            },
            // RFC 2971: in any state; what the client says is not kept
            // (nor logged: it can be long and is the client's to tell)
            CommandBody::Id { .. } => Outcome {
                responses: vec![
                    Response::Data(Data::Id {
                        parameters: server_id(),
                    }),
                    Response::Status(ok(&tag, None, "ID completed")),
                ],
                after: After::Nothing,
                job: None,
            },
            CommandBody::Noop | CommandBody::Check => {
                let mut responses = self.changes().await;
                responses.push(Response::Status(ok(&tag, None, "NOOP completed")));
                Outcome {
                    responses,
                    after: After::Nothing,
                    job: None,
                }
            }
            CommandBody::Logout => {
                self.state = State::Logout;
                self.slot = None;
                Outcome {
                    responses: vec![
                        Response::Status(bye("Continuity IMAP logging out")),
                        Response::Status(ok(&tag, None, "LOGOUT completed")),
                    ],
                    after: After::Logout,
                    job: None,
                }
            }
            CommandBody::StartTLS => {
                if self.tls {
                    return Outcome::one(bad(&tag, "TLS is already active"));
                }
                if !self.ctx.tls_available {
                    return Outcome::one(no(&tag, None, "STARTTLS is not available"));
                }
                if self.is_authenticated() {
                    return Outcome::one(bad(&tag, "STARTTLS is only allowed before login"));
                }
                Outcome {
                    responses: vec![Response::Status(ok(
                        &tag,
                        None,
                        "Begin TLS negotiation now",
                    ))],
                    after: After::StartTls,
                    job: None,
                }
            }
            CommandBody::Login { username, password } => {
                let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                let pass = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                self.login(&tag, &user, &pass).await
            }
            body if !self.is_authenticated() => {
                let _ = body;
                Outcome::one(bad(&tag, "Log in first (LOGIN or AUTHENTICATE)"))
            }
            CommandBody::Select {
                mailbox,
                parameters,
            } => self.select(&tag, &mailbox, &parameters, false).await,
            CommandBody::Examine {
                mailbox,
                parameters,
            } => self.select(&tag, &mailbox, &parameters, true).await,
            CommandBody::Enable { capabilities } => self.enable(&tag, capabilities.as_ref()),
            CommandBody::List {
                reference,
                mailbox_wildcard,
            } => self.list(&tag, &reference, &mailbox_wildcard, false).await,
            CommandBody::Lsub {
                reference,
                mailbox_wildcard,
            } => self.list(&tag, &reference, &mailbox_wildcard, true).await,
            CommandBody::Status {
                mailbox,
                item_names,
            } => self.status(&tag, &mailbox, &item_names).await,
            CommandBody::Namespace => super::mailboxes::namespace(&tag),
            CommandBody::Subscribe { mailbox } => self.subscribe(&tag, &mailbox, true).await,
            CommandBody::Unsubscribe { mailbox } => self.subscribe(&tag, &mailbox, false).await,
            CommandBody::Create { mailbox } => self.create(&tag, &mailbox).await,
            CommandBody::Delete { mailbox } => self.delete(&tag, &mailbox).await,
            CommandBody::Rename { from, to } => self.rename(&tag, &from, &to).await,
            CommandBody::Append {
                mailbox,
                flags,
                date,
                message,
            } => self.append(&tag, &mailbox, &flags, date, &message).await,
            body => match self.state {
                State::Selected(..) => super::selected_cmds::run(self, &tag, body).await,
                _ => Outcome::one(bad(&tag, "Select a mailbox first")),
            },
        }
    }
}
