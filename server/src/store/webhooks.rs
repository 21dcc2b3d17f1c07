//! The outage webhooks' rows: each domain's URL and secret, and the
//! outbox of notifications the sender in [`crate::monitor::webhook`]
//! posts and retries.

use super::{db, now_ms, DomainId, Result, Store, StoreError};

/// A notification due to be posted.
pub struct WebhookDue {
    pub id: i64,
    pub url: String,
    pub body: String,
    pub secret: String,
    pub attempts: i64,
    pub created_at: i64,
    pub domain: DomainId,
    /// Set by a domain admin: posted only to addresses the domain's
    /// primary could be at ([`crate::monitor::reach`]).
    pub checked: bool,
}

impl Store {
    /// Set (or with None remove) a domain's webhook; returns the new secret.
    /// `checked`: posted only to the addresses a domain admin may name
    /// (set from the Control Panel by one), checked at every post.
    pub async fn set_webhook(
        &self,
        domain: DomainId,
        url: Option<&str>,
        checked: bool,
    ) -> Result<Option<String>> {
        let (url, secret) = match url {
            Some(u) => {
                let uri = crate::monitor::webhook::check_url(u).map_err(StoreError::Invalid)?;
                let secret = crate::auth::token::random_token();
                (Some(uri.to_string()), Some(secret))
            }
            None => (None, None),
        };
        db::query(
            "UPDATE domains SET webhook_url = ?, webhook_secret = ?, webhook_checked = ? \
             WHERE id = ?",
        )
        .bind(&url)
        .bind(&secret)
        .bind(checked && url.is_some())
        .bind(domain.0)
        .execute(&self.read)
        .await?;
        Ok(secret)
    }

    /// The domain's webhook URL, if any (the secret is never read back).
    pub async fn webhook_url(&self, domain: DomainId) -> Result<Option<String>> {
        Ok(
            db::query_scalar("SELECT webhook_url FROM domains WHERE id = ?")
                .bind(domain.0)
                .fetch_optional(&self.read)
                .await?
                .flatten(),
        )
    }

    /// Store a notification for the domain's webhook, if it has one.
    /// `body` makes the document from the notification's id and the time.
    pub async fn queue_webhook(
        &self,
        domain: DomainId,
        body: impl FnOnce(i64, i64) -> String,
    ) -> Result<bool> {
        let Some(url) = self.webhook_url(domain).await? else {
            return Ok(false);
        };
        let now = now_ms();
        let mut tx = self.read.begin().await?;
        let id: i64 = db::query_scalar(
            "INSERT INTO webhook_outbox (domain_id, url, body, created_at, next_attempt_at) \
             VALUES (?, ?, '', ?, ?) RETURNING id",
        )
        .bind(domain.0)
        .bind(&url)
        .bind(now)
        .bind(now)
        .fetch_one(&mut tx)
        .await?;
        let body = body(id, now);
        db::query("UPDATE webhook_outbox SET body = ? WHERE id = ?")
            .bind(&body)
            .bind(id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Notifications due now.
    pub async fn due_webhooks(&self, now: i64) -> Result<Vec<WebhookDue>> {
        let rows = db::query(
            "SELECT w.id, w.url, w.body, COALESCE(d.webhook_secret, ''), w.attempts, w.created_at, \
             d.id, d.webhook_checked \
             FROM webhook_outbox w JOIN domains d ON d.id = w.domain_id \
             WHERE w.status = 'pending' AND w.next_attempt_at <= ? \
             ORDER BY w.next_attempt_at, w.id LIMIT 20",
        )
        .bind(now)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WebhookDue {
                    id: r.try_get(0)?,
                    url: r.try_get(1)?,
                    body: r.try_get(2)?,
                    secret: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                    created_at: r.try_get(5)?,
                    domain: DomainId(r.try_get(6)?),
                    checked: r.try_get(7)?,
                })
            })
            .collect()
    }

    pub async fn webhook_done(
        &self,
        id: i64,
        status: &str,
        next: Option<i64>,
        error: Option<&str>,
    ) -> Result<()> {
        let now = now_ms();
        db::query(
            "UPDATE webhook_outbox SET attempts = attempts + 1, status = ?, \
             next_attempt_at = COALESCE(?, next_attempt_at), last_error = COALESCE(?, last_error), \
             done_at = CASE WHEN ? = 'pending' THEN NULL ELSE ? END WHERE id = ?",
        )
        .bind(status)
        .bind(next)
        .bind(error)
        .bind(status)
        .bind(now)
        .bind(id)
        .execute(&self.read)
        .await?;
        Ok(())
    }

    /// The webhook notifications of a domain, newest first:
    /// (id, status, attempts, last error, body).
    pub async fn webhook_log(
        &self,
        domain: DomainId,
        limit: u32,
    ) -> Result<Vec<(i64, String, i64, Option<String>, String)>> {
        let rows = db::query(
            "SELECT id, status, attempts, last_error, body FROM webhook_outbox \
             WHERE domain_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(domain.0)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                ))
            })
            .collect()
    }
}
