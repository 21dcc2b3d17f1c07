//! Directory sync settings per domain, the domain's users as the sync sees
//! them, applying a sync plan atomically, and each run's outcome.

use super::{now_ms, DomainId, Result, Store, StoreError};
use crate::dirsync::plan::{Current, Plan};
use crate::store::db;
use app::backend::Refusal;

/// A domain's directory settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryConfig {
    pub domain: DomainId,
    /// ldap://host:port or ldaps://host:port
    pub url: String,
    pub starttls: bool,
    /// PEM file with the CA of the server's certificate (else the
    /// public web roots).
    pub ca_file: Option<String>,
    pub bind_dn: String,
    /// The bind password is read from this file at each sync.
    pub bind_password_file: Option<String>,
    pub base_dn: String,
    pub user_filter: String,
    pub group_dn: Option<String>,
    /// "openldap" or "ad".
    pub flavor: String,
    pub interval_s: i64,
    pub max_disable_pct: u32,
    /// A plain `ldap://` URL without StartTLS (the bind password in clear)
    /// is allowed: an operator's choice, never a domain admin's.
    pub allow_plaintext: bool,
    /// The attribute holding a user's mobile number ("" = not read).
    pub mobile_attr: String,
    /// The attribute holding a user's backup address ("" = not read).
    pub alt_email_attr: String,
}

