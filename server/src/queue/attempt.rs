//! One attempt at a transaction: a message's claimed deliveries to one
//! destination, sent together, each recipient's outcome recorded on its
//! own (a recipient refused among several bounces alone; one deferred is
//! retried alone).

use std::time::Duration;

use futures_util::future::join_all;

use crate::directory::{RcptVerdict, RecipientPolicy};
use crate::metrics;
use crate::store::{now_ms, Claim, NewMessage, NewRecipient, Origin, Outcome, Summary};

use super::routes::Routes;
use super::trace::{count_received, received_header, MAX_RECEIVED};
use super::{dsn, gate, pace, share, Attempt, Queue};

impl Queue {
    /// One attempt for claimed deliveries of one message to one
    /// destination (see [`Queue::transactions`]), outcomes recorded.
    /// Abandoned if this node's hold on its claims runs out first (see
    /// [`super::hold`]).
    pub async fn attempt(&self, claims: Vec<Claim>) {
        if claims.is_empty() {
            return;
        }
        let began = std::time::Instant::now();
        let outcomes = tokio::select! {
            o = self.try_deliver(&claims) => o,
            _ = self.hold.lost() => {
                tracing::warn!(
                    delivery = %claims[0].delivery,
                    deliveries = claims.len(),
                    "attempt abandoned: this node could not renew its claims in time \
                     (database unreachable?); they go back to the queue"
                );
                return;
            }
        };
        let took = began.elapsed();
        let now = now_ms();
        for (claim, outcome) in claims.iter().zip(&outcomes) {
            let (kind, latency) = match outcome {
                Outcome::Delivered { .. } => (
                    metrics::Delivery::Delivered,
                    u64::try_from(now - claim.received_at)
                        .ok()
                        .map(Duration::from_millis),
                ),
                Outcome::Deferred { .. } => (metrics::Delivery::Deferred, None),
                Outcome::Bounced { .. } => (metrics::Delivery::Bounced, None),
                Outcome::Expired { .. } => (metrics::Delivery::Expired, None),
            };
            metrics::delivery(kind, took, latency);
        }
        join_all(
            claims
                .iter()
                .zip(outcomes)
                .map(|(claim, outcome)| self.record(claim, outcome)),
        )
        .await;
    }

