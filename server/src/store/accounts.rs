//! Logging in: users' password hashes, server-side sessions, single-use
//! password links and the server's own keys. The crypto is in
//! [`crate::auth`]; this module only keeps rows.

use super::admin::normalize_address;
use super::{now_ms, DomainId, Result, Store, StoreError, UserId};
use crate::store::db;

/// A user as the login sees them: who, where, and the stored hash.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: UserId,
    pub domain: DomainId,
    pub domain_name: String,
    pub address: String,
    pub display_name: String,
    pub source: String,
    pub disabled: bool,
    pub password_hash: Option<String>,
    pub password_set_at: Option<i64>,
    /// The domain's continuity state ('normal', 'outage', 'recovering', 'drill').
    pub domain_state: String,
    pub continuity_enabled: bool,
    /// Continuity applies to this user: the domain has it on, for all
    /// users or with this user selected.
    pub covered: bool,
}

/// A live session (found by the hash of its cookie).
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user: UserId,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
    pub expires_at: i64,
}

/// Whose sessions: mail users' (webmail) or administrators' (Control Panel).
/// Two tables, one code path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    User,
    Admin,
}

impl SessionKind {
    fn table(self) -> &'static str {
        match self {
            SessionKind::User => "sessions",
            SessionKind::Admin => "admin_sessions",
        }
    }
    fn owner(self) -> &'static str {
        match self {
            SessionKind::User => "user_id",
            SessionKind::Admin => "admin_id",
        }
    }
}

/// A password link as stored.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub user: UserId,
    pub secret_hash: Vec<u8>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// A newer link was issued for the same user (this one is superseded).
    pub superseded: bool,
}

pub(super) const ACCOUNT_COLUMNS: &str = "SELECT u.id, u.domain_id, d.name, u.address, \
     u.display_name, u.source, u.disabled, u.password_hash, u.password_set_at, d.state, \
     d.continuity_enabled, d.continuity_enabled AND (d.continuity_scope = 'all' OR EXISTS \
       (SELECT 1 FROM continuity_users c WHERE c.domain_id = d.id AND c.user_id = u.id))";
pub(super) const ACCOUNT_FROM: &str = " FROM users u JOIN domains d ON d.id = u.domain_id ";

pub(super) fn account_from_row(r: &db::Row) -> Result<Account> {
    Ok(Account {
        user: UserId(r.try_get(0)?),
        domain: DomainId(r.try_get(1)?),
        domain_name: r.try_get(2)?,
        address: r.try_get(3)?,
        display_name: r.try_get(4)?,
        source: r.try_get(5)?,
        disabled: r.try_get(6)?,
        password_hash: r.try_get(7)?,
        password_set_at: r.try_get(8)?,
        domain_state: r.try_get(9)?,
        continuity_enabled: r.try_get(10)?,
        covered: r.try_get(11)?,
    })
}

