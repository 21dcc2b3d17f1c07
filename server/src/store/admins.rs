//! Administrators of the Control Panel: operators (every domain) and
//! domain admins (the domains assigned to them), their API tokens and the
//! recovery addresses outage alerts go to. Changes are audited like the
//! Control Panel's (see [`super::control`]).

use super::admin::normalize_address;
use super::control::audit;
use super::{now_ms, DomainId, Result, Store, StoreError};
use crate::store::db;

/// An administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRow {
    pub id: i64,
    pub address: String,
    pub display_name: String,
    /// "operator" or "domain_admin".
    pub role: String,
    pub password_hash: Option<String>,
    pub disabled: bool,
}

impl AdminRow {
    pub fn is_operator(&self) -> bool {
        self.role == "operator"
    }
}

fn admin_from_row(r: &db::Row) -> Result<AdminRow> {
    Ok(AdminRow {
        id: r.try_get(0)?,
        address: r.try_get(1)?,
        display_name: r.try_get(2)?,
        role: r.try_get(3)?,
        password_hash: r.try_get(4)?,
        disabled: r.try_get(5)?,
    })
}

const SELECT_ADMIN: &str =
    "SELECT id, address, display_name, role, password_hash, disabled FROM admins ";

impl Store {
    /// Add an administrator: an operator, or a domain admin of `domains`.
    pub async fn add_admin(
        &self,
        address: &str,
        display_name: &str,
        operator: bool,
        domains: &[DomainId],
        password_hash: &str,
    ) -> Result<i64> {
        let address = normalize_address(address)?;
        if !operator && domains.is_empty() {
            return Err(StoreError::Invalid(
                "a domain admin needs at least one domain (--domain)".into(),
            ));
        }
        let mut tx = self.read.begin().await?;
        let exists: Option<i64> =
            db::query_scalar("SELECT id FROM admins WHERE lower(address) = lower(?)")
                .bind(&address)
                .fetch_optional(&mut tx)
                .await?;
        if exists.is_some() {
            return Err(StoreError::Invalid(format!(
                "administrator {address} already exists"
            )));
        }
        let id: i64 = db::query_scalar(
            "INSERT INTO admins (address, display_name, role, password_hash, created_at) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&address)
        .bind(display_name)
        .bind(if operator { "operator" } else { "domain_admin" })
        .bind(password_hash)
        .bind(now_ms())
        .fetch_one(&mut tx)
        .await?;
        for d in domains {
            db::query("INSERT INTO admin_domains (admin_id, domain_id) VALUES (?, ?)")
                .bind(id)
                .bind(d.0)
                .execute(&mut tx)
                .await?;
        }
        audit(
            &mut tx,
            "the command line",
            None,
            "admin.add",
            None,
            Some(&format!(
                "{address} ({})",
                if operator { "operator" } else { "domain admin" }
            )),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn admin_by_address(&self, address: &str) -> Result<Option<AdminRow>> {
        let Ok(address) = normalize_address(address) else {
            return Ok(None);
        };
        let row = db::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_ADMIN} WHERE lower(address) = lower(?)"
        )))
        .bind(address)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(admin_from_row).transpose()
    }

    pub async fn admin(&self, id: i64) -> Result<Option<AdminRow>> {
        let row = db::query(sqlx::AssertSqlSafe(format!("{SELECT_ADMIN} WHERE id = ?")))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(admin_from_row).transpose()
    }

    pub async fn admins(&self) -> Result<Vec<(AdminRow, Vec<String>)>> {
        let rows = db::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_ADMIN} ORDER BY address"
        )))
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let a = admin_from_row(&r)?;
            let domains = db::query_scalar(
                "SELECT d.name FROM admin_domains x JOIN domains d ON d.id = x.domain_id \
                 WHERE x.admin_id = ? ORDER BY d.name",
            )
            .bind(a.id)
            .fetch_all(&self.read)
            .await?;
            out.push((a, domains));
        }
        Ok(out)
    }

    /// The domains an administrator may manage (all, for an operator).
    pub async fn admin_domains(&self, admin: &AdminRow) -> Result<Vec<(DomainId, String)>> {
        let rows = if admin.is_operator() {
            db::query("SELECT id, name FROM domains ORDER BY name")
                .fetch_all(&self.read)
                .await?
        } else {
            db::query(
                "SELECT d.id, d.name FROM admin_domains x JOIN domains d ON d.id = x.domain_id \
                 WHERE x.admin_id = ? ORDER BY d.name",
            )
            .bind(admin.id)
            .fetch_all(&self.read)
            .await?
        };
        rows.iter()
            .map(|r| Ok((DomainId(r.try_get(0)?), r.try_get(1)?)))
            .collect()
    }
}

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRow {
    pub id: i64,
    pub admin: String,
    pub name: String,
    pub created_at: i64,
    pub last_used: Option<i64>,
    pub revoked: bool,
}

