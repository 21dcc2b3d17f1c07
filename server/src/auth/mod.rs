//! Authentication: who is logged in, and how they got there.
//!
//! - [`password`]: argon2id hashing and the password policy (zxcvbn);
//! - [`token`]: random secrets, constant-time comparison, signed
//!   set-password links;
//! - [`throttle`]: failed logins counted per source, per account from a
//!   source and per account — the source is locked out, the account only
//!   slowed down;
//! - [`Auth`] (here): login, server-side sessions (idle and absolute
//!   timeouts, id rotated at every login, CSRF token per session), logout,
//!   issuing and redeeming set-password links, changing a password;
//! - [`reveal`]: credentials made for an administrator, shown once;
//! - `set_password`: how a password gets set — a signed link redeemed, a
//!   change with the current one, an operator's;
//! - `across_nodes`: login failures shared by the nodes of one database;
//! - [`second_factor`]: TOTP and recovery codes, the login's second step,
//!   app passwords for mail apps.
//!
//! Nothing here logs a password, a token or a session id.

mod across_nodes;
pub mod invite;
pub mod passkeys;
pub mod password;
pub mod reveal;
pub mod second_factor;
mod sessions;
mod set_password;
pub mod throttle;
pub mod token;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::backend::{LinkProblem, PasswordProblem};

use crate::config::WebConfig;
use crate::store::accounts::Account;
use crate::store::admins::AdminRow;
use crate::store::{now_ms, Store, StoreError, UserId};
use throttle::{Attempt, Throttle};
use token::LinkSigner;

/// The time sessions and links are judged by: the system's, or one a test
/// moves (so that timeouts are tested without waiting on the wall clock).
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<std::sync::atomic::AtomicI64>>);

impl Clock {
    /// A clock that stands still at `start_ms` until [`Clock::advance`].
    pub fn manual(start_ms: i64) -> Clock {
        Clock(Some(Arc::new(std::sync::atomic::AtomicI64::new(start_ms))))
    }

    /// Milliseconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        match &self.0 {
            None => now_ms(),
            Some(t) => t.load(Ordering::Relaxed),
        }
    }

    /// Move a manual clock on (the system's cannot be moved).
    pub fn advance(&self, d: Duration) {
        if let Some(t) = &self.0 {
            t.fetch_add(ms(d), Ordering::Relaxed);
        }
    }
}

/// A request's logged-in user, resolved from its session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authed {
    pub user: UserId,
    /// The session's CSRF token: every state-changing form must carry it.
    pub csrf: String,
}

/// A session just created by a login.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie value (only its hash is stored).
    pub cookie: String,
    pub user: UserId,
    /// An administrator's session (Control Panel): `user` is the admin id.
    pub admin: bool,
}

/// What a right password leads to.
#[derive(Debug, Clone)]
pub enum LoginStep {
    Session(NewSession),
    /// The account has a second factor: `challenge` is the cookie that
    /// carries the login to its second step.
    Code {
        challenge: String,
        admin: bool,
    },
    /// A second factor is required and the account has none: `challenge`
    /// carries the login to setting one up.
    Enrol {
        challenge: String,
        admin: bool,
    },
}

impl LoginStep {
    /// The session, when no second step was asked for.
    pub fn session(self) -> Option<NewSession> {
        match self {
            LoginStep::Session(s) => Some(s),
            LoginStep::Code { .. } | LoginStep::Enrol { .. } => None,
        }
    }
}

