//! Domains, users and aliases: rare writes, and the recipient directory the
//! SMTP listener checks every RCPT against.

use crate::store::db;
use std::collections::HashMap;

use super::{now_ms, writer, Domain, DomainId, Result, Store, StoreError, User, UserId};

/// A user to insert: `addresses[0]` is the primary address, the rest aliases.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub domain: DomainId,
    pub addresses: Vec<String>,
    pub display_name: String,
    pub source: String,
}
use crate::config::TlsMode;

/// Everything RCPT TO needs, loaded in memory (see [`crate::directory`]).
#[derive(Debug, Default, Clone)]
pub struct DirectorySnapshot {
    /// lower-cased domain name -> (id, verify_recipients)
    pub domains: HashMap<String, (DomainId, bool)>,
    /// lower-cased address or alias -> (user, domain, disabled)
    pub addresses: HashMap<String, (UserId, DomainId, bool)>,
}

/// A normalised mail address: trimmed, domain lower-cased, checked for shape.
pub fn normalize_address(addr: &str) -> Result<String> {
    let a = addr.trim();
    let (local, domain) = a
        .rsplit_once('@')
        .ok_or_else(|| StoreError::Invalid(format!("{a:?} is not a mail address (no @)")))?;
    if local.is_empty()
        || domain.is_empty()
        || a.len() > 254
        || a.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(StoreError::Invalid(format!("{a:?} is not a mail address")));
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

fn domain_from_row(row: &db::Row) -> Result<Domain> {
    let tls: String = row.try_get("primary_tls")?;
    Ok(Domain {
        id: DomainId(row.try_get("id")?),
        name: row.try_get("name")?,
        primary_host: row.try_get("primary_host")?,
        primary_port: row.try_get::<i64, _>("primary_port")? as u16,
        primary_tls: tls.parse().map_err(StoreError::Invalid)?,
        verify_recipients: row.try_get("verify_recipients")?,
        continuity_enabled: row.try_get("continuity_enabled")?,
    })
}

macro_rules! select_domains {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, primary_host, primary_port, primary_tls, verify_recipients, \
             continuity_enabled FROM domains ",
            $rest
        )
    };
}

impl Store {
    /// Add a protected domain with its primary server.
    pub async fn add_domain(
        &self,
        name: &str,
        primary_host: &str,
        primary_port: u16,
        primary_tls: TlsMode,
    ) -> Result<Domain> {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty()
            || !name.contains('.')
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(StoreError::Invalid(format!(
                "{name:?} is not a domain name (e.g. example.com)"
            )));
        }
        if primary_host.trim().is_empty() || primary_port == 0 {
            return Err(StoreError::Invalid(
                "the primary needs a host and a port".into(),
            ));
        }
        if self.domain_by_name(&name).await?.is_some() {
            return Err(StoreError::Invalid(format!("domain {name} already exists")));
        }
        let id: i64 = db::query(
            "INSERT INTO domains (name, primary_host, primary_port, primary_tls, created_at, \
             probe_interval_ms, probe_timeout_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&name)
        .bind(primary_host.trim())
        .bind(primary_port as i64)
        .bind(primary_tls.as_str())
        .bind(now_ms())
        .bind(super::continuity::DEFAULT_PROBE_INTERVAL_MS)
        .bind(super::continuity::DEFAULT_PROBE_TIMEOUT_MS)
        .fetch_one(&self.read)
        .await?
        .try_get(0)?;
        self.domain(DomainId(id))
            .await?
            .ok_or_else(|| StoreError::NotFound(name))
    }

