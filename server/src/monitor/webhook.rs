//! Outage webhooks: at every change of a domain's continuity state, a JSON
//! document is POSTed to the domain's webhook URL, signed with its secret.
//!
//! The notification is stored first (`webhook_outbox`), then a sender task
//! posts it and retries with back-off (10 s, 30 s, 1 min, 5 min, 15 min,
//! then hourly) until the receiver answers 2xx; after a day it is given up
//! and logged. Receivers deduplicate by the `id` (also sent as
//! `Continuity-Webhook-Id`).
//!
//! Signature (`Continuity-Signature: t=<unix seconds>,v1=<hex>`): the
//! HMAC-SHA256, keyed with the secret, of `"<t>.<body>"`; receivers check
//! it, and that `t` is recent, before trusting the body.

use std::sync::Arc;
use std::time::Duration;

use hyper::Uri;
use ring::hmac;
use tokio::sync::watch;

use super::state::{Mode, Transition};
use crate::store::continuity::Monitored;
use crate::store::webhooks::WebhookDue as Due;
use crate::store::{now_ms, Result, Store};

/// Waits between attempts; the last one repeats until [`GIVE_UP_AFTER`].
const BACKOFF: [Duration; 6] = [
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(300),
    Duration::from_secs(900),
    Duration::from_secs(3600),
];
const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// One attempt: connect, TLS, request and answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The event name of a transition.
pub fn event(t: &Transition) -> &'static str {
    match (t.from, t.to) {
        (_, Mode::Outage) => "outage.started",
        (_, Mode::Recovering) => "outage.recovering",
        (Mode::Drill, Mode::Normal) => "drill.ended",
        (_, Mode::Normal) => "outage.ended",
        (_, Mode::Drill) => "drill.started",
    }
}

/// Check a URL for a webhook: absolute http(s) with a host, no user info.
pub fn check_url(url: &str) -> std::result::Result<Uri, String> {
    let uri: Uri = url.trim().parse().map_err(|e| format!("not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("https") | Some("http") => {}
        _ => return Err("the URL must start with https:// (or http://)".into()),
    }
    let Some(auth) = uri.authority() else {
        return Err("the URL has no host".into());
    };
    if auth.as_str().contains('@') {
        return Err("the URL must not carry a user or password".into());
    }
    if auth.host().is_empty() {
        return Err("the URL has no host".into());
    }
    Ok(uri)
}

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, unix: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(unix.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    let tag = ctx.sign();
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix},v1={hex}")
}

/// Store the notification of a transition, if the domain has a webhook.
pub async fn queue(store: &Store, d: &Monitored, t: &Transition) -> Result<bool> {
    store
        .queue_webhook(d.id, |id, now| {
            let at = time::OffsetDateTime::from_unix_timestamp(now / 1000)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
            serde_json::json!({
                "id": id,
                "event": event(t),
                "domain": d.name,
                "from": t.from.as_str(),
                "to": t.to.as_str(),
                "reason": t.reason,
                "at": at,
                "primary": format!("{}:{}", d.primary_host, d.primary_port),
            })
            .to_string()
        })
        .await
}

/// The sender: posts what is due, records the outcome, retries later.
pub struct Sender {
    store: Store,
    /// Whether this node leads the webhook sender (see [`crate::cluster`]).
    leading: watch::Receiver<bool>,
    tls: Arc<rustls::ClientConfig>,
    backoff: Vec<Duration>,
}

impl Sender {
    pub fn new(store: Store) -> Sender {
        Sender {
            store,
            leading: crate::cluster::always(),
            tls: crate::http_post::client_tls(),
            backoff: BACKOFF.to_vec(),
        }
    }

    /// Other waits between attempts (tests).
    pub fn with_backoff(mut self, backoff: Vec<Duration>) -> Sender {
        if !backoff.is_empty() {
            self.backoff = backoff;
        }
        self
    }