/// Where a password was typed: named in the logs and counted in
/// `/metrics` (`service` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The login page (webmail and Control Panel).
    Web,
    Imap,
    Submission,
    /// A domain's server relaying with its relay secret.
    Relay,
    /// The current password, to change it.
    PasswordChange,
    /// A login's second step (a TOTP or recovery code).
    SecondFactor,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Web,
        Channel::Imap,
        Channel::Submission,
        Channel::Relay,
        Channel::PasswordChange,
        Channel::SecondFactor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Imap => "imap",
            Channel::Submission => "submission",
            Channel::Relay => "relay",
            Channel::PasswordChange => "password_change",
            Channel::SecondFactor => "second_factor",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// Wrong address or password, unknown or disabled account, no password
    /// set: one message for all, so nobody learns which.
    #[error("invalid address or password")]
    Invalid,
    #[error("too many failed attempts; wait a few minutes")]
    Throttled,
    /// The password was right, but the Continuity Service does not cover
    /// this user (off for their domain, or not among its selected users).
    /// Said only after a correct password: nothing to enumerate.
    #[error("the Continuity Service is not enabled for this account")]
    NotCovered,
    /// IMAP or submission: the account's own password was right, but the
    /// account has a second factor, so only an app password opens them.
    #[error("this account has a second factor: use an app password")]
    AppPasswordNeeded,
    #[error("the service is temporarily unavailable")]
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the link cannot be used: {0:?}")]
    Link(LinkProblem),
    #[error("the password does not meet the policy: {0:?}")]
    Policy(Vec<PasswordProblem>),
    #[error("no such user")]
    NoUser,
    #[error("too many wrong passwords; wait a few minutes")]
    Throttled,
    #[error("the service is temporarily unavailable")]
    Unavailable,
}

fn unavailable<E: std::fmt::Display>(e: E) -> PasswordError {
    tracing::error!(error = %e, "password operation failed");
    PasswordError::Unavailable
}

/// The login and session service shared by the web and (later) IMAP.
pub struct Auth {
    store: Store,
    signer: LinkSigner,
    throttle: Throttle,
    pub session_idle: Duration,
    pub session_lifetime: Duration,
    pub link_ttl: Duration,
    pub public_url: String,
    pub secure_cookies: bool,
    /// Credentials made for an administrator, until their next page shows them.
    pub reveals: reveal::Reveals,
    /// Password hashes checked so far: a login costs the same whoever the
    /// address names (tests hold it to that).
    hash_checks: Arc<AtomicU64>,
    clock: Clock,
    /// On a shared database: this process's mark on the login failures it
    /// records for the other nodes (see `throttle.rs`).
    shared: Option<String>,
    /// Every administrator must have a second factor.
    admins_second_factor: bool,
    /// The passkeys' relying party (none when the service is reached by
    /// an IP address: see [`passkeys::relying_party`]).
    webauthn: Option<webauthn_rs::Webauthn>,
}

/// Password hashing at once, process-wide: each argon2id computation takes
/// 19 MiB, so a crowd logging in together queues here instead of holding
/// gigabytes (two cores do no more at once anyway).
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Run password hashing work off the async workers, a few at a time.
/// `None` only while the runtime shuts down.
async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _turn = HASHING.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

/// Check a password against a hash; without a hash, the same work against
/// a stand-in, and false. `done` counts the checks (see [`Auth::hash_checks`]).
fn check_hash(hash: Option<String>, password: &str, done: &AtomicU64) -> bool {
    done.fetch_add(1, Ordering::Relaxed);
    match hash {
        Some(h) => password::verify(&h, password),
        None => {
            password::dummy_verify(password);
            false
        }
    }
}

/// Sessions are "touched" (last_seen written) at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

impl Auth {
    /// Load (or create, the first time) the link-signing key.
    pub async fn new(store: Store, web: &WebConfig) -> Result<Auth, StoreError> {
        let key = store
            .server_key("link-signing", || token::random_bytes::<32>().to_vec())
            .await?;
        let mut throttle = Throttle::new(
            web.login_failures_per_account,
            web.login_failures_per_ip,
            web.login_window,
        );
        // several nodes may share a PostgreSQL database: failures are
        // counted across them
        let shared = match store.backend() {
            crate::store::db::Backend::Sqlite => None,
            crate::store::db::Backend::Postgres => {
                let origin = token::random_token();
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                throttle = throttle.with_log(tx);
                tokio::spawn(across_nodes::share_login_events(
                    store.clone(),
                    origin.clone(),
                    rx,
                    web.login_window,
                ));
                Some(origin)
            }
        };
        Ok(Auth {
            signer: LinkSigner::new(&key),
            throttle,
            shared,
            store,
            session_idle: web.session_idle,
            session_lifetime: web.session_lifetime,
            link_ttl: web.password_link_ttl,
            public_url: web.public_url.clone(),
            secure_cookies: web.secure_cookies,
            reveals: reveal::Reveals::default(),
            hash_checks: Arc::default(),
            clock: Clock::default(),
            admins_second_factor: web.admins_second_factor,
            webauthn: passkeys::relying_party(&web.public_url),
        })
    }

