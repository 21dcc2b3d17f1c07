//! The second factor: TOTP codes (RFC 6238, 6 digits, 30 s, one step of
//! drift either way), recovery codes, the login's second step, and app
//! passwords for mail apps.
//!
//! - Enrolment: a random 160-bit secret is kept unconfirmed while its QR
//!   code is shown; the first right code confirms it and gives ten
//!   recovery codes (shown once, kept as SHA-256).
//! - Login: a right password for an account with a confirmed factor gives
//!   a *challenge* (a random id in a short-lived cookie, its hash in the
//!   database, so any node can finish it) instead of a session. A right
//!   code or an unused recovery code finishes it once; wrong codes are
//!   throttled like passwords, and five on one challenge end it.
//! - A code is accepted once: its time step must be newer than the last
//!   one taken (compare-and-set in the database).
//! - App passwords: 80 random bits, shown once, kept as SHA-256. A user
//!   with a second factor opens IMAP and submission only with one of them.

use totp_rs::{Builder, Secret, Totp};

use super::{ms, token, unavailable, Auth, Channel, LoginError, NewSession, PasswordError};
pub use crate::store::second_factor::Owner;
use crate::store::second_factor::{AppPasswordRow, ChallengeRow};
use crate::store::{StoreError, UserId};

/// The name mail and authenticator apps show beside the account.
pub const ISSUER: &str = "Continuity";
/// How long a login waits for its second step.
const CHALLENGE_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// Wrong codes one challenge takes before the password is asked again.
const CHALLENGE_TRIES: i64 = 5;
/// Recovery codes given at a time.
pub const RECOVERY_CODES: usize = 10;
/// A used app password's last use is written at most this often from one
/// address (mail apps log in every few minutes).
const APP_TOUCH_EVERY_MS: i64 = 60_000;
/// Characters of codes and app passwords: no 0/o, 1/l (32, so each byte
/// gives 5 unbiased bits).
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// What an enrolment not yet confirmed shows: the secret as text (typed
/// by hand into an app), the `otpauth://` URI, and its QR code as SVG.
#[derive(Debug, Clone)]
pub struct TotpSetup {
    pub secret: String,
    pub uri: String,
    pub qr_svg: String,
}

/// Why a code was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("wrong code")]
    Wrong,
    /// The login is gone (too old, too many wrong codes, already used):
    /// the password must be typed again.
    #[error("the login expired; type the password again")]
    Expired,
    #[error("too many failed attempts; wait a few minutes")]
    Throttled,
    /// A passkey was asked for where there is none (or none can work).
    #[error("no passkey can finish this login")]
    NoPasskey,
    #[error("the service is temporarily unavailable")]
    Unavailable,
}

fn store_down(e: StoreError) -> CodeError {
    tracing::error!(error = %e, "second factor lookup failed");
    CodeError::Unavailable
}

/// `n` random characters of [`ALPHABET`].
fn random_chars(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in token::random_bytes::<16>() {
            if out.len() < n {
                out.push(ALPHABET[(b & 31) as usize] as char);
            }
        }
    }
    out
}

