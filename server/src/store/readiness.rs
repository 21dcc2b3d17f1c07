//! Is the store ready for this node's work? For `GET /readyz`: the
//! migrations this binary knows are the ones applied, and the database
//! takes a write (this node's heartbeat) within [`WRITE_WITHIN`].

use std::time::Duration;

use super::{db, now_ms, Result, Store, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

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
        let ours: Vec<i64> = known
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| m.version)
            .collect();
        if let Some(v) = applied.iter().find(|v| !ours.contains(v)) {
            return Ok(Some(format!(
                "the database has migration {v}, which this binary does not know: \
                 a newer version migrated it"
            )));
        }
        Ok(ours
            .iter()
            .find(|v| !applied.contains(v))
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
