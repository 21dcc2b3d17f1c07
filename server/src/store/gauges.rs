//! What `/metrics` reads from the database at each scrape: the queue, the
//! mail held for primaries, the domains' states, webmail sessions, and the
//! pools' connections. The database's figures are the cluster's (the same
//! from every node); the pools are this node's.

use super::{db, now_ms, Result, Store};

/// Waiting deliveries of one domain (`None`: outbound mail) in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueGauge {
    pub domain: Option<String>,
    /// The domain's state ("normal", "outage", "recovering", "drill").
    pub state: Option<String>,
    /// "queued", "delayed" or "delivering".
    pub status: String,
    pub count: i64,
    /// Of them, held during an outage of the primary.
    pub held: i64,
    /// When the oldest of the held ones was received (ms).
    pub oldest_held: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub queue: Vec<QueueGauge>,
    /// Every domain and its state.
    pub domains: Vec<(String, String)>,
    /// Webmail sessions not yet expired (users and administrators).
    pub web_sessions: i64,
}

/// A pool's connections: (name, open, idle).
pub type PoolGauge = (&'static str, u32, u32);

impl Store {
    /// The database's side of a scrape. Waiting deliveries only (through
    /// the status index): the archive's delivered rows are never counted.
    pub async fn gauges(&self) -> Result<Gauges> {
        let rows = db::query(
            "SELECT dm.name, dm.state, d.status, count(*), \
                    CAST(COALESCE(SUM(CASE WHEN d.via_continuity THEN 1 ELSE 0 END), 0) AS BIGINT), \
                    MIN(CASE WHEN d.via_continuity THEN d.received_at END) \
             FROM deliveries d LEFT JOIN domains dm ON dm.id = d.domain_id \
             WHERE d.status IN ('queued', 'delayed', 'delivering') \
             GROUP BY dm.name, dm.state, d.status",
        )
        .fetch_all(&self.read)
        .await?;
        let queue = rows
            .iter()
            .map(|r| {
                Ok(QueueGauge {
                    domain: r.try_get(0)?,
                    state: r.try_get(1)?,
                    status: r.try_get(2)?,
                    count: r.try_get(3)?,
                    held: r.try_get(4)?,
                    oldest_held: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let domains = db::query("SELECT name, state FROM domains ORDER BY name")
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<_>>>()?;
        let now = now_ms();
        let web_sessions: i64 = db::query_scalar(
            "SELECT (SELECT count(*) FROM sessions WHERE expires_at > ?) \
                  + (SELECT count(*) FROM admin_sessions WHERE expires_at > ?)",
        )
        .bind(now)
        .bind(now)
        .fetch_one(&self.read)
        .await?;
        Ok(Gauges {
            queue,
            domains,
            web_sessions,
        })
    }

    /// This node's connections to the database, by pool.
    pub fn pool_gauges(&self) -> Vec<PoolGauge> {
        let (read, read_idle) = self.read.usage();
        let (write, write_idle) = self.write.usage();
        vec![("read", read, read_idle), ("write", write, write_idle)]
    }
}