impl Store {
    /// Store a new API token's hash for an administrator.
    pub async fn insert_api_token(&self, admin: i64, name: &str, token_hash: &[u8]) -> Result<i64> {
        let mut tx = self.read.begin().await?;
        let id: i64 = db::query_scalar(
            "INSERT INTO api_tokens (admin_id, name, token_hash, created_at) VALUES (?, ?, ?, ?) \
             RETURNING id",
        )
        .bind(admin)
        .bind(name)
        .bind(token_hash)
        .bind(now_ms())
        .fetch_one(&mut tx)
        .await?;
        audit(
            &mut tx,
            "the command line",
            None,
            "api_token.create",
            None,
            Some(name),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn revoke_api_token(&self, id: i64) -> Result<bool> {
        let mut tx = self.read.begin().await?;
        let n =
            db::query("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(id)
                .execute(&mut tx)
                .await?
                .rows_affected();
        if n > 0 {
            audit(
                &mut tx,
                "the command line",
                None,
                "api_token.revoke",
                Some(&id.to_string()),
                None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    pub async fn api_tokens(&self) -> Result<Vec<ApiTokenRow>> {
        let rows = db::query(
            "SELECT t.id, a.address, t.name, t.created_at, t.last_used, t.revoked_at IS NOT NULL \
             FROM api_tokens t JOIN admins a ON a.id = t.admin_id ORDER BY t.id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiTokenRow {
                    id: r.try_get(0)?,
                    admin: r.try_get(1)?,
                    name: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                    last_used: r.try_get(4)?,
                    revoked: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// The administrator (and token name) a live token belongs to.
    pub async fn api_token_admin(&self, token_hash: &[u8]) -> Result<Option<(AdminRow, String)>> {
        let row = db::query(
            "SELECT t.admin_id, t.name, t.id FROM api_tokens t JOIN admins a ON a.id = t.admin_id \
             WHERE t.token_hash = ? AND t.revoked_at IS NULL AND a.disabled = FALSE",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let admin_id: i64 = row.try_get(0)?;
        let name: String = row.try_get(1)?;
        let id: i64 = row.try_get(2)?;
        db::query("UPDATE api_tokens SET last_used = ? WHERE id = ?")
            .bind(now_ms())
            .bind(id)
            .execute(&self.read)
            .await?;
        Ok(self.admin(admin_id).await?.map(|a| (a, name)))
    }
}

impl Store {
    /// Where an administrator receives outage alerts (None: no alerts).
    pub async fn set_admin_recovery(&self, admin: i64, address: Option<&str>) -> Result<()> {
        let address = address.map(normalize_address).transpose()?;
        db::query("UPDATE admins SET recovery_address = ? WHERE id = ?")
            .bind(address)
            .bind(admin)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    /// The recovery addresses of everyone who manages the domain: its
    /// domain admins and the operators.
    pub async fn alert_recipients(&self, domain: DomainId) -> Result<Vec<String>> {
        Ok(db::query_scalar(
            "SELECT DISTINCT a.recovery_address FROM admins a \
             WHERE a.disabled = FALSE AND a.recovery_address IS NOT NULL \
             AND (a.role = 'operator' OR EXISTS (SELECT 1 FROM admin_domains x \
                  WHERE x.admin_id = a.id AND x.domain_id = ?)) \
             ORDER BY 1",
        )
        .bind(domain.0)
        .fetch_all(&self.read)
        .await?)
    }
}
