//! Second factors' rows: TOTP secrets, recovery codes, logins waiting for
//! their second step, and users' app passwords. The codes and their
//! checks are in [`crate::auth::second_factor`]; this module only keeps
//! rows. Every row belongs to one user or one administrator ([`Owner`]).

use super::{now_ms, Result, Store, UserId};
use crate::store::accounts::SessionKind;
use crate::store::db;

/// Whose second factor: a webmail user's or a Control Panel
/// administrator's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    User(UserId),
    Admin(i64),
}

impl Owner {
    /// The column that names this owner in every second-factor table.
    pub(super) fn column(self) -> &'static str {
        match self {
            Owner::User(_) => "user_id",
            Owner::Admin(_) => "admin_id",
        }
    }

    pub fn id(self) -> i64 {
        match self {
            Owner::User(u) => u.0,
            Owner::Admin(a) => a,
        }
    }

    /// The kind of session a completed login gives.
    pub fn kind(self) -> SessionKind {
        match self {
            Owner::User(_) => SessionKind::User,
            Owner::Admin(_) => SessionKind::Admin,
        }
    }

    pub(super) fn from_columns(user: Option<i64>, admin: Option<i64>) -> Option<Owner> {
        match (user, admin) {
            (Some(u), None) => Some(Owner::User(UserId(u))),
            (None, Some(a)) => Some(Owner::Admin(a)),
            _ => None,
        }
    }
}

/// A TOTP secret as stored.
#[derive(Debug, Clone)]
pub struct TotpRow {
    pub secret: Vec<u8>,
    /// A code was typed once to confirm the enrolment: logins ask for one.
    pub confirmed: bool,
    pub last_step: i64,
}

/// A login waiting for its second step.
#[derive(Debug, Clone)]
pub struct ChallengeRow {
    pub owner: Owner,
    pub expires_at: i64,
    pub failures: i64,
    /// The second step sets a factor up (one is required, none is there).
    pub enrol: bool,
    /// A passkey assertion asked for: its state (webauthn-rs, JSON).
    pub passkey_state: Option<String>,
}

/// An app password as its owner sees it (never its secret).
#[derive(Debug, Clone)]
pub struct AppPasswordRow {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub last_used_with: Option<String>,
}

