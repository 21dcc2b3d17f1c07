//! Failed logins recorded for the other nodes on one database (see
//! `auth/throttle.rs`): each node writes its own and reads the others'.

use crate::store::db;

use super::{Result, Store};

/// Failures other nodes recorded within the window.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Elsewhere {
    /// From this source, any account.
    pub source: usize,
    /// From this source, on this account.
    pub pair: usize,
    /// On this account, from any source.
    pub account: usize,
}

/// What a node tells the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginEvent {
    Failed {
        account: String,
        source: String,
        at: i64,
    },
    /// The right password from this source: its failures on the account are
    /// forgiven.
    Succeeded { account: String, source: String },
}

impl Store {
    /// Record what this node (`origin`) saw.
    pub async fn record_login_events(&self, origin: &str, events: &[LoginEvent]) -> Result<()> {
        let mut tx = self.read.begin().await?;
        for e in events {
            match e {
                LoginEvent::Failed {
                    account,
                    source,
                    at,
                } => {
                    db::query(
                        "INSERT INTO login_failures (origin, source, account, at) VALUES (?, ?, ?, ?)",
                    )
                    .bind(origin)
                    .bind(source)
                    .bind(account)
                    .bind(*at)
                    .execute(&mut tx)
                    .await?;
                }
                LoginEvent::Succeeded { account, source } => {
                    db::query("DELETE FROM login_failures WHERE source = ? AND account = ?")
                        .bind(source)
                        .bind(account)
                        .execute(&mut tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Failures other nodes than `origin` recorded since `since`.
    pub async fn login_failures_elsewhere(
        &self,
        origin: &str,
        source: &str,
        account: &str,
        since: i64,
    ) -> Result<Elsewhere> {
        let (s, p, a): (i64, i64, i64) = db::query_as(
            "SELECT \
               CAST(COALESCE(SUM(CASE WHEN source = ?1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
               CAST(COALESCE(SUM(CASE WHEN source = ?1 AND account = ?2 THEN 1 ELSE 0 END), 0) AS BIGINT), \
               CAST(COALESCE(SUM(CASE WHEN account = ?2 THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM login_failures \
             WHERE (source = ?1 OR account = ?2) AND at > ?3 AND origin <> ?4",
        )
        .bind(source)
        .bind(account)
        .bind(since)
        .bind(origin)
        .fetch_one(&self.read)
        .await?;
        let n = |x: i64| usize::try_from(x).unwrap_or(0);
        Ok(Elsewhere {
            source: n(s),
            pair: n(p),
            account: n(a),
        })
    }

    /// Forget failures older than `before` (outside every window).
    pub async fn forget_login_failures(&self, before: i64) -> Result<u64> {
        let r = db::query("DELETE FROM login_failures WHERE at < ?")
            .bind(before)
            .execute(&self.read)
            .await?;
        Ok(r.rows_affected())
    }
}