impl Store {
    /// The account an address (primary or alias) logs in to.
    pub async fn account_by_address(&self, address: &str) -> Result<Option<Account>> {
        let Ok(address) = normalize_address(address) else {
            return Ok(None);
        };
        let row = db::query(sqlx::AssertSqlSafe(format!(
            "{ACCOUNT_COLUMNS}{ACCOUNT_FROM} WHERE lower(u.address) = lower(?1) OR u.id = \
             (SELECT user_id FROM user_aliases WHERE lower(address) = lower(?1))"
        )))
        .bind(&address)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    pub async fn account(&self, user: UserId) -> Result<Option<Account>> {
        let row = db::query(sqlx::AssertSqlSafe(format!(
            "{ACCOUNT_COLUMNS}{ACCOUNT_FROM} WHERE u.id = ?"
        )))
        .bind(user.0)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// Replace a user's password hash. Every session of the user ends and
    /// every open password link is spent, in one transaction.
    pub async fn set_password_hash(&self, user: UserId, hash: &str) -> Result<()> {
        let now = now_ms();
        let mut tx = self.read.begin().await?;
        let n = db::query("UPDATE users SET password_hash = ?, password_set_at = ? WHERE id = ?")
            .bind(hash)
            .bind(now)
            .bind(user.0)
            .execute(&mut tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        db::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user.0)
            .execute(&mut tx)
            .await?;
        db::query("UPDATE password_tokens SET used_at = ? WHERE user_id = ? AND used_at IS NULL")
            .bind(now)
            .bind(user.0)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Redeem a password link: mark it used and set the hash, atomically, so
    /// that two concurrent redemptions cannot both succeed. Returns false if
    /// the link was already used (or superseded) in the meantime.
    pub async fn redeem_password_token(&self, token: i64, hash: &str) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.read.begin().await?;
        let row = db::query(
            "UPDATE password_tokens SET used_at = ? \
             WHERE id = ? AND used_at IS NULL AND expires_at > ? \
             AND NOT EXISTS (SELECT 1 FROM password_tokens n \
                             WHERE n.user_id = password_tokens.user_id AND n.id > password_tokens.id) \
             RETURNING user_id",
        )
        .bind(now)
        .bind(token)
        .bind(now)
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let user: i64 = row.try_get(0)?;
        db::query("UPDATE users SET password_hash = ?, password_set_at = ? WHERE id = ?")
            .bind(hash)
            .bind(now)
            .bind(user)
            .execute(&mut tx)
            .await?;
        db::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user)
            .execute(&mut tx)
            .await?;
        db::query("UPDATE password_tokens SET used_at = ? WHERE user_id = ? AND used_at IS NULL")
            .bind(now)
            .bind(user)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Store a new password link. It supersedes the user's older links: only
    /// the newest one can be redeemed.
    pub async fn insert_password_token(
        &self,
        user: UserId,
        secret_hash: &[u8],
        expires_at: i64,
    ) -> Result<i64> {
        let now = now_ms();
        let row = db::query(
            "INSERT INTO password_tokens (user_id, secret_hash, created_at, expires_at) \
             VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(user.0)
        .bind(secret_hash)
        .bind(now)
        .bind(expires_at)
        .fetch_one(&self.read)
        .await?;
        Ok(row.try_get(0)?)
    }

    pub async fn password_token(&self, id: i64) -> Result<Option<TokenRow>> {
        let row = db::query(
            "SELECT t.id, t.user_id, t.secret_hash, t.expires_at, t.used_at, \
             EXISTS (SELECT 1 FROM password_tokens n WHERE n.user_id = t.user_id AND n.id > t.id) \
             FROM password_tokens t WHERE t.id = ?",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(TokenRow {
                id: r.try_get(0)?,
                user: UserId(r.try_get(1)?),
                secret_hash: r.try_get(2)?,
                expires_at: r.try_get(3)?,
                used_at: r.try_get(4)?,
                superseded: r.try_get(5)?,
            })
        })
        .transpose()
    }

    /// A server key by name, created with `make` the first time it is asked
    /// for (race-free: the first insert wins and everyone reads it back).
    pub async fn server_key(&self, name: &str, make: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>> {
        db::query("INSERT INTO server_keys (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(make())
            .execute(&self.read)
            .await?;
        let row = db::query("SELECT value FROM server_keys WHERE name = ?")
            .bind(name)
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get(0)?)
    }

    pub async fn insert_session(
        &self,
        kind: SessionKind,
        id_hash: &[u8],
        owner: i64,
        csrf: &str,
        expires_at: i64,
        client_ip: Option<&str>,
    ) -> Result<()> {
        let now = now_ms();
        let sql = format!(
            "INSERT INTO {} (id_hash, {}, csrf, created_at, last_seen, expires_at, client_ip) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            kind.table(),
            kind.owner()
        );
        db::query(sqlx::AssertSqlSafe(sql))
            .bind(id_hash)
            .bind(owner)
            .bind(csrf)
            .bind(now)
            .bind(now)
            .bind(expires_at)
            .bind(client_ip)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    /// A session by the hash of its cookie; `user` is the owner's id (a
    /// user's, or an administrator's for [`SessionKind::Admin`]).
    /// A live session row. A user's session counts only while the user is
    /// enabled and the Continuity Service covers them: a user disabled, or
    /// removed from the selected users, or whose domain's service was
    /// turned off, is logged out at their next request.
    pub async fn session(&self, kind: SessionKind, id_hash: &[u8]) -> Result<Option<SessionRow>> {
        let sql = match kind {
            SessionKind::Admin => {
                "SELECT admin_id, csrf, created_at, last_seen, expires_at FROM admin_sessions \
                 WHERE id_hash = ?"
            }
            SessionKind::User => {
                "SELECT s.user_id, s.csrf, s.created_at, s.last_seen, s.expires_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 JOIN domains d ON d.id = u.domain_id \
                 WHERE s.id_hash = ? AND u.disabled = FALSE AND d.continuity_enabled \
                 AND (d.continuity_scope = 'all' OR EXISTS (SELECT 1 FROM continuity_users c \
                      WHERE c.domain_id = d.id AND c.user_id = u.id))"
            }
        };
        let row = db::query(sqlx::AssertSqlSafe(sql))
            .bind(id_hash)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| {
            Ok(SessionRow {
                user: UserId(r.try_get(0)?),
                csrf: r.try_get(1)?,
                created_at: r.try_get(2)?,
                last_seen: r.try_get(3)?,
                expires_at: r.try_get(4)?,
            })
        })
        .transpose()
    }

    pub async fn touch_session(&self, kind: SessionKind, id_hash: &[u8], now: i64) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET last_seen = ? WHERE id_hash = ?",
            kind.table()
        );
        db::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(id_hash)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, kind: SessionKind, id_hash: &[u8]) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE id_hash = ?", kind.table());
        db::query(sqlx::AssertSqlSafe(sql))
            .bind(id_hash)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    /// Remove sessions past their absolute or idle timeout.
    pub async fn purge_sessions(&self, now: i64, idle_ms: i64) -> Result<u64> {
        let mut n = 0;
        for kind in [SessionKind::User, SessionKind::Admin] {
            let sql = format!(
                "DELETE FROM {} WHERE expires_at <= ? OR last_seen <= ?",
                kind.table()
            );
            n += db::query(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(now - idle_ms)
                .execute(&self.read)
                .await?
                .rows_affected();
        }
        Ok(n)
    }

    /// Set a domain's continuity state (the monitor's job; also tests and
    /// the CLI).
    pub async fn set_domain_state(&self, domain: DomainId, state: &str) -> Result<()> {
        if !matches!(state, "normal" | "outage" | "recovering" | "drill") {
            return Err(StoreError::Invalid(format!(
                "unknown domain state {state:?}"
            )));
        }
        db::query("UPDATE domains SET state = ?, state_since = ? WHERE id = ?")
            .bind(state)
            .bind(now_ms())
            .bind(domain.0)
            .execute(&self.read)
            .await?;
        Ok(())
    }
}