/// `abcd-efgh-…`: groups of four, easier to read and type.
fn grouped(s: &str) -> String {
    s.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// A code or app password as typed, spaces and dashes left out.
fn normalized(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn totp(secret: &[u8], account: &str) -> Option<Totp> {
    Builder::new()
        .with_secret(Secret::from(secret.to_vec()))
        .with_issuer(Some(ISSUER))
        .with_account_name(account.replace(':', ""))
        .build()
        .ok()
}

/// New recovery codes: as shown, and their hashes as kept.
pub(super) fn new_codes() -> (Vec<String>, Vec<Vec<u8>>) {
    (0..RECOVERY_CODES)
        .map(|_| {
            let raw = random_chars(12);
            let hash = token::sha256(raw.as_bytes());
            (grouped(&raw), hash)
        })
        .unzip()
}

/// The QR code of `uri`, as an SVG document.
fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

impl Auth {
    /// The second step is done: a session for the challenge's owner.
    async fn finish(&self, owner: Owner, ip: &str) -> Result<NewSession, CodeError> {
        let cookie = self
            .create(owner.kind(), owner.id(), ip)
            .await
            .map_err(store_down)?;
        tracing::info!(owner = ?owner, %ip, "login (second factor)");
        Ok(NewSession {
            cookie,
            user: UserId(owner.id()),
            admin: matches!(owner, Owner::Admin(_)),
        })
    }

    /// A login whose password was right: a session at once, or, when the
    /// account has a second factor, a challenge (the cookie to carry to
    /// the second step).
    pub(super) async fn session_or_challenge(
        &self,
        owner: Owner,
        ip: &str,
    ) -> Result<super::LoginStep, LoginError> {
        let failed = |e: StoreError| {
            tracing::error!(error = %e, "login failed in the store");
            LoginError::Unavailable
        };
        let admin = matches!(owner, Owner::Admin(_));
        let on = self.store.second_factor_on(owner).await.map_err(failed)?;
        if !on && self.second_factor_required(owner).await.map_err(failed)? {
            // required, and none yet: the second step sets one up
            self.begin_totp(owner).await.map_err(failed)?;
            let challenge = self.challenge(owner, ip, true).await.map_err(failed)?;
            tracing::info!(owner = ?owner, %ip, "password right; a second factor is required: set up asked");
            return Ok(super::LoginStep::Enrol { challenge, admin });
        }
        if on {
            let challenge = self.challenge(owner, ip, false).await.map_err(failed)?;
            tracing::info!(owner = ?owner, %ip, "password right; second factor asked");
            return Ok(super::LoginStep::Code { challenge, admin });
        }
        let cookie = self
            .create(owner.kind(), owner.id(), ip)
            .await
            .map_err(failed)?;
        Ok(super::LoginStep::Session(NewSession {
            cookie,
            user: UserId(owner.id()),
            admin,
        }))
    }

    /// A new challenge (`enrol`: its second step sets a factor up); the
    /// cookie that carries it.
    async fn challenge(&self, owner: Owner, ip: &str, enrol: bool) -> Result<String, StoreError> {
        let cookie = token::random_token();
        self.store
            .insert_challenge(
                &token::sha256(cookie.as_bytes()),
                owner,
                ip,
                self.clock.now() + ms(CHALLENGE_TTL),
                enrol,
            )
            .await?;
        Ok(cookie)
    }

    /// The login waiting under `challenge` (its cookie) for its second
    /// step (`enrol`: a set-up): its id and row, unless gone or expired.
    pub(super) async fn waiting_login(
        &self,
        challenge: &str,
        enrol: bool,
    ) -> Result<Option<(Vec<u8>, ChallengeRow)>, StoreError> {
        if challenge.is_empty() || challenge.len() > 100 {
            return Ok(None);
        }
        let id = token::sha256(challenge.as_bytes());
        Ok(self
            .store
            .challenge(&id)
            .await?
            .filter(|c| c.expires_at > self.clock.now() && c.enrol == enrol)
            .map(|row| (id, row)))
    }

    /// A second step's try, throttled per account and source like
    /// passwords.
    pub(super) async fn code_attempt(
        &self,
        owner: Owner,
        ip: &str,
    ) -> Result<super::throttle::Attempt<'_>, CodeError> {
        match self
            .begin(&format!("code:{owner:?}"), ip, Channel::SecondFactor)
            .await
        {
            Ok(a) => Ok(a),
            Err(LoginError::Throttled) => Err(CodeError::Throttled),
            Err(_) => Err(CodeError::Unavailable),
        }
    }

    /// A second step that failed, counted on its login: `Wrong`, or
    /// `Expired` once there were too many (the login is gone).
    pub(super) async fn failed_try(&self, id: &[u8]) -> CodeError {
        match self.store.challenge_failed(id).await {
            Ok(n) if n >= CHALLENGE_TRIES => {
                let _ = self.store.delete_challenge(id).await;
                CodeError::Expired
            }
            Ok(_) => CodeError::Wrong,
            Err(e) => store_down(e),
        }
    }

    /// The login done: its challenge spent (one login per challenge, even
    /// if two answers raced here), its session.
    pub(super) async fn spend(
        &self,
        id: &[u8],
        owner: Owner,
        ip: &str,
    ) -> Result<NewSession, CodeError> {
        if !self.store.delete_challenge(id).await.map_err(store_down)? {
            return Err(CodeError::Expired);
        }
        self.finish(owner, ip).await
    }

    /// The login's second step: a TOTP code or an unused recovery code.
    pub async fn second_step(
        &self,
        challenge: &str,
        code: &str,
        ip: &str,
    ) -> Result<NewSession, CodeError> {
        let Some((id, row)) = self
            .waiting_login(challenge, false)
            .await
            .map_err(store_down)?
        else {
            return Err(CodeError::Expired);
        };
        let owner = row.owner;
        let attempt = self.code_attempt(owner, ip).await?;
        if self.code_ok(owner, code).await? {
            attempt.succeeded();
            return self.spend(&id, owner, ip).await;
        }
        tracing::info!(owner = ?owner, %ip, "second factor: wrong code");
        Err(self.failed_try(&id).await)
    }

    /// Whether `owner` must have a second factor: every administrator when
    /// the operator says so (`web.admins_second_factor`), a user when their
    /// domain's admins do.
    pub async fn second_factor_required(&self, owner: Owner) -> Result<bool, StoreError> {
        match owner {
            Owner::Admin(_) => Ok(self.admins_second_factor),
            Owner::User(u) => self.store.second_factor_required(u).await,
        }
    }

    /// The login whose second step sets a factor up: its owner and what
    /// the page shows (the QR code is served apart).
    pub async fn enrolment(
        &self,
        challenge: &str,
    ) -> Result<Option<(Owner, TotpSetup)>, StoreError> {
        let Some((_, row)) = self.waiting_login(challenge, true).await? else {
            return Ok(None);
        };
        let account = match row.owner {
            Owner::User(u) => self.store.account(u).await?.map(|a| a.address),
            Owner::Admin(a) => self.store.admin(a).await?.map(|a| a.address),
        };
        let Some(account) = account else {
            return Ok(None);
        };
        Ok(self
            .totp_setup(row.owner, &account)
            .await?
            .map(|s| (row.owner, s)))
    }

    /// The second step of a login that must set a factor up: the first
    /// code from the app confirms it; a session, and the recovery codes
    /// to show once.
    pub async fn enrol_step(
        &self,
        challenge: &str,
        code: &str,
        ip: &str,
    ) -> Result<(NewSession, Vec<String>), CodeError> {
        let Some((id, row)) = self
            .waiting_login(challenge, true)
            .await
            .map_err(store_down)?
        else {
            return Err(CodeError::Expired);
        };
        let owner = row.owner;
        let attempt = self.code_attempt(owner, ip).await?;
        match self.confirm_totp(owner, code).await {
            Ok(codes) => {
                attempt.succeeded();
                Ok((self.spend(&id, owner, ip).await?, codes))
            }
            Err(CodeError::Wrong) => Err(self.failed_try(&id).await),
            Err(e) => Err(e),
        }
    }

    /// A TOTP code not used before, or an unused recovery code (spent).
    async fn code_ok(&self, owner: Owner, typed: &str) -> Result<bool, CodeError> {
        let code = normalized(typed);
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            let Some(row) = self.store.totp(owner).await.map_err(store_down)? else {
                return Ok(false);
            };
            if !row.confirmed {
                return Ok(false);
            }
            let now = (self.clock.now() / 1000).max(0) as u64;
            let step = totp(&row.secret, "").and_then(|t| t.check(&code, now));
            return match step {
                Some(step) => self
                    .store
                    .take_totp_step(owner, step as i64)
                    .await
                    .map_err(store_down),
                None => Ok(false),
            };
        }
        if code.len() == 12 && code.bytes().all(|b| ALPHABET.contains(&b)) {
            return self
                .store
                .use_recovery_code(owner, &token::sha256(code.as_bytes()))
                .await
                .map_err(store_down);
        }
        Ok(false)
    }

    /// Start (or start again) an enrolment. False when a confirmed factor
    /// is already there.
    pub async fn begin_totp(&self, owner: Owner) -> Result<bool, StoreError> {
        let secret = token::random_bytes::<20>();
        self.store.begin_totp(owner, &secret).await
    }

    /// The enrolment under way, if any, for `account` (the address the
    /// authenticator app shows).
    pub async fn totp_setup(
        &self,
        owner: Owner,
        account: &str,
    ) -> Result<Option<TotpSetup>, StoreError> {
        let Some(row) = self.store.totp(owner).await?.filter(|r| !r.confirmed) else {
            return Ok(None);
        };
        let Some(t) = totp(&row.secret, account) else {
            return Ok(None);
        };
        let Ok(uri) = t.to_url() else {
            return Ok(None);
        };
        let secret = Secret::from(row.secret).to_base32();
        Ok(qr_svg(&uri).map(|qr_svg| TotpSetup {
            secret,
            uri,
            qr_svg,
        }))
    }

    /// Confirm the enrolment with a code from the app: the recovery codes
    /// to show once, or `Wrong`.
    pub async fn confirm_totp(&self, owner: Owner, code: &str) -> Result<Vec<String>, CodeError> {
        let Some(row) = self
            .store
            .totp(owner)
            .await
            .map_err(store_down)?
            .filter(|r| !r.confirmed)
        else {
            return Err(CodeError::Expired);
        };
        let now = (self.clock.now() / 1000).max(0) as u64;
        let code = normalized(code);
        let Some(step) = totp(&row.secret, "").and_then(|t| t.check(&code, now)) else {
            return Err(CodeError::Wrong);
        };
        let (shown, kept) = new_codes();
        if !self
            .store
            .confirm_totp(owner, step as i64, &kept)
            .await
            .map_err(store_down)?
        {
            return Err(CodeError::Expired);
        }
        tracing::info!(owner = ?owner, "second factor turned on");
        Ok(shown)
    }

    /// New recovery codes in place of the old ones (shown once).
    pub async fn new_recovery_codes(&self, owner: Owner) -> Result<Vec<String>, StoreError> {
        let (shown, kept) = new_codes();
        self.store.replace_recovery_codes(owner, &kept).await?;
        Ok(shown)
    }

    /// Turn the second factor off, knowing the account's password
    /// (throttled like a password change). An operator's reset needs none:
    /// [`Store::remove_second_factor`](crate::store::Store).
    pub async fn turn_off_second_factor(
        &self,
        owner: Owner,
        password: &str,
        ip: &str,
    ) -> Result<(), PasswordError> {
        let hash = match owner {
            Owner::User(u) => {
                self.store
                    .account(u)
                    .await
                    .map_err(unavailable)?
                    .ok_or(PasswordError::NoUser)?
                    .password_hash
            }
            Owner::Admin(a) => {
                self.store
                    .admin(a)
                    .await
                    .map_err(unavailable)?
                    .ok_or(PasswordError::NoUser)?
                    .password_hash
            }
        };
        let attempt = match self
            .begin(
                &format!("current-password:{owner:?}"),
                ip,
                Channel::PasswordChange,
            )
            .await
        {
            Ok(a) => a,
            Err(LoginError::Throttled) => return Err(PasswordError::Throttled),
            Err(_) => return Err(PasswordError::Unavailable),
        };
        let pw = password.to_string();
        let done = self.hash_checks.clone();
        let ok = super::hashing(move || super::check_hash(hash, &pw, &done))
            .await
            .unwrap_or(false);
        if !ok {
            return Err(PasswordError::Policy(vec![
                app::backend::PasswordProblem::WrongCurrent,
            ]));
        }
        attempt.succeeded();
        self.store
            .remove_second_factor(owner)
            .await
            .map_err(unavailable)?;
        tracing::info!(owner = ?owner, %ip, "second factor turned off");
        Ok(())
    }

    /// A new app password named `name` for `user`: the secret, to show once.
    pub async fn new_app_password(&self, user: UserId, name: &str) -> Result<String, StoreError> {
        let raw = random_chars(16);
        self.store
            .insert_app_password(user, name, &token::sha256(raw.as_bytes()))
            .await?;
        tracing::info!(%user, "app password made");
        Ok(grouped(&raw))
    }

    /// The user's app password `typed` is, if it is one (its use recorded).
    pub(super) async fn app_password(
        &self,
        user: UserId,
        typed: &str,
        ip: &str,
        with: Channel,
    ) -> Result<Option<AppPasswordRow>, StoreError> {
        let raw = normalized(typed);
        if raw.len() != 16 || !raw.bytes().all(|b| ALPHABET.contains(&b)) {
            return Ok(None);
        }
        let Some(row) = self
            .store
            .app_password_by_hash(user, &token::sha256(raw.as_bytes()))
            .await?
        else {
            return Ok(None);
        };
        let now = self.clock.now();
        let stale = row
            .last_used_at
            .is_none_or(|t| now - t >= APP_TOUCH_EVERY_MS);
        if stale
            || row.last_used_ip.as_deref() != Some(ip)
            || row.last_used_with.as_deref() != Some(with.name())
        {
            self.store
                .app_password_used(row.id, ip, with.name())
                .await?;
        }
        Ok(Some(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_and_grouped() {
        let (shown, kept) = new_codes();
        assert_eq!(shown.len(), RECOVERY_CODES);
        assert_eq!(kept.len(), RECOVERY_CODES);
        for s in &shown {
            assert_eq!(s.len(), 14, "{s}");
            assert_eq!(token::sha256(normalized(s).as_bytes()).len(), 32);
        }
        let mut unique = shown.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
    }

    #[test]
    fn typed_codes_are_normalized() {
        assert_eq!(normalized(" 123 456 "), "123456");
        assert_eq!(normalized("ABCD-efgh-2345"), "abcdefgh2345");
    }

    #[test]
    fn the_qr_code_is_an_svg_of_the_uri() {
        let t = totp(&[7u8; 20], "alice@example.com").expect("totp");
        let uri = t.to_url().expect("uri");
        assert!(
            uri.starts_with("otpauth://totp/Continuity:alice%40example.com?"),
            "{uri}"
        );
        let svg = qr_svg(&uri).expect("svg");
        assert!(svg.contains("<svg"), "{svg}");
    }
}
