//! The nodes sharing this database and who leads each job: heartbeats and
//! leases (see [`crate::cluster`]). Every call takes the time it acts at,
//! so that leases can be tested with a clock of the test's own.

use super::{db, Result, Store};

/// A node as its heartbeats describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub id: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
    pub version: String,
    /// The fingerprint of its shared settings (`Config::shared_fingerprint`).
    pub settings: String,
}

/// Who holds a job's lease, since when, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub job: String,
    pub holder: String,
    pub since: i64,
    pub expires_at: i64,
}

impl Store {
    /// Record that `node` (started at `started_at`) is alive at `now`.
    /// Returns the start time the row had before: another process using
    /// the same node id shows as a different start time.
    pub async fn heartbeat(
        &self,
        node: &str,
        started_at: i64,
        version: &str,
        settings: &str,
        now: i64,
    ) -> Result<Option<i64>> {
        let mut tx = self.read.begin().await?;
        let before: Option<i64> = db::query_scalar("SELECT started_at FROM nodes WHERE id = ?")
            .bind(node)
            .fetch_optional(&mut tx)
            .await?;
        db::query(
            "INSERT INTO nodes (id, started_at, heartbeat_at, version, settings) \
             VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, \
             heartbeat_at = excluded.heartbeat_at, version = excluded.version, \
             settings = excluded.settings",
        )
        .bind(node)
        .bind(started_at)
        .bind(now)
        .bind(version)
        .bind(settings)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    /// Take or renew `job`'s lease for `holder` until `now + ttl_ms`: true
    /// when `holder` holds it (it was free, expired, or already theirs).
    /// One statement: two nodes asking at once cannot both get it.
    pub async fn lease(&self, job: &str, holder: &str, now: i64, ttl_ms: i64) -> Result<bool> {
        let got: Option<String> = db::query_scalar(
            "INSERT INTO leases (job, holder, since, expires_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, \
               since = CASE WHEN leases.holder = excluded.holder THEN leases.since \
                       ELSE excluded.since END, \
               expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= ? \
             RETURNING holder",
        )
        .bind(job)
        .bind(holder)
        .bind(now)
        .bind(now.saturating_add(ttl_ms))
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        Ok(got.as_deref() == Some(holder))
    }

    /// Give `job`'s lease up (a node stopping): another node takes it at
    /// once instead of after it expires.
    pub async fn release_lease(&self, job: &str, holder: &str) -> Result<()> {
        db::query("DELETE FROM leases WHERE job = ? AND holder = ?")
            .bind(job)
            .bind(holder)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    /// The nodes that ever sent a heartbeat, most recent first.
    pub async fn nodes(&self) -> Result<Vec<NodeRow>> {
        let rows: Vec<(String, i64, i64, String, String)> = db::query_as(
            "SELECT id, started_at, heartbeat_at, version, settings FROM nodes \
             ORDER BY heartbeat_at DESC, id",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, started_at, heartbeat_at, version, settings)| NodeRow {
                    id,
                    started_at,
                    heartbeat_at,
                    version,
                    settings,
                },
            )
            .collect())
    }

    /// Every job's lease, by job.
    pub async fn leases(&self) -> Result<Vec<LeaseRow>> {
        let rows: Vec<(String, String, i64, i64)> =
            db::query_as("SELECT job, holder, since, expires_at FROM leases ORDER BY job")
                .fetch_all(&self.read)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(job, holder, since, expires_at)| LeaseRow {
                job,
                holder,
                since,
                expires_at,
            })
            .collect())
    }
}
