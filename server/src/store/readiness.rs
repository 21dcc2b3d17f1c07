//! Is the store ready for this node's work? For `GET /readyz`: the
//! migrations this binary knows are the ones applied, and the database
//! takes a write (this node's heartbeat) within [`WRITE_WITHIN`]. For
//! `continuity check-config`: the database's migrations against this
//! binary's, read without changing anything ([`Migrations::of`]).

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;

use super::{db, now_ms, Result, Store, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use crate::config::StoreUrl;

/// The database's migrations against this binary's.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Migrations {
    /// No database yet (a SQLite file not created): made at first start.
    pub absent: bool,
    /// This binary's, applied.
    pub applied: usize,
    /// This binary's, to apply at the next start.
    pub pending: Vec<i64>,
    /// Applied, but unknown to this binary: a newer version migrated the
    /// database, and this one refuses it.
    pub unknown: Vec<i64>,
}

impl Migrations {
    fn compare(applied: &[i64], known: &sqlx::migrate::Migrator) -> Migrations {
        let ours: Vec<i64> = known
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| m.version)
            .collect();
        Migrations {
            absent: false,
            applied: ours.iter().filter(|v| applied.contains(v)).count(),
            pending: ours
                .iter()
                .filter(|v| !applied.contains(v))
                .copied()
                .collect(),
            unknown: applied
                .iter()
                .filter(|v| !ours.contains(v))
                .copied()
                .collect(),
        }
    }

    /// The database at `url`, read only (nothing is created or migrated).
    pub async fn of(url: &StoreUrl) -> Result<Migrations> {
        const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
        const HAS_TABLE: &str = "SELECT COUNT(*) FROM information_schema.tables \
                                 WHERE table_name = '_sqlx_migrations'";
        match url {
            StoreUrl::Sqlite(path) => {
                if !path.exists() {
                    return Ok(Migrations {
                        absent: true,
                        ..Migrations::default()
                    });
                }
                let opts = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .read_only(true);
                let mut c = sqlx::SqliteConnection::connect_with(&opts).await?;
                let has: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sqlite_master WHERE name = '_sqlx_migrations'",
                )
                .fetch_one(&mut c)
                .await?;
                let applied: Vec<i64> = if has > 0 {
                    sqlx::query_scalar(APPLIED).fetch_all(&mut c).await?
                } else {
                    Vec::new()
                };
                Ok(Migrations::compare(&applied, &SQLITE_MIGRATIONS))
            }
            StoreUrl::Postgres(url) => {
                let opts = sqlx::postgres::PgConnectOptions::from_str(url)?;
                let mut c = sqlx::PgConnection::connect_with(&opts).await?;
                let has: i64 = sqlx::query_scalar(HAS_TABLE).fetch_one(&mut c).await?;
                let applied: Vec<i64> = if has > 0 {
                    sqlx::query_scalar(APPLIED).fetch_all(&mut c).await?
                } else {
                    Vec::new()
                };
                Ok(Migrations::compare(&applied, &POSTGRES_MIGRATIONS))
            }
        }
    }
}

/// A write slower than this counts as not writable (a lock held, a disk
/// that stalls, a database gone read-only).
pub const WRITE_WITHIN: Duration = Duration::from_secs(3);

impl Store {
    /// Why this store is not ready for `node`, if it is not.
    pub async fn not_ready(&self, node: &str) -> Option<String> {
        match self.migrations_differ().await {
            Ok(Some(why)) => return Some(why),
            Ok(None) => {}
            Err(e) => return Some(format!("the database cannot be read: {e}")),
        }
        match tokio::time::timeout(WRITE_WITHIN, self.touch_node(node)).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("the database cannot be written: {e}")),
            Err(_) => Some(format!(
                "the database took no write within {} s",
                WRITE_WITHIN.as_secs()
            )),
        }
    }

    /// The first difference between the migrations applied and this
    /// binary's (another node may have moved the database on).
    async fn migrations_differ(&self) -> Result<Option<String>> {
        let known = match self.backend() {
            db::Backend::Sqlite => &SQLITE_MIGRATIONS,
            db::Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let applied: Vec<i64> =
            db::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(&self.read)
                .await?;
        let m = Migrations::compare(&applied, known);
        if let Some(v) = m.unknown.first() {
            return Ok(Some(format!(
                "the database has migration {v}, which this binary does not know: \
                 a newer version migrated it"
            )));
        }
        Ok(m.pending
            .first()
            .map(|v| format!("migration {v} is not applied")))
    }

    /// This node's heartbeat, now: a real write, in a transaction of its
    /// own (on SQLite it takes the write lock).
    async fn touch_node(&self, node: &str) -> Result<()> {
        let mut tx = self.read.begin().await?;
        db::query("UPDATE nodes SET heartbeat_at = ? WHERE id = ?")
            .bind(now_ms())
            .bind(node)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