    /// Judge sessions and links by `clock` (tests).
    pub fn with_clock(mut self, clock: Clock) -> Auth {
        self.reveals = reveal::Reveals::with_clock(clock.clone());
        self.clock = clock;
        self
    }

    /// Password hashes checked since start (real or stand-in).
    pub fn hash_checks(&self) -> u64 {
        self.hash_checks.load(Ordering::Relaxed)
    }

    /// The throttle's account for what was typed: the user it names
    /// (whichever alias was typed), else the administrator, else the
    /// address itself.
    fn throttle_key(address: &str, user: Option<&Account>, admin: Option<&AdminRow>) -> String {
        match (user, admin) {
            (Some(a), _) => format!("user:{}", a.user.0),
            (None, Some(a)) => format!("admin:{}", a.id),
            (None, None) => format!("typed:{}", address.to_lowercase()),
        }
    }

    /// Count the attempt (before any password is checked) and wait out the
    /// account's slow-down, if any.
    async fn begin(&self, key: &str, ip: &str, what: Channel) -> Result<Attempt<'_>, LoginError> {
        // one attempt at a time per account and source: the others wait
        // their turn (a mail app logging in on several connections at once)
        let give_up = Instant::now() + Duration::from_secs(30);
        let elsewhere = self.failures_elsewhere(key, ip).await;
        let attempt = loop {
            match self.throttle.begin_with(key, ip, Instant::now(), elsewhere) {
                Ok(a) => break a,
                Err(throttle::Busy) if Instant::now() < give_up => {
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
                Err(_) => {
                    tracing::warn!(%ip, what = what.name(), "login throttled");
                    crate::metrics::login_throttled(what);
                    return Err(LoginError::Throttled);
                }
            }
        }
        .counted_as(what);
        if !attempt.delay.is_zero() {
            tracing::info!(%ip, what = what.name(), delay_ms = attempt.delay.as_millis() as u64, "login slowed down: the account is being guessed at");
            tokio::time::sleep(attempt.delay).await;
        }
        Ok(attempt)
    }

    /// Check a mail user's address (or alias) and password, with the same
    /// throttles as the web login, for a protocol that keeps no web session
    /// (SMTP submission, IMAP). `proto` names it in the logs. Only users
    /// the Continuity Service covers get in.
    pub async fn verify_user(
        &self,
        address: &str,
        password: &str,
        ip: &str,
        proto: Channel,
    ) -> Result<Account, LoginError> {
        let address = address.trim();
        let account = self.store.account_by_address(address).await.map_err(|e| {
            tracing::error!(error = %e, "login lookup failed");
            LoginError::Unavailable
        })?;
        let attempt = self
            .begin(
                &Self::throttle_key(address, account.as_ref(), None),
                ip,
                proto,
            )
            .await?;
        let lookup = |e: StoreError| {
            tracing::error!(error = %e, "login lookup failed");
            LoginError::Unavailable
        };
        let live = account.as_ref().filter(|a| !a.disabled);
        let mut factor = false;
        if let Some(a) = live {
            // an app password: a hash lookup, no argon2id
            if self
                .app_password(a.user, password, ip, proto)
                .await
                .map_err(lookup)?
                .is_some()
            {
                attempt.succeeded();
                return Self::covered(a.clone(), ip, proto, "app password");
            }
            // a second factor on, or required of the user: only app
            // passwords open mail apps
            let owner = second_factor::Owner::User(a.user);
            factor = self.store.second_factor_on(owner).await.map_err(lookup)?
                || self.second_factor_required(owner).await.map_err(lookup)?;
        }
        let hash = live.and_then(|a| a.password_hash.clone());
        let pw = password.to_string();
        let done = self.hash_checks.clone();
        let ok = hashing(move || check_hash(hash, &pw, &done))
            .await
            .unwrap_or(false);
        let Some(account) = account.filter(|_| ok) else {
            tracing::info!(%ip, proto = proto.name(), "login failed");
            return Err(LoginError::Invalid);
        };
        attempt.succeeded();
        if factor {
            tracing::info!(user = %account.user, %ip, proto = proto.name(), "login refused: the account has a second factor, an app password is needed");
            return Err(LoginError::AppPasswordNeeded);
        }
        Self::covered(account, ip, proto, "password")
    }

