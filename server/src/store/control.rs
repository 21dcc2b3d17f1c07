//! The Control Panel's rows: each domain's Continuity Service settings
//! (on/off, scope, selected users), the emergency password status, and the
//! audit trail. Every change made here writes its audit row in the same
//! transaction. Administrators themselves are in [`super::admins`].

use super::admin::normalize_address;
use super::{now_ms, DomainId, Result, Store, StoreError, UserId};
use crate::store::db;

/// A domain's Continuity Service settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContinuitySettings {
    pub domain: DomainId,
    pub name: String,
    pub enabled: bool,
    /// "all" or "selected".
    pub scope: String,
    /// The selected users (address, display name), by address.
    pub users: Vec<(UserId, String, String)>,
    pub state: String,
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Why a Continuity Service change was refused (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    #[error("switching to all users removes the {0} selected users: confirm first")]
    NeedsConfirmation(usize),
    #[error("{0} is not a user of this domain")]
    Unknown(String),
    #[error("{0} belongs to another domain")]
    OtherDomain(String),
    #[error("{0} is already in the list")]
    Duplicate(String),
    #[error("{0} is not an email address")]
    NotAnAddress(String),
    #[error("the Continuity Service is deactivated for this domain")]
    Deactivated,
    #[error("the domain uses \"all users\": choose \"selected users only\" first")]
    ScopeIsAll,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ScopeError {
    fn from(e: sqlx::Error) -> Self {
        ScopeError::Store(StoreError::Db(e))
    }
}

pub(super) async fn audit<'e>(
    conn: impl db::Executor<'e>,
    actor: &str,
    domain: Option<DomainId>,
    action: &str,
    before: Option<&str>,
    after: Option<&str>,
) -> Result<()> {
    db::query(
        "INSERT INTO audit (at, actor, domain_id, action, before, after) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(now_ms())
    .bind(actor)
    .bind(domain.map(|d| d.0))
    .bind(action)
    .bind(before)
    .bind(after)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    pub async fn continuity_settings(
        &self,
        domain: DomainId,
    ) -> Result<Option<ContinuitySettings>> {
        let Some(row) = db::query(
            "SELECT id, name, continuity_enabled, continuity_scope, state FROM domains WHERE id = ?",
        )
        .bind(domain.0)
        .fetch_optional(&self.read)
        .await?
        else {
            return Ok(None);
        };
        let users = db::query(
            "SELECT u.id, u.address, u.display_name FROM continuity_users c \
             JOIN users u ON u.id = c.user_id WHERE c.domain_id = ? ORDER BY u.address",
        )
        .bind(domain.0)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| Ok((UserId(r.try_get(0)?), r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<Vec<_>>>()?;
        Ok(Some(ContinuitySettings {
            domain: DomainId(row.try_get(0)?),
            name: row.try_get(1)?,
            enabled: row.try_get(2)?,
            scope: row.try_get(3)?,
            users,
            state: row.try_get(4)?,
        }))
    }

    /// Activate or deactivate the Continuity Service of a domain.
    pub async fn set_continuity_enabled(
        &self,
        domain: DomainId,
        enabled: bool,
        actor: &str,
    ) -> Result<bool> {
        let mut tx = self.read.begin().await?;
        let before: Option<bool> =
            db::query_scalar("SELECT continuity_enabled FROM domains WHERE id = ?")
                .bind(domain.0)
                .fetch_optional(&mut tx)
                .await?;
        let Some(before) = before else {
            return Err(StoreError::NotFound(format!("domain {domain}")));
        };
        if before == enabled {
            return Ok(false);
        }
        db::query("UPDATE domains SET continuity_enabled = ? WHERE id = ?")
            .bind(enabled)
            .bind(domain.0)
            .execute(&mut tx)
            .await?;
        let s = |b: bool| if b { "activated" } else { "deactivated" };
        audit(
            &mut tx,
            actor,
            Some(domain),
            "continuity.enabled",
            Some(s(before)),
            Some(s(enabled)),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Change the scope. Switching from "selected" to "all" while users are
    /// selected needs `confirmed`, and then removes them.
    pub async fn set_continuity_scope(
        &self,
        domain: DomainId,
        scope: &str,
        confirmed: bool,
        actor: &str,
    ) -> Result<bool, ScopeError> {
        if !matches!(scope, "all" | "selected") {
            return Err(StoreError::Invalid(format!("unknown scope {scope:?}")).into());
        }
        let mut tx = self.read.begin().await?;
        let before: Option<String> =
            db::query_scalar("SELECT continuity_scope FROM domains WHERE id = ?")
                .bind(domain.0)
                .fetch_optional(&mut tx)
                .await?;
        let Some(before) = before else {
            return Err(StoreError::NotFound(format!("domain {domain}")).into());
        };
        if before == scope {
            return Ok(false);
        }
        let listed: Vec<String> = db::query_scalar(
            "SELECT u.address FROM continuity_users c JOIN users u ON u.id = c.user_id \
             WHERE c.domain_id = ? ORDER BY u.address",
        )
        .bind(domain.0)
        .fetch_all(&mut tx)
        .await?;
        if scope == "all" && !listed.is_empty() {
            if !confirmed {
                return Err(ScopeError::NeedsConfirmation(listed.len()));
            }
            db::query("DELETE FROM continuity_users WHERE domain_id = ?")
                .bind(domain.0)
                .execute(&mut tx)
                .await?;
        }
        db::query("UPDATE domains SET continuity_scope = ? WHERE id = ?")
            .bind(scope)
            .bind(domain.0)
            .execute(&mut tx)
            .await?;
        let before_text = if listed.is_empty() {
            before
        } else {
            format!("{before}: {}", listed.join(", "))
        };
        audit(
            &mut tx,
            actor,
            Some(domain),
            "continuity.scope",
            Some(&before_text),
            Some(scope),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Add a user (by address or alias) to the selected users.
    pub async fn add_continuity_user(
        &self,
        domain: DomainId,
        address: &str,
        actor: &str,
    ) -> Result<String, ScopeError> {
        let wanted = address.trim();
        let addr =
            normalize_address(wanted).map_err(|_| ScopeError::NotAnAddress(wanted.into()))?;
        let mut tx = self.read.begin().await?;
        let d = db::query("SELECT continuity_enabled, continuity_scope FROM domains WHERE id = ?")
            .bind(domain.0)
            .fetch_optional(&mut tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("domain {domain}")))?;
        let enabled: bool = d.try_get(0)?;
        let scope: String = d.try_get(1)?;
        if !enabled {
            return Err(ScopeError::Deactivated);
        }
        if scope != "selected" {
            return Err(ScopeError::ScopeIsAll);
        }
        let user = db::query(
            "SELECT u.id, u.domain_id, u.address FROM users u WHERE lower(u.address) = lower(?1) \
             UNION ALL SELECT u.id, u.domain_id, u.address FROM user_aliases a \
             JOIN users u ON u.id = a.user_id WHERE lower(a.address) = lower(?1) LIMIT 1",
        )
        .bind(&addr)
        .fetch_optional(&mut tx)
        .await?;
        let Some(user) = user else {
            return Err(ScopeError::Unknown(addr));
        };
        let (uid, udomain, primary): (i64, i64, String) =
            (user.try_get(0)?, user.try_get(1)?, user.try_get(2)?);
        if udomain != domain.0 {
            return Err(ScopeError::OtherDomain(addr));
        }
        let n = db::query(
            "INSERT INTO continuity_users (domain_id, user_id, added_at) VALUES (?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(domain.0)
        .bind(uid)
        .bind(now_ms())
        .execute(&mut tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(ScopeError::Duplicate(primary));
        }
        audit(
            &mut tx,
            actor,
            Some(domain),
            "continuity.user.add",
            None,
            Some(&primary),
        )
        .await?;
        tx.commit().await?;
        Ok(primary)
    }

    /// Remove a user from the selected users. False if it was not listed.
    pub async fn remove_continuity_user(
        &self,
        domain: DomainId,
        user: UserId,
        actor: &str,
    ) -> Result<bool> {
        let mut tx = self.read.begin().await?;
        let addr: Option<String> = db::query_scalar(
            "SELECT u.address FROM continuity_users c JOIN users u ON u.id = c.user_id \
             WHERE c.domain_id = ? AND c.user_id = ?",
        )
        .bind(domain.0)
        .bind(user.0)
        .fetch_optional(&mut tx)
        .await?;
        let Some(addr) = addr else {
            return Ok(false);
        };
        db::query("DELETE FROM continuity_users WHERE domain_id = ? AND user_id = ?")
            .bind(domain.0)
            .bind(user.0)
            .execute(&mut tx)
            .await?;
        audit(
            &mut tx,
            actor,
            Some(domain),
            "continuity.user.remove",
            Some(&addr),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Addresses (primary or alias) of the domain's enabled users containing
    /// `fragment` (at least three characters), in order, after `after`.
    pub async fn suggest_users(
        &self,
        domain: DomainId,
        fragment: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<(String, String)>> {
        let f = fragment.trim().to_lowercase();
        if f.chars().count() < 3 {
            return Ok(Vec::new());
        }
        let pattern = format!(
            "%{}%",
            f.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = db::query(
            "SELECT address, display_name FROM ( \
               SELECT u.address AS address, u.display_name AS display_name FROM users u \
               WHERE u.domain_id = ?1 AND u.disabled = FALSE \
               UNION SELECT a.address, u.display_name FROM user_aliases a JOIN users u ON u.id = a.user_id \
               WHERE u.domain_id = ?1 AND u.disabled = FALSE) AS known \
             WHERE (lower(address) LIKE ?2 ESCAPE '\\' OR lower(display_name) LIKE ?2 ESCAPE '\\') \
             AND address > ?3 ORDER BY address LIMIT ?4",
        )
        .bind(domain.0)
        .bind(&pattern)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    pub async fn audit_log(&self, domain: DomainId, limit: u32) -> Result<Vec<AuditRow>> {
        let rows = db::query(
            "SELECT at, actor, action, before, after FROM audit WHERE domain_id = ? \
             ORDER BY at DESC, id DESC LIMIT ?",
        )
        .bind(domain.0)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    at: r.try_get(0)?,
                    actor: r.try_get(1)?,
                    action: r.try_get(2)?,
                    before: r.try_get(3)?,
                    after: r.try_get(4)?,
                })
            })
            .collect()
    }
}

/// A covered user's emergency password, as the Control Panel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyRow {
    pub user: UserId,
    pub address: String,
    pub display_name: String,
    /// "local" or "ldap".
    pub source: String,
    /// "set", "invited" (an open link) or "none".
    pub status: String,
}

impl Store {
    pub async fn emergency_enabled(&self, domain: DomainId) -> Result<bool> {
        Ok(
            db::query_scalar("SELECT emergency_password FROM domains WHERE id = ?")
                .bind(domain.0)
                .fetch_optional(&self.read)
                .await?
                .unwrap_or(false),
        )
    }

    pub async fn set_emergency_enabled(
        &self,
        domain: DomainId,
        enabled: bool,
        actor: &str,
    ) -> Result<bool> {
        let mut tx = self.read.begin().await?;
        let n = db::query(
            "UPDATE domains SET emergency_password = ? WHERE id = ? AND emergency_password <> ?",
        )
        .bind(enabled)
        .bind(domain.0)
        .bind(enabled)
        .execute(&mut tx)
        .await?
        .rows_affected();
        if n > 0 {
            let s = |b: bool| if b { "activated" } else { "deactivated" };
            audit(
                &mut tx,
                actor,
                Some(domain),
                "emergency_password",
                Some(s(!enabled)),
                Some(s(enabled)),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// The covered, enabled users of a domain with their emergency-password
    /// status (directory users first: they need one).
    pub async fn emergency_status(&self, domain: DomainId) -> Result<Vec<EmergencyRow>> {
        let now = now_ms();
        let rows = db::query(
            "SELECT u.id, u.address, u.display_name, u.source, \
               CASE WHEN u.password_hash IS NOT NULL THEN 'set' \
                    WHEN EXISTS (SELECT 1 FROM password_tokens t WHERE t.user_id = u.id \
                                 AND t.used_at IS NULL AND t.expires_at > ?2) THEN 'invited' \
                    ELSE 'none' END \
             FROM users u JOIN domains d ON d.id = u.domain_id \
             WHERE u.domain_id = ?1 AND u.disabled = FALSE AND d.continuity_enabled = TRUE \
               AND (d.continuity_scope = 'all' OR EXISTS (SELECT 1 FROM continuity_users c \
                    WHERE c.domain_id = d.id AND c.user_id = u.id)) \
             ORDER BY u.source = 'local', u.address",
        )
        .bind(domain.0)
        .bind(now)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EmergencyRow {
                    user: UserId(r.try_get(0)?),
                    address: r.try_get(1)?,
                    display_name: r.try_get(2)?,
                    source: r.try_get(3)?,
                    status: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Reset a user's (emergency) password: it no longer works, their
    /// sessions end, open links are spent. Audited.
    pub async fn reset_password(
        &self,
        domain: DomainId,
        user: UserId,
        actor: &str,
    ) -> Result<bool> {
        let mut tx = self.read.begin().await?;
        let addr: Option<String> =
            db::query_scalar("SELECT address FROM users WHERE id = ? AND domain_id = ?")
                .bind(user.0)
                .bind(domain.0)
                .fetch_optional(&mut tx)
                .await?;
        let Some(addr) = addr else {
            return Ok(false);
        };
        db::query("UPDATE users SET password_hash = NULL, password_set_at = NULL WHERE id = ?")
            .bind(user.0)
            .execute(&mut tx)
            .await?;
        db::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user.0)
            .execute(&mut tx)
            .await?;
        db::query("UPDATE password_tokens SET used_at = ? WHERE user_id = ? AND used_at IS NULL")
            .bind(now_ms())
            .bind(user.0)
            .execute(&mut tx)
            .await?;
        audit(
            &mut tx,
            actor,
            Some(domain),
            "emergency_password.reset",
            Some(&addr),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Record that an invitation was sent (the mail itself is in the queue).
    pub async fn audit_invitation(
        &self,
        domain: DomainId,
        address: &str,
        actor: &str,
    ) -> Result<()> {
        audit(
            &self.read,
            actor,
            Some(domain),
            "emergency_password.invite",
            None,
            Some(address),
        )
        .await
    }
}

impl Store {
    /// An audit row for a change made through other store calls.
    pub async fn audit_change(
        &self,
        domain: DomainId,
        actor: &str,
        action: &str,
        before: Option<&str>,
        after: Option<&str>,
    ) -> Result<()> {
        audit(&self.read, actor, Some(domain), action, before, after).await
    }
}
