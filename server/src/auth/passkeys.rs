//! Passkeys and security keys (WebAuthn, with webauthn-rs) as a second
//! factor beside TOTP, for webmail users and administrators.
//!
//! - The relying party is the service's public address (`web.public_url`):
//!   its host names the passkeys, and only pages of that origin can use
//!   them. A browser makes no passkey for an IP address, so a service
//!   reached by address only offers none (the section says why).
//! - Registration, from the account's security section: the options are
//!   made and the ceremony's state kept in the database (five minutes, one
//!   per account), so the browser's answer may reach any node; the answer
//!   is checked (challenge, origin, user verification) and the passkey
//!   kept with its name. A first factor gets its recovery codes here.
//! - Login: after the password, the login's challenge (see
//!   [`super::second_factor`]) may be finished by a passkey instead of a
//!   code: the assertion's options are made for the account's passkeys,
//!   its state kept on the challenge, and the signed answer checked
//!   (signature, origin, user verification, counter). Answers that fail
//!   count like wrong codes: throttled, and five end the login.

use webauthn_rs::prelude::{
    CredentialID, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::second_factor::{new_codes, CodeError, Owner, ISSUER};
use super::{ms, token, Auth, NewSession};
use crate::store::StoreError;

/// How long a ceremony waits for the browser's answer.
const CEREMONY_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// A passkey's name: what its owner calls the device.
pub const NAME_MAX: usize = 60;

/// Why a registration did not keep a passkey.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyError {
    /// The service is reached by an IP address: no passkey can name it.
    #[error("passkeys need the service to be reached by a name (web.public_url)")]
    NotHere,
    #[error("a passkey needs a name of 1 to 60 characters")]
    Name,
    /// No ceremony under way (too old, or answered already).
    #[error("the passkey request expired; try again")]
    Expired,
    /// The browser's answer did not check out.
    #[error("the passkey was not accepted")]
    Refused,
    #[error("this passkey is registered already")]
    Already,
    #[error("the service is temporarily unavailable")]
    Unavailable,
}

impl From<StoreError> for PasskeyError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "passkey store operation failed");
        PasskeyError::Unavailable
    }
}

/// The relying party of `public_url`, when its host is a name (a browser
/// refuses passkeys for an IP address).
pub fn relying_party(public_url: &str) -> Option<Webauthn> {
    let url = Url::parse(public_url).ok()?;
    let id = url.domain()?.to_string();
    WebauthnBuilder::new(&id, &url)
        .ok()?
        .rp_name(ISSUER)
        .timeout(CEREMONY_TTL)
        .build()
        .ok()
}