/// An LDAP attribute name (or "": none).
fn attr_ok(a: &str) -> bool {
    a.is_empty()
        || (a.len() <= 64
            && a.starts_with(|c: char| c.is_ascii_alphabetic())
            && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

impl DirectoryConfig {
    /// Where the bind password goes: the server and how it is reached.
    /// Whoever may not set the password may not change this.
    pub fn same_destination(&self, other: &DirectoryConfig) -> bool {
        self.url.trim() == other.url.trim()
            && self.starttls == other.starttls
            && self.ca_file == other.ca_file
    }

    /// The connection would carry the bind password in clear.
    pub fn is_plaintext(&self) -> bool {
        self.url.trim().starts_with("ldap://") && !self.starttls
    }
}

/// The last run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    pub at: Option<i64>,
    pub ok: bool,
    pub result: String,
    /// JSON: the changes of the last successful run.
    pub diff: String,
}

fn config(r: &db::Row) -> Result<DirectoryConfig> {
    Ok(DirectoryConfig {
        domain: DomainId(r.try_get(0)?),
        url: r.try_get(1)?,
        starttls: r.try_get(2)?,
        ca_file: r.try_get(3)?,
        bind_dn: r.try_get(4)?,
        bind_password_file: r.try_get(5)?,
        base_dn: r.try_get(6)?,
        user_filter: r.try_get(7)?,
        group_dn: r.try_get(8)?,
        flavor: r.try_get(9)?,
        interval_s: r.try_get(10)?,
        max_disable_pct: r.try_get::<i64, _>(11)?.clamp(0, 100) as u32,
        allow_plaintext: r.try_get(12)?,
        mobile_attr: r.try_get(13)?,
        alt_email_attr: r.try_get(14)?,
    })
}

const SELECT: &str = "SELECT domain_id, url, starttls, ca_file, bind_dn, bind_password_file, \
     base_dn, user_filter, group_dn, flavor, interval_s, max_disable_pct, allow_plaintext, \
     mobile_attr, alt_email_attr FROM directories";

impl Store {
    pub async fn set_directory(&self, c: &DirectoryConfig) -> Result<()> {
        let refuse = |r: Refusal| Err(StoreError::Refused(r));
        let url = c.url.trim();
        if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
            return refuse(Refusal::DirectoryUrl);
        }
        if url.starts_with("ldaps://") && c.starttls {
            return refuse(Refusal::DirectoryStartTls);
        }
        if c.is_plaintext() && !c.allow_plaintext {
            return refuse(Refusal::DirectoryPlaintext);
        }
        if c.base_dn.trim().is_empty() {
            return refuse(Refusal::DirectoryBaseDn);
        }
        let filter = c.user_filter.trim();
        if !(filter.starts_with('(') && filter.ends_with(')')) {
            return refuse(Refusal::DirectoryFilter);
        }
        if !matches!(c.flavor.as_str(), "openldap" | "ad") {
            return refuse(Refusal::DirectoryKind);
        }
        if c.interval_s < 60 {
            return refuse(Refusal::DirectoryInterval);
        }
        if c.max_disable_pct > 100 {
            return refuse(Refusal::DirectoryGuard);
        }
        if !attr_ok(c.mobile_attr.trim()) || !attr_ok(c.alt_email_attr.trim()) {
            return refuse(Refusal::DirectoryAttribute);
        }
        db::query(
            "INSERT INTO directories (domain_id, url, starttls, ca_file, bind_dn, \
             bind_password_file, base_dn, user_filter, group_dn, flavor, interval_s, \
             max_disable_pct, allow_plaintext, mobile_attr, alt_email_attr) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (domain_id) DO UPDATE SET url = excluded.url, \
             starttls = excluded.starttls, ca_file = excluded.ca_file, \
             bind_dn = excluded.bind_dn, bind_password_file = excluded.bind_password_file, \
             base_dn = excluded.base_dn, user_filter = excluded.user_filter, \
             group_dn = excluded.group_dn, flavor = excluded.flavor, \
             interval_s = excluded.interval_s, max_disable_pct = excluded.max_disable_pct, \
             allow_plaintext = excluded.allow_plaintext, mobile_attr = excluded.mobile_attr, \
             alt_email_attr = excluded.alt_email_attr",
        )
        .bind(c.domain.0)
        .bind(url)
        .bind(c.starttls)
        .bind(&c.ca_file)
        .bind(&c.bind_dn)
        .bind(&c.bind_password_file)
        .bind(c.base_dn.trim())
        .bind(filter)
        .bind(&c.group_dn)
        .bind(&c.flavor)
        .bind(c.interval_s)
        .bind(c.max_disable_pct as i64)
        .bind(c.allow_plaintext)
        .bind(c.mobile_attr.trim())
        .bind(c.alt_email_attr.trim())
        .execute(&self.read)
        .await?;
        Ok(())
    }

    pub async fn directory(&self, domain: DomainId) -> Result<Option<DirectoryConfig>> {
        let r = db::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE domain_id = ?")))
            .bind(domain.0)
            .fetch_optional(&self.read)
            .await?;
        r.as_ref().map(config).transpose()
    }

    /// Directories whose next scheduled sync is due.
    pub async fn directories_due(&self, now: i64) -> Result<Vec<DirectoryConfig>> {
        let rows = db::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE last_sync_at IS NULL OR last_sync_at + interval_s * 1000 <= ?"
        )))
        .bind(now)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(config).collect()
    }

    pub async fn sync_status(&self, domain: DomainId) -> Result<Option<SyncStatus>> {
        let r = db::query(
            "SELECT last_sync_at, COALESCE(last_ok, FALSE), COALESCE(last_result, ''), \
             COALESCE(last_diff, '') FROM directories WHERE domain_id = ?",
        )
        .bind(domain.0)
        .fetch_optional(&self.read)
        .await?;
        r.map(|r| {
            Ok(SyncStatus {
                at: r.try_get(0)?,
                ok: r.try_get(1)?,
                result: r.try_get(2)?,
                diff: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// Record a run (a failed run keeps the last successful diff).
    pub async fn record_sync(
        &self,
        domain: DomainId,
        ok: bool,
        result: &str,
        diff: Option<&str>,
    ) -> Result<()> {
        db::query(
            "UPDATE directories SET last_sync_at = ?, last_ok = ?, last_result = ?, \
             last_diff = COALESCE(?, last_diff) WHERE domain_id = ?",
        )
        .bind(now_ms())
        .bind(ok)
        .bind(result)
        .bind(diff)
        .bind(domain.0)
        .execute(&self.read)
        .await?;
        Ok(())
    }

    /// The domain's users with their aliases, as the sync compares them.
    pub async fn sync_users(&self, domain: DomainId) -> Result<Vec<Current>> {
        let rows = db::query(
            "SELECT u.id, u.address, u.display_name, u.source, u.disabled, \
             COALESCE((SELECT string_agg(a.address, ' ') FROM user_aliases a \
                       WHERE a.user_id = u.id), '') \
             FROM users u WHERE u.domain_id = ? ORDER BY u.id",
        )
        .bind(domain.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let aliases: String = r.try_get(5)?;
                Ok(Current {
                    id: r.try_get(0)?,
                    address: r.try_get(1)?,
                    name: r.try_get(2)?,
                    source: r.try_get(3)?,
                    disabled: r.try_get(4)?,
                    aliases: aliases.split_whitespace().map(str::to_string).collect(),
                })
            })
            .collect()
    }

    /// Apply a plan in one transaction: all of it or nothing.
    pub async fn apply_plan(&self, domain: DomainId, source: &str, p: &Plan) -> Result<()> {
        let now = now_ms();
        let mut tx = self.read.begin().await?;
        for a in &p.adds {
            let id: i64 = db::query(
                "INSERT INTO users (domain_id, address, display_name, source, created_at) \
                 VALUES (?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(domain.0)
            .bind(&a.address)
            .bind(&a.name)
            .bind(source)
            .bind(now)
            .fetch_one(&mut tx)
            .await?
            .try_get(0)?;
            for al in &a.aliases {
                db::query("INSERT INTO user_aliases (address, user_id) VALUES (?, ?)")
                    .bind(al)
                    .bind(id)
                    .execute(&mut tx)
                    .await?;
            }
        }
        for u in &p.updates {
            db::query("UPDATE users SET display_name = ? WHERE id = ? AND domain_id = ?")
                .bind(&u.name)
                .bind(u.id)
                .bind(domain.0)
                .execute(&mut tx)
                .await?;
            db::query("DELETE FROM user_aliases WHERE user_id = ?")
                .bind(u.id)
                .execute(&mut tx)
                .await?;
            for al in &u.aliases {
                db::query("INSERT INTO user_aliases (address, user_id) VALUES (?, ?)")
                    .bind(al)
                    .bind(u.id)
                    .execute(&mut tx)
                    .await?;
            }
        }
        for (id, _) in &p.disables {
            db::query("UPDATE users SET disabled = TRUE WHERE id = ? AND domain_id = ?")
                .bind(id)
                .bind(domain.0)
                .execute(&mut tx)
                .await?;
            // a disabled user's sessions end now
            db::query("DELETE FROM sessions WHERE user_id = ?")
                .bind(id)
                .execute(&mut tx)
                .await?;
        }
        for (id, _) in &p.enables {
            db::query("UPDATE users SET disabled = FALSE WHERE id = ? AND domain_id = ?")
                .bind(id)
                .bind(domain.0)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
