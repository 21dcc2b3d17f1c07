//! How a password gets set: a set-password link issued, checked and
//! redeemed (signed, single use, superseded by a newer one), a change by
//! the user with the current password (guesses at it throttled like
//! logins), and an operator's set. Each checks the password policy and
//! ends the account's other sessions.

use app::backend::{LinkProblem, PasswordProblem};

use super::token::{self, LinkClaims};
use super::{check_hash, hashing, ms, password, unavailable, Auth, LoginError, PasswordError};
use crate::store::accounts::Account;
use crate::store::{StoreError, UserId};

impl Auth {
    /// Issue a set-password link for a user (it supersedes older ones).
    pub async fn issue_link(&self, user: UserId) -> Result<String, StoreError> {
        let secret = token::random_bytes::<{ token::SECRET_LEN }>();
        let expires_at = self.clock.now() + ms(self.link_ttl);
        let id = self
            .store
            .insert_password_token(user, &token::sha256(&secret), expires_at)
            .await?;
        let t = self.signer.sign(&LinkClaims {
            id,
            expires_at,
            secret,
        });
        Ok(format!("{}/set-password?t={t}", self.public_url))
    }

    /// Whose link is this, and can it still be used?
    pub async fn check_link(&self, token: &str) -> Result<Account, PasswordError> {
        let (_, account) = self.open_link(token).await?;
        Ok(account)
    }

    async fn open_link(&self, token: &str) -> Result<(LinkClaims, Account), PasswordError> {
        let claims = self
            .signer
            .open(token)
            .ok_or(PasswordError::Link(LinkProblem::Invalid))?;
        let row = self
            .store
            .password_token(claims.id)
            .await
            .map_err(unavailable)?
            .ok_or(PasswordError::Link(LinkProblem::Invalid))?;
        if !token::same(&row.secret_hash, &token::sha256(&claims.secret))
            || row.expires_at != claims.expires_at
        {
            return Err(PasswordError::Link(LinkProblem::Invalid));
        }
        if row.used_at.is_some() || row.superseded {
            return Err(PasswordError::Link(LinkProblem::Used));
        }
        if self.clock.now() >= row.expires_at {
            return Err(PasswordError::Link(LinkProblem::Expired));
        }
        let account = self
            .store
            .account(row.user)
            .await
            .map_err(unavailable)?
            .filter(|a| !a.disabled)
            .ok_or(PasswordError::Link(LinkProblem::Invalid))?;
        Ok((claims, account))
    }

    /// Hash a new password after checking the policy and the confirmation.
    async fn policy_hash(
        account: &Account,
        new: &str,
        confirm: &str,
    ) -> Result<String, PasswordError> {
        let mut problems = password::check_policy(new, &account.address, &account.display_name);
        if new != confirm {
            problems.push(PasswordProblem::Mismatch);
        }
        if !problems.is_empty() {
            return Err(PasswordError::Policy(problems));
        }
        let pw = new.to_string();
        hashing(move || password::hash(&pw))
            .await
            .ok_or(PasswordError::Unavailable)?
            .map_err(unavailable)
    }

    /// Set the password from a link: the link is spent and every session of
    /// the user ends.
    pub async fn redeem_link(
        &self,
        token: &str,
        new: &str,
        confirm: &str,
    ) -> Result<Account, PasswordError> {
        let (claims, account) = self.open_link(token).await?;
        let hash = Self::policy_hash(&account, new, confirm).await?;
        if !self
            .store
            .redeem_password_token(claims.id, &hash)
            .await
            .map_err(unavailable)?
        {
            return Err(PasswordError::Link(LinkProblem::Used));
        }
        tracing::info!(user = %account.user, "password set from a link");
        Ok(account)
    }

    /// Change a password knowing the current one. Other sessions end; the
    /// caller starts a fresh one.
    /// Guesses at the current password are throttled like logins (a
    /// session left open must not become a way to find it).
    pub async fn change_password(
        &self,
        user: UserId,
        current: &str,
        new: &str,
        confirm: &str,
        ip: &str,
    ) -> Result<Account, PasswordError> {
        let account = self
            .store
            .account(user)
            .await
            .map_err(unavailable)?
            .ok_or(PasswordError::NoUser)?;
        let attempt = match self
            .begin(
                &format!("current-password:{}", user.0),
                ip,
                super::Channel::PasswordChange,
            )
            .await
        {
            Ok(a) => a,
            Err(LoginError::Throttled) => return Err(PasswordError::Throttled),
            Err(_) => return Err(PasswordError::Unavailable),
        };
        let hash = account.password_hash.clone();
        let cur = current.to_string();
        let done = self.hash_checks.clone();
        let ok = hashing(move || check_hash(hash, &cur, &done))
            .await
            .unwrap_or(false);
        if !ok {
            return Err(PasswordError::Policy(vec![PasswordProblem::WrongCurrent]));
        }
        attempt.succeeded();
        let hash = Self::policy_hash(&account, new, confirm).await?;
        self.store
            .set_password_hash(user, &hash)
            .await
            .map_err(unavailable)?;
        tracing::info!(user = %user, "password changed");
        Ok(account)
    }

    /// Set a password directly (the CLI), with the same policy.
    pub async fn set_password(&self, address: &str, new: &str) -> Result<Account, PasswordError> {
        let account = self
            .store
            .account_by_address(address)
            .await
            .map_err(unavailable)?
            .ok_or(PasswordError::NoUser)?;
        let hash = Self::policy_hash(&account, new, new).await?;
        self.store
            .set_password_hash(account.user, &hash)
            .await
            .map_err(unavailable)?;
        Ok(account)
    }
}