pub(super) fn q(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

impl Store {
    /// The owner's TOTP secret, confirmed or still being enrolled.
    pub async fn totp(&self, owner: Owner) -> Result<Option<TotpRow>> {
        let row = db::query(q(format!(
            "SELECT totp_secret, confirmed_at IS NOT NULL, last_step FROM second_factors \
             WHERE {} = ?",
            owner.column()
        )))
        .bind(owner.id())
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(TotpRow {
                secret: r.try_get(0)?,
                confirmed: r.try_get(1)?,
                last_step: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// Whether logins of `owner` ask for a second factor: a confirmed
    /// TOTP secret or a passkey.
    pub async fn second_factor_on(&self, owner: Owner) -> Result<bool> {
        let c = owner.column();
        let r = db::query(q(format!(
            "SELECT EXISTS (SELECT 1 FROM second_factors WHERE {c} = ? AND confirmed_at IS NOT NULL) \
             OR EXISTS (SELECT 1 FROM passkeys WHERE {c} = ?)"
        )))
        .bind(owner.id())
        .bind(owner.id())
        .fetch_one(&self.read)
        .await?;
        Ok(r.try_get(0)?)
    }

    /// Start an enrolment with `secret`, replacing one not confirmed.
    /// False if a confirmed factor is there (it must be turned off first).
    pub async fn begin_totp(&self, owner: Owner, secret: &[u8]) -> Result<bool> {
        let mut tx = self.read.begin().await?;
        db::query(q(format!(
            "DELETE FROM second_factors WHERE {} = ? AND confirmed_at IS NULL",
            owner.column()
        )))
        .bind(owner.id())
        .execute(&mut tx)
        .await?;
        let n = db::query(q(format!(
            "INSERT INTO second_factors ({}, totp_secret, created_at) VALUES (?, ?, ?) \
             ON CONFLICT DO NOTHING",
            owner.column()
        )))
        .bind(owner.id())
        .bind(secret)
        .bind(now_ms())
        .execute(&mut tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Confirm the enrolment (a code for `step` was typed) and keep its
    /// recovery codes, in one transaction. False if there was no
    /// enrolment to confirm (already confirmed, or turned off meanwhile).
    pub async fn confirm_totp(&self, owner: Owner, step: i64, codes: &[Vec<u8>]) -> Result<bool> {
        let mut tx = self.read.begin().await?;
        let n = db::query(q(format!(
            "UPDATE second_factors SET confirmed_at = ?, last_step = ? \
             WHERE {} = ? AND confirmed_at IS NULL",
            owner.column()
        )))
        .bind(now_ms())
        .bind(step)
        .bind(owner.id())
        .execute(&mut tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        replace_codes(&mut tx, owner, codes).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Take a code's time step: true only for a step newer than any taken
    /// before (compare-and-set, so that one code opens one login even
    /// when two nodes check it at once).
    pub async fn take_totp_step(&self, owner: Owner, step: i64) -> Result<bool> {
        let n = db::query(q(format!(
            "UPDATE second_factors SET last_step = ? \
             WHERE {} = ? AND confirmed_at IS NOT NULL AND last_step < ?",
            owner.column()
        )))
        .bind(step)
        .bind(owner.id())
        .bind(step)
        .execute(&self.read)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Turn the second factor off: the TOTP secret, the passkeys and the
    /// recovery codes go. App passwords stay (their owner revokes them).
    /// True if there was one.
    pub async fn remove_second_factor(&self, owner: Owner) -> Result<bool> {
        let mut tx = self.read.begin().await?;
        let mut n = 0;
        for table in ["second_factors", "passkeys", "passkey_registrations"] {
            n += db::query(q(format!(
                "DELETE FROM {table} WHERE {} = ?",
                owner.column()
            )))
            .bind(owner.id())
            .execute(&mut tx)
            .await?
            .rows_affected();
        }
        replace_codes(&mut tx, owner, &[]).await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Drop a TOTP enrolment not confirmed yet (the other factors stay).
    pub async fn cancel_totp(&self, owner: Owner) -> Result<bool> {
        let n = db::query(q(format!(
            "DELETE FROM second_factors WHERE {} = ? AND confirmed_at IS NULL",
            owner.column()
        )))
        .bind(owner.id())
        .execute(&self.read)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// New recovery codes (their hashes) in place of all the old ones.
    pub async fn replace_recovery_codes(&self, owner: Owner, codes: &[Vec<u8>]) -> Result<()> {
        let mut tx = self.read.begin().await?;
        replace_codes(&mut tx, owner, codes).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spend a recovery code: true the first time only.
    pub async fn use_recovery_code(&self, owner: Owner, hash: &[u8]) -> Result<bool> {
        let n = db::query(q(format!(
            "UPDATE recovery_codes SET used_at = ? \
             WHERE {} = ? AND code_hash = ? AND used_at IS NULL",
            owner.column()
        )))
        .bind(now_ms())
        .bind(owner.id())
        .bind(hash)
        .execute(&self.read)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Recovery codes not used yet.
    pub async fn recovery_codes_left(&self, owner: Owner) -> Result<i64> {
        let row = db::query(q(format!(
            "SELECT count(*) FROM recovery_codes WHERE {} = ? AND used_at IS NULL",
            owner.column()
        )))
        .bind(owner.id())
        .fetch_one(&self.read)
        .await?;
        Ok(row.try_get(0)?)
    }

    pub async fn insert_challenge(
        &self,
        id_hash: &[u8],
        owner: Owner,
        ip: &str,
        expires_at: i64,
        enrol: bool,
    ) -> Result<()> {
        db::query(q(format!(
            "INSERT INTO login_challenges (id_hash, {}, client_ip, expires_at, enrol) \
             VALUES (?, ?, ?, ?, ?)",
            owner.column()
        )))
        .bind(id_hash)
        .bind(owner.id())
        .bind(ip)
        .bind(expires_at)
        .bind(enrol)
        .execute(&self.read)
        .await?;
        Ok(())
    }

    pub async fn challenge(&self, id_hash: &[u8]) -> Result<Option<ChallengeRow>> {
        let row = db::query(
            "SELECT user_id, admin_id, expires_at, failures, enrol, passkey_state \
             FROM login_challenges WHERE id_hash = ?",
        )
        .bind(id_hash)
        .fetch_optional(&self.read)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let Some(owner) = Owner::from_columns(r.try_get(0)?, r.try_get(1)?) else {
            return Ok(None);
        };
        Ok(Some(ChallengeRow {
            owner,
            expires_at: r.try_get(2)?,
            failures: r.try_get(3)?,
            enrol: r.try_get(4)?,
            passkey_state: r.try_get(5)?,
        }))
    }

    /// Count a wrong code against a challenge; its failures so far.
    pub async fn challenge_failed(&self, id_hash: &[u8]) -> Result<i64> {
        let row = db::query(
            "UPDATE login_challenges SET failures = failures + 1 WHERE id_hash = ? \
             RETURNING failures",
        )
        .bind(id_hash)
        .fetch_optional(&self.read)
        .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => i64::MAX,
        })
    }

    /// End a challenge; true if this call ended it (a challenge completes
    /// one login only).
    pub async fn delete_challenge(&self, id_hash: &[u8]) -> Result<bool> {
        let n = db::query("DELETE FROM login_challenges WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&self.read)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Logins and passkey registrations left half done, gone at `now`.
    pub async fn purge_challenges(&self, now: i64) -> Result<u64> {
        let mut n = 0;
        for table in ["login_challenges", "passkey_registrations"] {
            n += db::query(q(format!("DELETE FROM {table} WHERE expires_at <= ?")))
                .bind(now)
                .execute(&self.read)
                .await?
                .rows_affected();
        }
        Ok(n)
    }

    /// Whether a domain's admins require a second factor of its users.
    pub async fn users_second_factor(&self, domain: super::DomainId) -> Result<bool> {
        let r = db::query("SELECT users_second_factor FROM domains WHERE id = ?")
            .bind(domain.0)
            .fetch_one(&self.read)
            .await?;
        Ok(r.try_get(0)?)
    }

    pub async fn set_users_second_factor(&self, domain: super::DomainId, on: bool) -> Result<()> {
        db::query("UPDATE domains SET users_second_factor = ? WHERE id = ?")
            .bind(on)
            .bind(domain.0)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    /// Whether the user's domain requires a second factor of them.
    pub async fn second_factor_required(&self, user: UserId) -> Result<bool> {
        let r = db::query(
            "SELECT d.users_second_factor FROM users u JOIN domains d ON d.id = u.domain_id \
             WHERE u.id = ?",
        )
        .bind(user.0)
        .fetch_optional(&self.read)
        .await?;
        match r {
            Some(r) => Ok(r.try_get(0)?),
            None => Ok(false),
        }
    }

    pub async fn insert_app_password(&self, user: UserId, name: &str, hash: &[u8]) -> Result<i64> {
        let row = db::query(
            "INSERT INTO app_passwords (user_id, name, secret_hash, created_at) \
             VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(user.0)
        .bind(name)
        .bind(hash)
        .bind(now_ms())
        .fetch_one(&self.read)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// A user's app passwords, newest first.
    pub async fn app_passwords(&self, user: UserId) -> Result<Vec<AppPasswordRow>> {
        let rows = db::query(
            "SELECT id, name, created_at, last_used_at, last_used_ip, last_used_with \
             FROM app_passwords WHERE user_id = ? ORDER BY id DESC",
        )
        .bind(user.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AppPasswordRow {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    created_at: r.try_get(2)?,
                    last_used_at: r.try_get(3)?,
                    last_used_ip: r.try_get(4)?,
                    last_used_with: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// The user's app password with this hash, if any.
    pub async fn app_password_by_hash(
        &self,
        user: UserId,
        hash: &[u8],
    ) -> Result<Option<AppPasswordRow>> {
        let row = db::query(
            "SELECT id, name, created_at, last_used_at, last_used_ip, last_used_with \
             FROM app_passwords WHERE user_id = ? AND secret_hash = ?",
        )
        .bind(user.0)
        .bind(hash)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(AppPasswordRow {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                created_at: r.try_get(2)?,
                last_used_at: r.try_get(3)?,
                last_used_ip: r.try_get(4)?,
                last_used_with: r.try_get(5)?,
            })
        })
        .transpose()
    }

    pub async fn app_password_used(&self, id: i64, ip: &str, with: &str) -> Result<()> {
        db::query(
            "UPDATE app_passwords SET last_used_at = ?, last_used_ip = ?, last_used_with = ? \
             WHERE id = ?",
        )
        .bind(now_ms())
        .bind(ip)
        .bind(with)
        .bind(id)
        .execute(&self.read)
        .await?;
        Ok(())
    }

    /// Revoke one of the user's app passwords; false if it was not theirs
    /// (or already gone).
    pub async fn delete_app_password(&self, user: UserId, id: i64) -> Result<bool> {
        let n = db::query("DELETE FROM app_passwords WHERE user_id = ? AND id = ?")
            .bind(user.0)
            .bind(id)
            .execute(&self.read)
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}

pub(super) async fn replace_codes(
    tx: &mut db::Tx<'_>,
    owner: Owner,
    codes: &[Vec<u8>],
) -> Result<()> {
    db::query(q(format!(
        "DELETE FROM recovery_codes WHERE {} = ?",
        owner.column()
    )))
    .bind(owner.id())
    .execute(&mut *tx)
    .await?;
    for code in codes {
        db::query(q(format!(
            "INSERT INTO recovery_codes ({}, code_hash) VALUES (?, ?)",
            owner.column()
        )))
        .bind(owner.id())
        .bind(code.as_slice())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