    /// The outcome must be recorded: retried until it is, or until the
    /// claim is no longer this node's (another node took it back).
    async fn record(&self, claim: &Claim, outcome: Outcome) {
        let mut wait = Duration::from_millis(100);
        loop {
            match self.store.record_outcome(claim, outcome.clone()).await {
                Ok(()) => return,
                Err(crate::store::StoreError::NotFound(why)) => {
                    tracing::warn!(delivery = %claim.delivery, %why, "outcome not recorded: the claim was taken back");
                    return;
                }
                Err(e) => {
                    tracing::error!(delivery = %claim.delivery, error = %e, "cannot record outcome; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Every claim's outcome, in their order.
    async fn try_deliver(&self, claims: &[Claim]) -> Vec<Outcome> {
        let now = now_ms();
        let first = &claims[0];
        let each_later = |why: &str| -> Vec<Outcome> {
            claims
                .iter()
                .map(|c| self.temporary(c, why.to_string(), String::new(), None, now))
                .collect()
        };
        let bounce_each = |why: &str, status: &str, raw: &[u8]| -> Vec<Outcome> {
            claims
                .iter()
                .map(|c| Outcome::Bounced {
                    reply: why.to_string(),
                    remote: String::new(),
                    dsn: self.dsn(c, why, None, status, raw),
                })
                .collect()
        };
        let routes = match self.routes_for(first).await {
            Routes::Try(r) if !r.is_empty() => r,
            Routes::Try(_) => return each_later("no route"),
            Routes::Later(why) => return each_later(&why),
            Routes::Refused(why) => {
                let raw = self.store.raw_message(first.message).await.ok().flatten();
                return bounce_each(&why, "5.1.2", raw.as_deref().unwrap_or_default());
            }
        };
        let first_route = routes[0].to_string();
        let raw = match self.store.raw_message(first.message).await {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                return claims
                    .iter()
                    .map(|_| Outcome::Bounced {
                        reply: "message body missing from the archive".into(),
                        remote: String::new(),
                        dsn: None,
                    })
                    .collect()
            }
            Err(e) => {
                let why = e.to_string();
                return claims
                    .iter()
                    .map(|c| self.temporary(c, why.clone(), first_route.clone(), None, now))
                    .collect();
            }
        };
        if count_received(&raw) >= MAX_RECEIVED {
            let why = format!(
                "554 5.4.6 mail loop: the message went through {MAX_RECEIVED} or more relays"
            );
            return bounce_each(&why, "5.4.6", &raw);
        }
        // the sending domain's signature, made for this delivery
        let raw = std::sync::Arc::new(raw);
        let signature = match first.sign_as {
            Some(domain) => {
                crate::relay::delivery_signature(&self.store, domain, &first.mail_from, &raw).await
            }
            None => None,
        };
        let received = received_header(claims, &self.hostname);
        let signature = signature.unwrap_or_default();
        let mut message = Vec::with_capacity(received.len() + signature.len() + raw.len());
        message.extend_from_slice(received.as_bytes());
        message.extend_from_slice(signature.as_bytes());
        message.extend_from_slice(&raw);
        // A primary back from an outage gets its held backlog at a measured
        // rate (oldest first, by the claim order), not all at once.
        let alive = self.nodes_alive.load(std::sync::atomic::Ordering::Relaxed);
        if let (Some(domain), rate) = (first.domain, share(self.cfg.recovery_rate, alive)) {
            if rate > 0
                && matches!(self.store.domain_state(domain).await, Ok(Some(s)) if s == "recovering")
            {
                let wait = {
                    let mut pacer = self.pacer.lock().unwrap_or_else(|p| p.into_inner());
                    let next = pacer.entry(domain).or_insert(0);
                    pace(next, now_ms() * 1000, rate)
                };
                if wait > 0 {
                    tokio::time::sleep(Duration::from_micros(wait as u64)).await;
                }
            }
        }
        // RFC 5321 §5.1: on a temporary failure, the next host is tried
        // (for the recipients it was temporary for)
        let mut outcomes: Vec<Option<Outcome>> = vec![None; claims.len()];
        let mut last: Vec<(String, String)> = vec![(String::new(), first_route); claims.len()];
        for route in &routes {
            let pending: Vec<usize> = (0..claims.len())
                .filter(|&i| outcomes[i].is_none())
                .collect();
            if pending.is_empty() {
                break;
            }
            let rcpts: Vec<&str> = pending.iter().map(|&i| claims[i].rcpt.as_str()).collect();
            let pass = self.route_gate(route).enter().await;
            let remote = route.to_string();
            tracing::debug!(delivery = %claims[pending[0]].delivery, recipients = rcpts.len(), %remote, "delivering");
            let attempts = self
                .deliverer
                .deliver(route, &first.mail_from, &rcpts, &message)
                .await;
            let busy = attempts.iter().all(|a| matches!(a, Attempt::Temporary(_)));
            pass.leave(if busy {
                gate::Met::Busy
            } else {
                gate::Met::Answered
            });
            // a deliverer that answered for fewer recipients left the rest unsent
            let attempts = attempts
                .into_iter()
                .chain(std::iter::repeat(Attempt::Temporary("no reply".into())));
            for (&i, attempt) in pending.iter().zip(attempts) {
                let remote = remote.clone();
                match attempt {
                    Attempt::Accepted(reply) => {
                        outcomes[i] = Some(Outcome::Delivered { reply, remote })
                    }
                    Attempt::Temporary(reply) => last[i] = (reply, remote),
                    Attempt::Permanent(reply) => {
                        let dsn = self.dsn(&claims[i], &reply, Some(&remote), "5.0.0", &raw);
                        outcomes[i] = Some(Outcome::Bounced { reply, remote, dsn });
                    }
                }
            }
        }
        let mut told = false;
        outcomes
            .into_iter()
            .zip(last)
            .zip(claims)
            .map(|((outcome, (reply, remote)), claim)| {
                outcome.unwrap_or_else(|| {
                    // the monitor hears once per transaction
                    if let (false, Some(domain), Some(tx)) =
                        (told, claim.domain, self.signals.get())
                    {
                        let _ = tx.try_send((domain, reply.clone()));
                        told = true;
                    }
                    self.temporary(claim, reply, remote, Some(&raw), now)
                })
            })
            .collect()
    }

    /// A temporary failure: retry later, or expire when too old.
    fn temporary(
        &self,
        claim: &Claim,
        reply: String,
        remote: String,
        raw: Option<&[u8]>,
        now: i64,
    ) -> Outcome {
        let age = Duration::from_millis((now - claim.received_at).max(0) as u64);
        if age >= self.cfg.max_age {
            let reason = format!(
                "message expired after {} in the queue; last error: {reply}",
                humantime::format_duration(Duration::from_secs(age.as_secs()))
            );
            let dsn = self.dsn(
                claim,
                &reason,
                (!remote.is_empty()).then_some(remote.as_str()),
                "4.4.7",
                raw.unwrap_or_default(),
            );
            return Outcome::Expired { reply: reason, dsn };
        }
        let i = (claim.attempts as usize).min(self.cfg.retry_intervals.len() - 1);
        let wait = self.cfg.retry_intervals[i];
        Outcome::Deferred {
            reply,
            remote,
            next_attempt_at: now + wait.as_millis() as i64,
        }
    }

    /// The DSN for a failed delivery; none for the null sender (RFC 5321
    /// §4.5.5: never bounce a bounce).
    fn dsn(
        &self,
        claim: &Claim,
        diagnostic: &str,
        remote: Option<&str>,
        default_status: &str,
        raw: &[u8],
    ) -> Option<NewMessage> {
        if claim.mail_from.is_empty() {
            return None;
        }
        let bytes = dsn::build(&dsn::Failure {
            reporting_mta: &self.hostname,
            original_sender: &claim.mail_from,
            rcpt: &claim.rcpt,
            diagnostic,
            status: dsn::status_of(diagnostic, default_status),
            remote_mta: remote,
            arrival: claim.received_at,
            original: raw,
        });
        let (domain, user) = match self.directory.check(&claim.mail_from) {
            RcptVerdict::Accept { domain, user } => (Some(domain), user),
            RcptVerdict::UnknownUser | RcptVerdict::Disabled => {
                // In a protected domain but unknown here: its primary decides.
                let d = self
                    .directory
                    .current()
                    .domains
                    .get(
                        &claim
                            .mail_from
                            .rsplit_once('@')
                            .map(|(_, d)| d.to_ascii_lowercase())
                            .unwrap_or_default(),
                    )
                    .map(|(id, _)| *id);
                (d, None)
            }
            RcptVerdict::NotProtected => (None, None),
        };
        Some(NewMessage {
            origin: Origin::Dsn,
            mail_from: String::new(),
            client_ip: None,
            helo: None,
            tls: false,
            summary: Summary::parse(&bytes),
            raw: bytes,
            recipients: vec![NewRecipient {
                rcpt: claim.mail_from.clone(),
                domain,
                user,
            }],
            in_reply_to: Some(claim.message),
            sign_as: None,
        })
    }
}
