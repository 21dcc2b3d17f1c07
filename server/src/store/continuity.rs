//! The continuity state of each domain as the monitor keeps it: monitoring
//! settings, the current mode (compare-and-set, so a CLI or Control Panel
//! command and the monitor never overwrite each other), the timeline, and
//! the held deliveries.

use crate::monitor::reach::PrimaryAllowance;
use crate::store::db;

use super::{now_ms, DomainId, Result, Store, StoreError};

/// A new domain's probe interval: an idle domain whose primary dies is in
/// its outage within seconds (one probe, then one confirming it).
pub const DEFAULT_PROBE_INTERVAL_MS: i64 = 5_000;
/// A new domain's probe timeout.
pub const DEFAULT_PROBE_TIMEOUT_MS: i64 = 5_000;

/// A domain as the monitor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitored {
    pub id: DomainId,
    pub name: String,
    pub primary_host: String,
    pub primary_port: u16,
    pub primary_tls: String,
    pub state: String,
    pub manual_outage: bool,
    pub drill_until: Option<i64>,
    pub probe_interval_ms: i64,
    pub probe_timeout_ms: i64,
    pub fail_after: u32,
    pub recover_after: u32,
    pub probe_rcpt: String,
}

/// One line of a domain's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineRow {
    pub at: i64,
    pub from: String,
    pub to: String,
    pub reason: String,
}

fn monitored(r: &db::Row) -> Result<Monitored> {
    let name: String = r.try_get(1)?;
    let rcpt: Option<String> = r.try_get(12)?;
    Ok(Monitored {
        id: DomainId(r.try_get(0)?),
        probe_rcpt: rcpt
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| format!("postmaster@{name}")),
        name,
        primary_host: r.try_get(2)?,
        primary_port: r.try_get::<i64, _>(3)? as u16,
        primary_tls: r.try_get(4)?,
        state: r.try_get(5)?,
        manual_outage: r.try_get(6)?,
        drill_until: r.try_get(7)?,
        probe_interval_ms: r.try_get(8)?,
        probe_timeout_ms: r.try_get(9)?,
        fail_after: r.try_get::<i64, _>(10)?.max(1) as u32,
        recover_after: r.try_get::<i64, _>(11)?.max(1) as u32,
    })
}

const SELECT: &str = "SELECT id, name, primary_host, primary_port, primary_tls, state, \
     manual_outage, drill_until, probe_interval_ms, probe_timeout_ms, fail_after, recover_after, \
     probe_rcpt FROM domains";

impl Store {
    pub async fn monitored_domains(&self) -> Result<Vec<Monitored>> {
        let rows = db::query(SELECT).fetch_all(&self.read).await?;
        rows.iter().map(monitored).collect()
    }

    pub async fn monitored_domain(&self, id: DomainId) -> Result<Option<Monitored>> {
        let row = db::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = ?")))
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(monitored).transpose()
    }