    /// A user whose credentials were right gets in if the Continuity
    /// Service covers them.
    fn covered(
        account: Account,
        ip: &str,
        proto: Channel,
        with: &'static str,
    ) -> Result<Account, LoginError> {
        if !account.covered {
            tracing::info!(user = %account.user, %ip, proto = proto.name(), "login refused: not covered by the Continuity Service");
            return Err(LoginError::NotCovered);
        }
        tracing::info!(user = %account.user, %ip, proto = proto.name(), with, "login");
        Ok(account)
    }

    /// A domain's own server relaying through submission: its name and the
    /// relay secret `continuity domain relay --secret` printed (only the
    /// SHA-256 is kept; compared in constant time). Throttled like logins.
    pub async fn verify_relay_secret(
        &self,
        domain: &str,
        secret: &str,
        ip: &str,
    ) -> Result<crate::store::Domain, LoginError> {
        let key = format!("relay:{}", domain.trim().to_ascii_lowercase());
        let attempt = self.begin(&key, ip, Channel::Relay).await?;
        let unavailable = |e: StoreError| {
            tracing::error!(error = %e, "relay login lookup failed");
            LoginError::Unavailable
        };
        let found = match self
            .store
            .domain_by_name(domain)
            .await
            .map_err(unavailable)?
        {
            Some(d) => self
                .store
                .relay_secret_hash(d.id)
                .await
                .map_err(unavailable)?
                .map(|h| (d, h)),
            None => None,
        };
        let given = token::sha256(secret.as_bytes());
        match found {
            Some((d, hash)) if token::same(&hash, &given) => {
                attempt.succeeded();
                Ok(d)
            }
            _ => {
                tracing::info!(%ip, "relay login failed");
                Err(LoginError::Invalid)
            }
        }
    }

    /// Check an address and password; on success start a new session (a new
    /// random id: a session id known before login is never reused). The
    /// same work whoever the address names — an administrator, a user,
    /// both or nobody: both hashes are checked (a stand-in for a missing
    /// one), so the time taken tells nothing.
    pub async fn login(
        &self,
        address: &str,
        password: &str,
        ip: &str,
    ) -> Result<LoginStep, LoginError> {
        let address = address.trim();
        let lookup = |e: StoreError| {
            tracing::error!(error = %e, "login lookup failed");
            LoginError::Unavailable
        };
        // An administrator's address logs in to the Control Panel.
        let admin = self
            .store
            .admin_by_address(address)
            .await
            .map_err(lookup)?
            .filter(|a| !a.disabled);
        let account = self
            .store
            .account_by_address(address)
            .await
            .map_err(lookup)?;
        let key = Self::throttle_key(address, account.as_ref(), admin.as_ref());
        let attempt = self.begin(&key, ip, Channel::Web).await?;
        let admin_hash = admin.as_ref().and_then(|a| a.password_hash.clone());
        let user_hash = account
            .as_ref()
            .filter(|a| !a.disabled)
            .and_then(|a| a.password_hash.clone());
        let pw = password.to_string();
        let done = self.hash_checks.clone();
        let (admin_ok, user_ok) = hashing(move || {
            (
                check_hash(admin_hash, &pw, &done),
                check_hash(user_hash, &pw, &done),
            )
        })
        .await
        .unwrap_or((false, false));
        if let (true, Some(admin)) = (admin_ok, admin) {
            attempt.succeeded();
            tracing::info!(admin = admin.id, %ip, "administrator login");
            return self
                .session_or_challenge(second_factor::Owner::Admin(admin.id), ip)
                .await;
        }
        let Some(account) = account.filter(|_| user_ok) else {
            tracing::info!(%ip, "login failed");
            return Err(LoginError::Invalid);
        };
        attempt.succeeded();
        if !account.covered {
            tracing::info!(user = %account.user, %ip, "login refused: not covered by the Continuity Service");
            return Err(LoginError::NotCovered);
        }
        tracing::info!(user = %account.user, %ip, "login");
        self.session_or_challenge(second_factor::Owner::User(account.user), ip)
            .await
    }
}
