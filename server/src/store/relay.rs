//! The continuity relay's settings: each domain's DKIM keys, and how its
//! own server may relay through the submission listener (a secret, whose
//! SHA-256 only is kept, and networks).

use super::{now_ms, DomainId, Result, Store, StoreError};
use crate::store::db;
use app::backend::Refusal;

/// A DKIM key as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct DkimKeyRow {
    pub id: i64,
    pub domain: DomainId,
    pub selector: String,
    /// "rsa-sha256" or "ed25519-sha256".
    pub algorithm: String,
    pub private_der: Vec<u8>,
    pub public_b64: String,
    pub active: bool,
    pub created_at: i64,
}

impl std::fmt::Debug for DkimKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimKeyRow")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// A DKIM selector: a DNS label or several (RFC 6376 §3.1).
pub fn valid_selector(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn key_from_row(r: &db::Row) -> Result<DkimKeyRow> {
    Ok(DkimKeyRow {
        id: r.try_get(0)?,
        domain: DomainId(r.try_get(1)?),
        selector: r.try_get(2)?,
        algorithm: r.try_get(3)?,
        private_der: r.try_get(4)?,
        public_b64: r.try_get(5)?,
        active: r.try_get(6)?,
        created_at: r.try_get(7)?,
    })
}

const KEY_COLUMNS: &str =
    "id, domain_id, selector, algorithm, private_der, public_b64, active, created_at";

impl Store {
    /// Count one message relayed by `domain`'s server at `minute` (since
    /// the epoch) unless the hour up to it holds `max` already — for the
    /// nodes sharing this database; the hour's count when refused. Nodes
    /// asking at the same instant may pass the limit by a message or two.
    pub async fn relay_take(
        &self,
        domain: DomainId,
        minute: i64,
        max: u32,
    ) -> Result<std::result::Result<(), u32>> {
        let mut tx = self.read.begin().await?;
        db::query("DELETE FROM relay_counts WHERE domain_id = ? AND minute <= ?")
            .bind(domain.0)
            .bind(minute - 60)
            .execute(&mut tx)
            .await?;
        let total: i64 = db::query_scalar(
            "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM relay_counts WHERE domain_id = ?",
        )
        .bind(domain.0)
        .fetch_one(&mut tx)
        .await?;
        if total >= i64::from(max) {
            tx.commit().await?;
            return Ok(Err(u32::try_from(total).unwrap_or(u32::MAX)));
        }
        db::query(
            "INSERT INTO relay_counts (domain_id, minute, n) VALUES (?, ?, 1) \
             ON CONFLICT (domain_id, minute) DO UPDATE SET n = relay_counts.n + 1",
        )
        .bind(domain.0)
        .bind(minute)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Keep a new key for `domain` and make it the one that signs (the
    /// previous one stays, inactive).
    pub async fn add_dkim_key(
        &self,
        domain: DomainId,
        selector: &str,
        algorithm: &str,
        private_der: &[u8],
        public_b64: &str,
    ) -> Result<DkimKeyRow> {
        if !valid_selector(selector) {
            return Err(StoreError::Refused(Refusal::DkimSelector(
                selector.to_string(),
            )));
        }
        let mut tx = self.read.begin().await?;
        let taken: Option<i64> =
            db::query_scalar("SELECT id FROM dkim_keys WHERE domain_id = ? AND selector = ?")
                .bind(domain.0)
                .bind(selector)
                .fetch_optional(&mut tx)
                .await?;
        if taken.is_some() {
            return Err(StoreError::Refused(Refusal::DkimSelectorTaken(
                selector.to_string(),
            )));
        }
        db::query("UPDATE dkim_keys SET active = FALSE WHERE domain_id = ?")
            .bind(domain.0)
            .execute(&mut tx)
            .await?;
        let id: i64 = db::query_scalar(
            "INSERT INTO dkim_keys (domain_id, selector, algorithm, private_der, public_b64, \
             active, created_at) VALUES (?, ?, ?, ?, ?, TRUE, ?) RETURNING id",
        )
        .bind(domain.0)
        .bind(selector)
        .bind(algorithm)
        .bind(private_der)
        .bind(public_b64)
        .bind(now_ms())
        .fetch_one(&mut tx)
        .await?;
        tx.commit().await?;
        self.dkim_keys(domain)
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("DKIM key {id}")))
    }

    /// Every key of `domain`, newest first.
    pub async fn dkim_keys(&self, domain: DomainId) -> Result<Vec<DkimKeyRow>> {
        let rows = db::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM dkim_keys WHERE domain_id = ? ORDER BY created_at DESC, id DESC"
        )))
        .bind(domain.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// The key that signs for `domain`, if signing is on.
    pub async fn active_dkim_key(&self, domain: DomainId) -> Result<Option<DkimKeyRow>> {
        let row = db::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM dkim_keys WHERE domain_id = ? AND active = TRUE"
        )))
        .bind(domain.0)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// Signing off (every key inactive), or on again with `selector` (or the
    /// newest key). Returns the active key after the change.
    pub async fn set_dkim_signing(
        &self,
        domain: DomainId,
        on: bool,
        selector: Option<&str>,
    ) -> Result<Option<DkimKeyRow>> {
        let mut tx = self.read.begin().await?;
        db::query("UPDATE dkim_keys SET active = FALSE WHERE domain_id = ?")
            .bind(domain.0)
            .execute(&mut tx)
            .await?;
        if on {
            let id: Option<i64> = match selector {
                Some(s) => {
                    db::query_scalar(
                        "SELECT id FROM dkim_keys WHERE domain_id = ? AND selector = ?",
                    )
                    .bind(domain.0)
                    .bind(s)
                    .fetch_optional(&mut tx)
                    .await?
                }
                None => {
                    db::query_scalar(
                        "SELECT id FROM dkim_keys WHERE domain_id = ? \
                         ORDER BY created_at DESC, id DESC LIMIT 1",
                    )
                    .bind(domain.0)
                    .fetch_optional(&mut tx)
                    .await?
                }
            };
            let Some(id) = id else {
                return Err(StoreError::NotFound(match selector {
                    Some(s) => format!("DKIM key with selector {s}"),
                    None => "a DKIM key for this domain (make one with dkim-keygen)".into(),
                }));
            };
            db::query("UPDATE dkim_keys SET active = TRUE WHERE id = ?")
                .bind(id)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        self.active_dkim_key(domain).await
    }

    /// Forget an inactive key (once its DNS record is gone). The key that
    /// signs cannot be deleted: turn signing off or use another first.
    pub async fn delete_dkim_key(&self, domain: DomainId, selector: &str) -> Result<()> {
        let mut tx = self.read.begin().await?;
        let active: Option<bool> =
            db::query_scalar("SELECT active FROM dkim_keys WHERE domain_id = ? AND selector = ?")
                .bind(domain.0)
                .bind(selector)
                .fetch_optional(&mut tx)
                .await?;
        match active {
            None => {
                return Err(StoreError::NotFound(format!(
                    "DKIM key with selector {selector}"
                )))
            }
            Some(true) => {
                return Err(StoreError::Refused(Refusal::DkimKeySigns(
                    selector.to_string(),
                )))
            }
            Some(false) => {}
        }
        db::query("DELETE FROM dkim_keys WHERE domain_id = ? AND selector = ?")
            .bind(domain.0)
            .bind(selector)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Set (or, with `None`, remove) the SHA-256 of the domain's relay secret.
    pub async fn set_relay_secret(&self, domain: DomainId, hash: Option<&[u8]>) -> Result<()> {
        let n = db::query("UPDATE domains SET relay_secret_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(domain.0)
            .execute(&self.read)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("domain {domain}")));
        }
        Ok(())
    }

    pub async fn relay_secret_hash(&self, domain: DomainId) -> Result<Option<Vec<u8>>> {
        Ok(
            db::query_scalar("SELECT relay_secret_hash FROM domains WHERE id = ?")
                .bind(domain.0)
                .fetch_optional(&self.read)
                .await?
                .flatten(),
        )
    }

    /// Replace the networks the domain's server may relay from. A network
    /// that shares an address with another domain's is refused (whoever
    /// relays from there would be both; the other's name is not told).
    pub async fn set_relay_networks(&self, domain: DomainId, networks: &[String]) -> Result<()> {
        let mut tx = self.read.begin().await?;
        let others: Vec<String> =
            db::query_scalar("SELECT network FROM relay_networks WHERE domain_id <> ?")
                .bind(domain.0)
                .fetch_all(&mut tx)
                .await?;
        let parse = |n: &str| n.parse::<ipnet::IpNet>().ok();
        for n in networks {
            let Some(mine) = parse(n) else {
                return Err(StoreError::Refused(Refusal::NotANetwork(n.to_string())));
            };
            if others
                .iter()
                .filter_map(|o| parse(o))
                .any(|o| crate::relay::access::overlap(&mine, &o))
            {
                return Err(StoreError::Refused(Refusal::NetworkTaken(n.to_string())));
            }
        }
        db::query("DELETE FROM relay_networks WHERE domain_id = ?")
            .bind(domain.0)
            .execute(&mut tx)
            .await?;
        for n in networks {
            db::query(
                "INSERT INTO relay_networks (domain_id, network) VALUES (?, ?) ON CONFLICT DO NOTHING",
            )
                .bind(domain.0)
                .bind(n)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every domain's relay networks: (domain, network).
    pub async fn relay_networks(&self) -> Result<Vec<(DomainId, String)>> {
        let rows =
            db::query("SELECT domain_id, network FROM relay_networks ORDER BY domain_id, network")
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| Ok((DomainId(r.try_get(0)?), r.try_get(1)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::valid_selector;

    #[test]
    fn selectors_are_dns_labels() {
        assert!(valid_selector("cty202612"));
        assert!(valid_selector("mail.2026-12"));
        for bad in ["", "a b", "-x", "x-", "a..b", "a_b", "a;b"] {
            assert!(!valid_selector(bad), "{bad:?}");
        }
    }
}