    /// Record a transition if the domain is still in `from` (compare and
    /// set). Returns false when someone else changed the state first.
    /// Entering `recovering` makes the held deliveries due at once.
    pub async fn transition(
        &self,
        domain: DomainId,
        from: &str,
        to: &str,
        reason: &str,
        manual: bool,
        drill_until: Option<i64>,
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.read.begin().await?;
        let n = db::query(
            "UPDATE domains SET state = ?, state_since = ?, manual_outage = ?, drill_until = ? \
             WHERE id = ? AND state = ?",
        )
        .bind(to)
        .bind(now)
        .bind(manual)
        .bind(drill_until)
        .bind(domain.0)
        .bind(from)
        .execute(&mut tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        db::query(
            "INSERT INTO domain_timeline (domain_id, at, from_state, to_state, reason) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(domain.0)
        .bind(now)
        .bind(from)
        .bind(to)
        .bind(reason)
        .execute(&mut tx)
        .await?;
        if to == "outage" {
            // everything waiting for this primary is now held (and tracked so)
            db::query(
                "INSERT INTO events (at, message_id, delivery_id, kind, detail) \
                 SELECT ?, message_id, id, 'held', json_object('reason', ?) FROM deliveries \
                 WHERE domain_id = ? AND status IN ('queued', 'delayed')",
            )
            .bind(now)
            .bind(reason)
            .bind(domain.0)
            .execute(&mut tx)
            .await?;
            db::query(
                "UPDATE deliveries SET via_continuity = TRUE \
                 WHERE domain_id = ? AND status IN ('queued', 'delayed')",
            )
            .bind(domain.0)
            .execute(&mut tx)
            .await?;
        }
        if to == "recovering" {
            db::query(
                "INSERT INTO events (at, message_id, delivery_id, kind, detail) \
                 SELECT ?, message_id, id, 'released', json_object('reason', ?) FROM deliveries \
                 WHERE domain_id = ? AND status IN ('queued', 'delayed') AND via_continuity = TRUE",
            )
            .bind(now)
            .bind(reason)
            .bind(domain.0)
            .execute(&mut tx)
            .await?;
            // oldest first: their order is kept by (next_attempt_at, id)
            db::query(
                "UPDATE deliveries SET next_attempt_at = ? \
                 WHERE domain_id = ? AND status IN ('queued', 'delayed') AND next_attempt_at > ?",
            )
            .bind(now)
            .bind(domain.0)
            .bind(now)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        if to == "recovering" {
            self.queue_wake.notify_one();
        }
        Ok(true)
    }

    /// Keep the manual flag in step without a transition (an admin takes
    /// over an automatic outage).
    pub async fn set_manual_outage(&self, domain: DomainId, manual: bool) -> Result<()> {
        db::query("UPDATE domains SET manual_outage = ? WHERE id = ?")
            .bind(manual)
            .bind(domain.0)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    pub async fn timeline(&self, domain: DomainId, limit: u32) -> Result<Vec<TimelineRow>> {
        let rows = db::query(
            "SELECT at, from_state, to_state, reason FROM domain_timeline \
             WHERE domain_id = ? ORDER BY at DESC, id DESC LIMIT ?",
        )
        .bind(domain.0)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TimelineRow {
                    at: r.try_get(0)?,
                    from: r.try_get(1)?,
                    to: r.try_get(2)?,
                    reason: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// A domain's continuity state ('normal', 'outage', 'recovering', 'drill').
    pub async fn domain_state(&self, domain: DomainId) -> Result<Option<String>> {
        Ok(db::query_scalar("SELECT state FROM domains WHERE id = ?")
            .bind(domain.0)
            .fetch_optional(&self.read)
            .await?)
    }

    /// Deliveries to the domain's primary not yet delivered (held or in
    /// flight).
    pub async fn pending_for_domain(&self, domain: DomainId) -> Result<i64> {
        Ok(db::query_scalar(
            "SELECT COUNT(*) FROM deliveries \
             WHERE domain_id = ? AND status IN ('queued', 'delayed', 'delivering')",
        )
        .bind(domain.0)
        .fetch_one(&self.read)
        .await?)
    }

    /// Change a domain's monitoring settings.
    pub async fn set_monitoring(
        &self,
        domain: DomainId,
        interval_ms: i64,
        timeout_ms: i64,
        fail_after: u32,
        recover_after: u32,
        probe_rcpt: Option<&str>,
    ) -> Result<()> {
        if interval_ms < 1000 || timeout_ms < 500 || fail_after == 0 || recover_after == 0 {
            return Err(StoreError::Invalid(
                "interval ≥ 1 s, timeout ≥ 0.5 s, thresholds ≥ 1".into(),
            ));
        }
        db::query(
            "UPDATE domains SET probe_interval_ms = ?, probe_timeout_ms = ?, fail_after = ?, \
             recover_after = ?, probe_rcpt = ? WHERE id = ?",
        )
        .bind(interval_ms)
        .bind(timeout_ms)
        .bind(fail_after as i64)
        .bind(recover_after as i64)
        .bind(probe_rcpt)
        .bind(domain.0)
        .execute(&self.read)
        .await?;
        Ok(())
    }

    /// What the domain's admins may name as the primary beyond public
    /// addresses and mail ports (an operator's choice).
    pub async fn primary_allowance(&self, domain: DomainId) -> Result<PrimaryAllowance> {
        let row: Option<(String, String)> = db::query_as(
            "SELECT primary_allow_networks, primary_allow_ports FROM domains WHERE id = ?",
        )
        .bind(domain.0)
        .fetch_optional(&self.read)
        .await?;
        let (nets, ports) = row.unwrap_or_default();
        PrimaryAllowance::parse(&nets, &ports).map_err(StoreError::Invalid)
    }

    pub async fn set_primary_allowance(
        &self,
        domain: DomainId,
        allow: &PrimaryAllowance,
    ) -> Result<()> {
        db::query(
            "UPDATE domains SET primary_allow_networks = ?, primary_allow_ports = ? WHERE id = ?",
        )
        .bind(allow.networks_text())
        .bind(allow.ports_text())
        .bind(domain.0)
        .execute(&self.read)
        .await?;
        Ok(())
    }
}