    /// Post only while this node leads the sender.
    pub fn led_by(mut self, leading: watch::Receiver<bool>) -> Sender {
        self.leading = leading;
        self
    }

    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let due = if *self.leading.borrow() {
                self.store.due_webhooks(now_ms()).await
            } else {
                Ok(Vec::new())
            };
            match due {
                Ok(due) => {
                    for d in due {
                        self.attempt(d).await;
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read the webhook outbox"),
            }
            let tick = self.backoff[0].min(Duration::from_secs(1));
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }

    async fn attempt(&self, d: Due) {
        let result = tokio::time::timeout(TIMEOUT, self.post(&d))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", TIMEOUT.as_secs())));
        crate::metrics::webhook(result.is_ok());
        let outcome = match result {
            Ok(()) => {
                tracing::info!(id = d.id, url = %d.url, "webhook delivered");
                self.store.webhook_done(d.id, "delivered", None, None).await
            }
            Err(why) => {
                let now = now_ms();
                let age = Duration::from_millis((now - d.created_at).max(0) as u64);
                let wait = self.backoff[(d.attempts as usize).min(self.backoff.len() - 1)];
                if age + wait > GIVE_UP_AFTER {
                    tracing::error!(id = d.id, url = %d.url, error = %why, "webhook given up after a day");
                    self.store
                        .webhook_done(d.id, "failed", None, Some(&why))
                        .await
                } else {
                    tracing::warn!(id = d.id, url = %d.url, error = %why, retry_in = ?wait, "webhook not delivered");
                    self.store
                        .webhook_done(
                            d.id,
                            "pending",
                            Some(now + wait.as_millis() as i64),
                            Some(&why),
                        )
                        .await
                }
            }
        };
        if let Err(e) = outcome {
            tracing::error!(error = %e, id = d.id, "cannot record a webhook attempt");
        }
    }

    /// One POST; Ok on a 2xx answer.
    async fn post(&self, d: &Due) -> std::result::Result<(), String> {
        let uri = check_url(&d.url)?;
        let https = uri.scheme_str() == Some("https");
        let host = uri.host().unwrap_or_default().to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let addrs = if d.checked {
            // set by a domain admin: only where their primary could be,
            // checked now (the name may resolve elsewhere than when saved)
            let allow = self
                .store
                .primary_allowance(d.domain)
                .await
                .map_err(|e| format!("cannot read the domain's allowed networks: {e}"))?;
            Some(
                super::reach::resolve_addresses(&bare, port, &allow)
                    .await
                    .map_err(|r| format!("not posted to {host}: {r}"))?,
            )
        } else {
            None
        };
        let unix = now_ms() / 1000;
        let headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("User-Agent".to_string(), "Continuity-Webhook/1".to_string()),
            ("Continuity-Webhook-Id".to_string(), d.id.to_string()),
            (
                "Continuity-Signature".to_string(),
                signature(&d.secret, unix, &d.body),
            ),
        ];
        let status = crate::http_post::post(
            &self.tls,
            crate::http_post::Post {
                uri: &uri,
                addrs,
                headers,
                body: d.body.clone(),
            },
        )
        .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("answered {status}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://hooks.example.com/continuity?x=1").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        for bad in [
            "ftp://x/",
            "hooks.example.com/x",
            "https://user:pw@hooks.example.com/",
            "",
            "javascript:alert(1)",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // RFC 4231 style check against ring computed independently
        let s = signature("key", 1_700_000_000, "{}");
        assert!(s.starts_with("t=1700000000,v1="));
        let hex = s.rsplit_once("v1=").map(|(_, h)| h).unwrap_or("");
        assert_eq!(hex.len(), 64);
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"key");
        let tag = hmac::sign(&key, b"1700000000.{}");
        let want: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, want);
        assert_ne!(signature("other", 1_700_000_000, "{}"), s);
        assert_ne!(signature("key", 1_700_000_001, "{}"), s);
    }

    #[test]
    fn events_are_named() {
        let t = |from, to| Transition {
            from,
            to,
            reason: String::new(),
        };
        assert_eq!(event(&t(Mode::Normal, Mode::Outage)), "outage.started");
        assert_eq!(
            event(&t(Mode::Outage, Mode::Recovering)),
            "outage.recovering"
        );
        assert_eq!(event(&t(Mode::Recovering, Mode::Normal)), "outage.ended");
        assert_eq!(event(&t(Mode::Normal, Mode::Drill)), "drill.started");
        assert_eq!(event(&t(Mode::Drill, Mode::Normal)), "drill.ended");
    }
}
