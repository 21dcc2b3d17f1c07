//! A consistent copy of the SQLite store taken while the service runs
//! (`continuity backup`, see `crate::backup`), and what a copy holds.
//!
//! `VACUUM INTO` reads the database in one read transaction: the copy is
//! the database as of that transaction's start, whatever the writer
//! commits meanwhile (WAL: the writer is never blocked), and it is a
//! compact, self-contained file (no WAL beside it).

use std::collections::BTreeMap;
use std::path::Path;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::Connection;

use super::{Result, StoreError};

/// The tables whose rows a backup's manifest counts (checked again after
/// a restore).
pub const COUNTED: [&str; 6] = [
    "domains",
    "users",
    "messages",
    "message_blobs",
    "deliveries",
    "mailbox",
];

/// What a database file holds: its migrations and row counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub migrations: Vec<i64>,
    pub counts: BTreeMap<String, i64>,
}

async fn open_read_only(path: &Path) -> Result<sqlx::SqliteConnection> {
    if !path.exists() {
        return Err(StoreError::Invalid(format!(
            "no database at {}",
            path.display()
        )));
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(30));
    Ok(sqlx::SqliteConnection::connect_with(&opts).await?)
}

/// Copy the database at `db` into `into` (which must not exist), as of
/// one moment, without stopping the service.
pub async fn copy_into(db: &Path, into: &Path) -> Result<()> {
    let mut c = open_read_only(db).await?;
    let target = into
        .to_str()
        .ok_or_else(|| StoreError::Invalid(format!("{} is not a UTF-8 path", into.display())))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut c)
        .await?;
    c.close().await?;
    Ok(())
}

/// Check the database file at `path` (SQLite's `quick_check`) and say what
/// it holds.
pub async fn inventory(path: &Path) -> Result<Inventory> {
    let mut c = open_read_only(path).await?;
    let check: Vec<String> = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_all(&mut c)
        .await?;
    if check != ["ok"] {
        return Err(StoreError::Invalid(format!(
            "{} is damaged: {}",
            path.display(),
            check.join("; ")
        )));
    }
    let migrations =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&mut c)
            .await?;
    let mut counts = BTreeMap::new();
    for table in COUNTED {
        // table names from the constant above, never from input
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&mut c)
                .await?;
        counts.insert(table.to_string(), n);
    }
    c.close().await?;
    Ok(Inventory { migrations, counts })
}

/// This binary's migrations (SQLite): a backup made by a newer version
/// has some it does not know.
pub fn known_migrations() -> Vec<i64> {
    super::SQLITE_MIGRATIONS
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect()
}