/// The WebAuthn user handle of an account: stable, and without its
/// address or number in clear.
fn user_handle(owner: Owner) -> Uuid {
    let h = token::sha256(format!("continuity passkey user {owner:?}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    Uuid::from_bytes(b)
}

/// A passkey's name as given, trimmed, or `None` when unfit.
fn passkey_name(name: &str) -> Option<&str> {
    let name = name.trim();
    (!name.is_empty() && name.chars().count() <= NAME_MAX && !name.chars().any(char::is_control))
        .then_some(name)
}

impl Auth {
    /// Whether passkeys can be used here (see [`relying_party`]).
    pub fn passkeys_here(&self) -> bool {
        self.webauthn.is_some()
    }

    fn owner_passkeys(rows: &[crate::store::passkeys::PasskeyRow]) -> Vec<Passkey> {
        rows.iter()
            .filter_map(|r| match serde_json::from_str::<Passkey>(&r.passkey) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!(id = r.id, error = %e, "a stored passkey does not parse");
                    None
                }
            })
            .collect()
    }

    /// Begin registering a passkey for `owner` (`account`: the name the
    /// browser shows): the creation options, JSON, for the browser.
    pub async fn passkey_registration_start(
        &self,
        owner: Owner,
        account: &str,
    ) -> Result<String, PasskeyError> {
        let rp = self.webauthn.as_ref().ok_or(PasskeyError::NotHere)?;
        let exclude: Vec<CredentialID> = self
            .store
            .passkeys(owner)
            .await?
            .into_iter()
            .map(|r| CredentialID::from(r.credential_id))
            .collect();
        let (options, state) = rp
            .start_passkey_registration(user_handle(owner), account, account, Some(exclude))
            .map_err(|e| {
                tracing::error!(error = %e, "passkey registration options not made");
                PasskeyError::Unavailable
            })?;
        let state = serde_json::to_string(&state).map_err(|_| PasskeyError::Unavailable)?;
        self.store
            .begin_passkey_registration(owner, &state, self.clock.now() + ms(CEREMONY_TTL))
            .await?;
        serde_json::to_string(&options).map_err(|_| PasskeyError::Unavailable)
    }

    /// Finish a registration with the browser's answer (`credential`,
    /// JSON): the passkey is kept as `name`. When it is the account's
    /// first factor, its recovery codes (to show once).
    pub async fn passkey_registration_finish(
        &self,
        owner: Owner,
        name: &str,
        credential: &str,
    ) -> Result<Option<Vec<String>>, PasskeyError> {
        let rp = self.webauthn.as_ref().ok_or(PasskeyError::NotHere)?;
        let name = passkey_name(name).ok_or(PasskeyError::Name)?;
        let state = self
            .store
            .take_passkey_registration(owner, self.clock.now())
            .await?
            .ok_or(PasskeyError::Expired)?;
        let state: PasskeyRegistration =
            serde_json::from_str(&state).map_err(|_| PasskeyError::Expired)?;
        let answer: RegisterPublicKeyCredential =
            serde_json::from_str(credential).map_err(|_| PasskeyError::Refused)?;
        // an authenticator that ignored the list of those it holds
        // already (webauthn-rs refuses it, under another name)
        let known = self.store.passkeys(owner).await?;
        if known
            .iter()
            .any(|k| k.credential_id.as_slice() == answer.raw_id.as_slice())
        {
            return Err(PasskeyError::Already);
        }
        let passkey = rp
            .finish_passkey_registration(&answer, &state)
            .map_err(|e| {
                tracing::info!(owner = ?owner, error = %e, "passkey registration refused");
                PasskeyError::Refused
            })?;
        let json = serde_json::to_string(&passkey).map_err(|_| PasskeyError::Unavailable)?;
        let first = !self.store.second_factor_on(owner).await?;
        let (shown, kept) = new_codes();
        let kept = first.then_some(kept.as_slice());
        if !self
            .store
            .insert_passkey(owner, name, passkey.cred_id().as_ref(), &json, kept)
            .await?
        {
            return Err(PasskeyError::Already);
        }
        tracing::info!(owner = ?owner, first, "passkey registered");
        Ok(first.then_some(shown))
    }

    /// The owner of a login that must set a factor up (`challenge`: its
    /// cookie), while it waits.
    async fn enrolling(&self, challenge: &str) -> Result<Option<Owner>, StoreError> {
        Ok(self
            .waiting_login(challenge, true)
            .await?
            .map(|(_, row)| row.owner))
    }

    /// Begin registering the first factor of a login that must set one up
    /// (see [`Auth::passkey_registration_start`]).
    pub async fn enrol_passkey_start(&self, challenge: &str) -> Result<String, PasskeyError> {
        let owner = self
            .enrolling(challenge)
            .await?
            .ok_or(PasskeyError::Expired)?;
        let account = match owner {
            Owner::User(u) => self.store.account(u).await?.map(|a| a.address),
            Owner::Admin(a) => self.store.admin(a).await?.map(|a| a.address),
        }
        .ok_or(PasskeyError::Expired)?;
        self.passkey_registration_start(owner, &account).await
    }

    /// Finish it: the passkey kept, the login done (its challenge spent)
    /// — the session, and the recovery codes to show once.
    pub async fn enrol_passkey_finish(
        &self,
        challenge: &str,
        name: &str,
        credential: &str,
        ip: &str,
    ) -> Result<(NewSession, Vec<String>), PasskeyError> {
        let owner = self
            .enrolling(challenge)
            .await?
            .ok_or(PasskeyError::Expired)?;
        let codes = self
            .passkey_registration_finish(owner, name, credential)
            .await?
            .unwrap_or_default();
        // the authenticator app's set-up the page also offered: not needed
        self.store.cancel_totp(owner).await?;
        match self
            .spend(&token::sha256(challenge.as_bytes()), owner, ip)
            .await
        {
            Ok(session) => Ok((session, codes)),
            Err(CodeError::Expired) => Err(PasskeyError::Expired),
            Err(_) => Err(PasskeyError::Unavailable),
        }
    }

    /// Whether the login of `challenge` may be finished with a passkey.
    pub async fn passkey_login_possible(&self, challenge: &str) -> Result<bool, StoreError> {
        if self.webauthn.is_none() {
            return Ok(false);
        }
        let Some((_, row)) = self.waiting_login(challenge, false).await? else {
            return Ok(false);
        };
        Ok(!self.store.passkeys(row.owner).await?.is_empty())
    }

    /// The assertion options, JSON, for the login of `challenge` (its
    /// state kept on the challenge).
    pub async fn passkey_login_start(&self, challenge: &str) -> Result<String, CodeError> {
        let store_down = |e: StoreError| {
            tracing::error!(error = %e, "passkey login lookup failed");
            CodeError::Unavailable
        };
        let Some((id, row)) = self
            .waiting_login(challenge, false)
            .await
            .map_err(store_down)?
        else {
            return Err(CodeError::Expired);
        };
        let rp = self.webauthn.as_ref().ok_or(CodeError::NoPasskey)?;
        let rows = self.store.passkeys(row.owner).await.map_err(store_down)?;
        let keys = Self::owner_passkeys(&rows);
        if keys.is_empty() {
            return Err(CodeError::NoPasskey);
        }
        let (options, state) = rp.start_passkey_authentication(&keys).map_err(|e| {
            tracing::error!(error = %e, "passkey login options not made");
            CodeError::Unavailable
        })?;
        let state = serde_json::to_string(&state).map_err(|_| CodeError::Unavailable)?;
        if !self
            .store
            .set_challenge_passkey(&id, &state)
            .await
            .map_err(store_down)?
        {
            return Err(CodeError::Expired);
        }
        serde_json::to_string(&options).map_err(|_| CodeError::Unavailable)
    }

    /// The login's second step by passkey: the browser's signed answer
    /// (`credential`, JSON) to the options of [`Auth::passkey_login_start`].
    pub async fn passkey_second_step(
        &self,
        challenge: &str,
        credential: &str,
        ip: &str,
    ) -> Result<NewSession, CodeError> {
        let store_down = |e: StoreError| {
            tracing::error!(error = %e, "passkey login failed in the store");
            CodeError::Unavailable
        };
        let Some((id, row)) = self
            .waiting_login(challenge, false)
            .await
            .map_err(store_down)?
        else {
            return Err(CodeError::Expired);
        };
        let owner = row.owner;
        let rp = self.webauthn.as_ref().ok_or(CodeError::NoPasskey)?;
        let attempt = self.code_attempt(owner, ip).await?;
        let state: Option<PasskeyAuthentication> = row
            .passkey_state
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok());
        let answer: Option<PublicKeyCredential> = serde_json::from_str(credential).ok();
        let verified = match (state, answer) {
            (Some(state), Some(answer)) => rp
                .finish_passkey_authentication(&answer, &state)
                .map_err(|e| tracing::info!(owner = ?owner, %ip, error = %e, "passkey refused"))
                .ok(),
            _ => None,
        };
        if let Some(result) = verified {
            let rows = self.store.passkeys(owner).await.map_err(store_down)?;
            let used = rows
                .iter()
                .find(|r| r.credential_id.as_slice() == result.cred_id().as_ref());
            if let Some(used) = used {
                attempt.succeeded();
                if let Ok(mut key) = serde_json::from_str::<Passkey>(&used.passkey) {
                    key.update_credential(&result);
                    if let Ok(json) = serde_json::to_string(&key) {
                        self.store
                            .passkey_used(used.id, &json)
                            .await
                            .map_err(store_down)?;
                    }
                }
                return self.spend(&id, owner, ip).await;
            }
        }
        tracing::info!(owner = ?owner, %ip, "second factor: passkey not accepted");
        Err(self.failed_try(&id).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_public_address_when_it_is_a_name() {
        assert!(relying_party("https://mail.example.com").is_some());
        assert!(relying_party("http://localhost:8080").is_some());
        assert!(relying_party("http://127.0.0.1:8080").is_none());
        assert!(relying_party("http://[::1]:8080").is_none());
        assert!(relying_party("not a url").is_none());
    }

    #[test]
    fn names_and_handles() {
        assert_eq!(passkey_name("  Laptop "), Some("Laptop"));
        assert_eq!(passkey_name(""), None);
        assert_eq!(passkey_name("a\nb"), None);
        assert_eq!(passkey_name(&"x".repeat(61)), None);
        assert_eq!(passkey_name(&"é".repeat(60)), Some("é".repeat(60).as_str()));
        let a = user_handle(Owner::User(crate::store::UserId(1)));
        assert_eq!(a, user_handle(Owner::User(crate::store::UserId(1))));
        assert_ne!(a, user_handle(Owner::Admin(1)));
    }
}