    /// Change a domain's primary server.
    pub async fn set_primary(
        &self,
        domain: DomainId,
        host: &str,
        port: u16,
        tls: TlsMode,
    ) -> Result<()> {
        let n = db::query(
            "UPDATE domains SET primary_host = ?, primary_port = ?, primary_tls = ? WHERE id = ?",
        )
        .bind(host)
        .bind(port as i64)
        .bind(tls.as_str())
        .bind(domain.0)
        .execute(&self.read)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("domain {domain}")));
        }
        Ok(())
    }

    pub async fn domain(&self, id: DomainId) -> Result<Option<Domain>> {
        let row = db::query(select_domains!("WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(domain_from_row).transpose()
    }

    pub async fn domain_by_name(&self, name: &str) -> Result<Option<Domain>> {
        let row = db::query(select_domains!("WHERE lower(name) = lower(?)"))
            .bind(name.trim().to_ascii_lowercase())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(domain_from_row).transpose()
    }

    pub async fn domains(&self) -> Result<Vec<Domain>> {
        let rows = db::query(select_domains!("ORDER BY name"))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(domain_from_row).collect()
    }

    /// Add a user (primary address plus aliases) to the domain of its address.
    pub async fn add_user(
        &self,
        address: &str,
        display_name: &str,
        aliases: &[String],
        source: &str,
    ) -> Result<User> {
        let address = normalize_address(address)?;
        let domain_name = address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        let domain = self.domain_by_name(domain_name).await?.ok_or_else(|| {
            StoreError::Invalid(format!(
                "{domain_name} is not a protected domain (add it first: continuity domain add)"
            ))
        })?;
        let mut all = vec![address.clone()];
        for a in aliases {
            let a = normalize_address(a)?;
            if !a.ends_with(&format!("@{}", domain.name)) {
                return Err(StoreError::Invalid(format!(
                    "alias {a} is not in the user's domain {}",
                    domain.name
                )));
            }
            all.push(a);
        }
        // Through the writer: no lock contention with ingest, and the
        // uniqueness check and inserts are one atomic step.
        let new = NewUser {
            domain: domain.id,
            addresses: all.clone(),
            display_name: display_name.to_string(),
            source: source.to_string(),
        };
        let id = self
            .call(|reply| writer::Request::AddUser(Box::new(new), reply))
            .await?;
        Ok(User {
            id,
            domain: domain.id,
            address,
            display_name: display_name.to_string(),
            source: source.to_string(),
            disabled: false,
            aliases: all[1..].to_vec(),
        })
    }

    /// Disable or enable a user: a disabled user cannot log in and their
    /// addresses are refused at RCPT; their archive stays.
    pub async fn set_user_disabled(&self, user: UserId, disabled: bool) -> Result<()> {
        let mut tx = self.read.begin().await?;
        let n = db::query("UPDATE users SET disabled = ? WHERE id = ?")
            .bind(disabled)
            .bind(user.0)
            .execute(&mut tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        if disabled {
            db::query("DELETE FROM sessions WHERE user_id = ?")
                .bind(user.0)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The users of a domain, with their aliases.
    pub async fn users(&self, domain: DomainId) -> Result<Vec<User>> {
        let rows = db::query(
            "SELECT u.id, u.address, u.display_name, u.source, u.disabled, \
             (SELECT string_agg(a.address, ' ') FROM user_aliases a WHERE a.user_id = u.id) \
             FROM users u WHERE u.domain_id = ? ORDER BY u.address",
        )
        .bind(domain.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let aliases: Option<String> = r.try_get(5)?;
                Ok(User {
                    id: UserId(r.try_get(0)?),
                    domain,
                    address: r.try_get(1)?,
                    display_name: r.try_get(2)?,
                    source: r.try_get(3)?,
                    disabled: r.try_get(4)?,
                    aliases: aliases
                        .map(|s| s.split(' ').map(str::to_string).collect())
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Load the recipient directory.
    pub async fn directory_snapshot(&self) -> Result<DirectorySnapshot> {
        let mut snap = DirectorySnapshot::default();
        for row in db::query("SELECT id, name, verify_recipients FROM domains")
            .fetch_all(&self.read)
            .await?
        {
            let name: String = row.try_get(1)?;
            snap.domains.insert(
                name.to_ascii_lowercase(),
                (DomainId(row.try_get(0)?), row.try_get(2)?),
            );
        }
        for row in db::query(
            "SELECT address, id, domain_id, disabled FROM users \
             UNION ALL SELECT a.address, u.id, u.domain_id, u.disabled \
             FROM user_aliases a JOIN users u ON u.id = a.user_id",
        )
        .fetch_all(&self.read)
        .await?
        {
            let addr: String = row.try_get(0)?;
            snap.addresses.insert(
                addr.to_lowercase(),
                (
                    UserId(row.try_get(1)?),
                    DomainId(row.try_get(2)?),
                    row.try_get(3)?,
                ),
            );
        }
        Ok(snap)
    }
}
