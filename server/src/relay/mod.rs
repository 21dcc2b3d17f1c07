//! The continuity relay: mail users send (from the webmail, or from their
//! mail app through SMTP submission) and mail a domain's own server relays
//! through us, on one path:
//!
//! 1. the sender is checked (an enabled account the Continuity Service
//!    covers, under the hourly limit);
//! 2. recipients are sorted: addresses of protected domains are delivered
//!    locally (archived, their continuity mailbox, then their primary),
//!    others go through the outbound route (smarthost or MX);
//! 3. a user's own copy is queued for their mailbox on their primary
//!    (`web.copy_sent_to_primary`), so their server has it after an outage;
//! 4. the message is marked to be DKIM-signed for the sender's domain:
//!    the queue signs each delivery with the domain's active key
//!    ([`delivery_signature`]), off the commit the sender waits for;
//! 5. it is stored durably and queued ([`Store::ingest`]) — only then is the
//!    sender told it was sent — and filed in the sender's Sent.
//!
//! - [`dkim`]: keys, DNS records and signatures (mail-auth);
//! - [`access`]: how a domain's own server may relay (networks, credentials);
//! - [`testing`]: a receiving server's DKIM check, for tests.

pub mod access;
pub mod dkim;
pub mod testing;

use crate::directory::{RcptVerdict, RecipientPolicy};
use crate::store::admin::DirectorySnapshot;
use crate::store::{
    DomainId, MessageId, NewMessage, NewRecipient, Origin, Store, StoreError, Summary, UserId,
};

/// Limits and choices of the relay.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Queue a copy of what a user sends for their own mailbox on their primary.
    pub copy_sent_to_primary: bool,
    /// Most messages a user may send in an hour (webmail and submission together).
    pub max_per_hour: i64,
    /// Most messages a domain's own server may relay in an hour.
    pub relay_max_per_hour: u32,
    /// What each domain's server relayed in the last hour (shared by the
    /// submission listeners of this process).
    pub relayed: std::sync::Arc<HourlyCounts>,
    /// What each user sent in the last hour, as last counted (shared by
    /// the webmail and the submission listeners of this process).
    pub sent: std::sync::Arc<SentCounts>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            copy_sent_to_primary: true,
            max_per_hour: 200,
            relay_max_per_hour: 20_000,
            relayed: Default::default(),
            sent: Default::default(),
        }
    }
}

/// Counts per domain over the last hour, in one-minute buckets (memory:
/// 60 counters a domain, whatever the rate).
#[derive(Debug, Default)]
pub struct HourlyCounts {
    inner: std::sync::Mutex<std::collections::HashMap<DomainId, (u64, [u32; 60])>>,
}

impl HourlyCounts {
    /// Count one for `domain` at minute `minute` unless the last hour holds
    /// `max` already; the hour's count when refused.
    pub fn take(&self, domain: DomainId, minute: u64, max: u32) -> Result<(), u32> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (last, buckets) = map.entry(domain).or_insert((minute, [0; 60]));
        // clear the buckets of the minutes that went by since the last count
        let gone = minute.saturating_sub(*last).min(60);
        for m in 1..=gone {
            buckets[((*last + m) % 60) as usize] = 0;
        }
        *last = (*last).max(minute);
        let total: u32 = buckets.iter().sum();
        if total >= max {
            return Err(total);
        }
        buckets[(minute % 60) as usize] += 1;
        Ok(())
    }
}

/// How long a user's count of messages sent in the last hour is used
/// before it is counted again in the store.
pub const SENT_RECOUNT_MS: i64 = 10_000;

/// Users' counts of messages sent in the last hour, so that a send does not
/// count them in the store each time (a step per message sent): counted at
/// most every [`SENT_RECOUNT_MS`], plus what this process stored since. A
/// count never drops before its recount (messages leaving the hour are let
/// go then), so a user at their limit waits at most that much longer. Used
/// on SQLite, where this process stores every message; nodes sharing a
/// PostgreSQL database count in it at each send, so the limit holds across
/// them.
#[derive(Debug, Default)]
pub struct SentCounts {
    inner: std::sync::Mutex<std::collections::HashMap<UserId, (i64, i64)>>,
}

impl SentCounts {
    /// The user's count, if it was counted in the store since `now - SENT_RECOUNT_MS`.
    pub fn fresh(&self, user: UserId, now: i64) -> Option<i64> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&user)
            .filter(|(_, at)| *at > now - SENT_RECOUNT_MS)
            .map(|(n, _)| *n)
    }
    /// The count just read from the store.
    pub fn counted(&self, user: UserId, n: i64, now: i64) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (_, at)| *at > now - SENT_RECOUNT_MS);
        }
        map.insert(user, (n, now));
    }
    /// One more message stored for the user.
    pub fn add(&self, user: UserId) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((n, _)) = map.get_mut(&user) {
            *n += 1;
        }
    }
}

/// Who is sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// A user of a protected domain (webmail, or authenticated submission).
    User(UserId),
    /// A protected domain's own server relaying its outbound mail.
    Primary(DomainId),
}

/// A message ready to go: envelope, bytes as built or received, and where
/// it came from (for tracking).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub origin: Origin,
    pub sender: Sender,
    /// Envelope sender ("" for the null sender, which only a primary may use).
    pub mail_from: String,
    pub rcpts: Vec<String>,
    pub raw: Vec<u8>,
    /// The summary, when the caller parsed the message already (made by
    /// [`Summary::for_ingest_with`]); else [`send`] makes it.
    pub summary: Option<Summary>,
    pub client_ip: Option<String>,
    pub helo: Option<String>,
    pub tls: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_relays_at_most_its_hourly_limit_and_the_hour_slides() {
        let c = HourlyCounts::default();
        let (a, b) = (DomainId(1), DomainId(2));
        for i in 0..3 {
            assert_eq!(c.take(a, 100 + i, 3), Ok(()));
        }
        assert_eq!(c.take(a, 102, 3), Err(3));
        assert_eq!(c.take(b, 102, 3), Ok(()), "another domain has its own");
        // an hour after the first, its minute is free again
        assert_eq!(c.take(a, 159, 3), Err(3));
        assert_eq!(c.take(a, 160, 3), Ok(()));
        assert_eq!(c.take(a, 160, 3), Err(3));
        // long silence: everything gone
        assert_eq!(c.take(a, 1000, 3), Ok(()));
    }

    #[test]
    fn a_users_count_is_used_until_its_recount_and_grows_with_each_send() {
        let c = SentCounts::default();
        let (u, v) = (UserId(1), UserId(2));
        assert_eq!(c.fresh(u, 1_000), None, "never counted");
        c.add(u); // nothing to add to: the next send counts in the store
        assert_eq!(c.fresh(u, 1_000), None);
        c.counted(u, 5, 1_000);
        c.add(u);
        c.add(u);
        assert_eq!(c.fresh(u, 1_000 + SENT_RECOUNT_MS - 1), Some(7));
        assert_eq!(c.fresh(u, 1_000 + SENT_RECOUNT_MS), None, "recounted");
        assert_eq!(c.fresh(v, 1_000), None, "each user their own");
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("{0} messages sent in the last hour: the most allowed")]
    RateLimited(i64),
    #[error("the account is disabled")]
    Disabled,
    /// The Continuity Service does not cover the user (off for their
    /// domain, or they are not among its selected users).
    #[error("the Continuity Service is not enabled for this account")]
    NotCovered,
    #[error("the message has no recipient")]
    NoRecipient,
    #[error("the store is unavailable: {0}")]
    Unavailable(#[from] StoreError),
}

/// How a recipient is delivered.
pub fn recipient(snap: &DirectorySnapshot, rcpt: &str) -> NewRecipient {
    match snap.check(rcpt) {
        RcptVerdict::Accept { domain, user } => NewRecipient {
            rcpt: rcpt.to_string(),
            domain: Some(domain),
            user,
        },
        // a protected domain's address unknown here: its primary decides
        RcptVerdict::UnknownUser | RcptVerdict::Disabled => NewRecipient {
            rcpt: rcpt.to_string(),
            domain: snap.domains.get(&domain_of(rcpt)).map(|(id, _)| *id),
            user: None,
        },
        RcptVerdict::NotProtected => NewRecipient {
            rcpt: rcpt.to_string(),
            domain: None,
            user: None,
        },
    }
}

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default()
}

/// Send `out` (see the module's steps). Returns the stored message.
pub async fn send(
    store: &Store,
    snap: &DirectorySnapshot,
    opts: &RelayOptions,
    out: Outgoing,
) -> Result<MessageId, RelayError> {
    if out.rcpts.is_empty() {
        return Err(RelayError::NoRecipient);
    }
    let mut sent_by = None;
    let mut recipients: Vec<NewRecipient> = out.rcpts.iter().map(|r| recipient(snap, r)).collect();
    match out.sender {
        Sender::User(user) => {
            let now = crate::store::now_ms();
            let missing = || StoreError::NotFound(format!("user {user}"));
            // one node sees every send of its own database; nodes sharing
            // one count in it each time (bounded by the limit)
            let cached = match store.backend() {
                crate::store::db::Backend::Sqlite => opts.sent.fresh(user, now),
                crate::store::db::Backend::Postgres => None,
            };
            let (account, n) = match cached {
                Some(n) => (store.account(user).await?.ok_or_else(missing)?, n),
                None => {
                    let (account, n) = store
                        .sender(user, 3_600_000, opts.max_per_hour)
                        .await?
                        .ok_or_else(missing)?;
                    opts.sent.counted(user, n, now);
                    (account, n)
                }
            };
            if account.disabled {
                return Err(RelayError::Disabled);
            }
            // checked at each send, not only at login: a user removed from
            // the service while logged in (or in a long SMTP session) stops
            if !account.covered {
                return Err(RelayError::NotCovered);
            }
            if n >= opts.max_per_hour {
                return Err(RelayError::RateLimited(n));
            }
            // the sender's own copy, for their own server (no second entry
            // in their continuity mailbox: it is in Sent)
            if opts.copy_sent_to_primary
                && !recipients
                    .iter()
                    .any(|r| r.rcpt.eq_ignore_ascii_case(&account.address))
            {
                recipients.push(NewRecipient {
                    rcpt: account.address.to_ascii_lowercase(),
                    domain: Some(account.domain),
                    user: None,
                });
            }
            sent_by = Some(user);
        }
        Sender::Primary(domain) => {
            let minute = (crate::store::now_ms() / 60_000).max(0);
            // one node counts in memory; nodes sharing a database, in it
            let taken = match store.backend() {
                crate::store::db::Backend::Sqlite => {
                    opts.relayed
                        .take(domain, minute as u64, opts.relay_max_per_hour)
                }
                crate::store::db::Backend::Postgres => store
                    .relay_take(domain, minute, opts.relay_max_per_hour)
                    .await
                    .map_err(RelayError::Unavailable)?,
            };
            if let Err(n) = taken {
                return Err(RelayError::RateLimited(n as i64));
            }
            // filed in the Sent of the user it is from, when they are ours
            if let RcptVerdict::Accept {
                user: Some(user), ..
            } = snap.check(&out.mail_from)
            {
                sent_by = Some(user);
            }
        }
    }
    // signed when delivered (see delivery_signature), by the domain the
    // envelope sender is of
    let sign_as = snap
        .domains
        .get(&domain_of(&out.mail_from))
        .map(|&(id, _)| id);
    let (raw, summary) = match out.summary {
        Some(summary) => (out.raw, summary),
        None => Summary::for_ingest(out.raw)
            .await
            .map_err(|e| StoreError::Invalid(format!("summary task failed: {e}")))?,
    };
    let id = store
        .ingest_filed(
            NewMessage {
                origin: out.origin,
                mail_from: out.mail_from,
                client_ip: out.client_ip,
                helo: out.helo,
                tls: out.tls,
                summary,
                raw,
                recipients,
                in_reply_to: None,
                sign_as,
            },
            sent_by,
        )
        .await?;
    if let Some(user) = sent_by {
        opts.sent.add(user);
    }
    Ok(id)
}

/// Parsed keys, by key row (a new key is a new row: nothing goes stale).
static SIGNERS: std::sync::OnceLock<
    std::sync::Mutex<std::collections::HashMap<i64, std::sync::Arc<dkim::Signer>>>,
> = std::sync::OnceLock::new();

fn signer(
    key: &crate::store::relay::DkimKeyRow,
    domain: &str,
    algorithm: dkim::Algorithm,
) -> Result<std::sync::Arc<dkim::Signer>, dkim::DkimError> {
    let cache = SIGNERS.get_or_init(Default::default);
    if let Some(s) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key.id) {
        return Ok(s.clone());
    }
    let s = std::sync::Arc::new(dkim::Signer::new(
        domain,
        &key.selector,
        algorithm,
        &key.private_der,
    )?);
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() > 1000 {
        map.clear();
    }
    map.insert(key.id, s.clone());
    Ok(s)
}

/// The `DKIM-Signature` header field for a delivery of `raw`, signed for
/// the envelope sender's domain with `domain`'s active key — the key of
/// the day it is sent, as Exim's transports sign, so mail queued before a
/// key change goes out with the new key. `None` when the domain has no
/// active key, or its key cannot be used (logged: mail must not stop for a
/// signature). The RSA work runs off the async workers.
pub async fn delivery_signature(
    store: &Store,
    domain: DomainId,
    mail_from: &str,
    raw: &std::sync::Arc<Vec<u8>>,
) -> Option<String> {
    let name = domain_of(mail_from);
    let key = match store.active_dkim_key(domain).await {
        Ok(Some(k)) => k,
        Ok(None) => return None,
        Err(e) => {
            tracing::error!(error = %e, domain = %name, "cannot read the DKIM key; sending unsigned");
            return None;
        }
    };
    let algorithm = key.algorithm.parse::<dkim::Algorithm>().ok()?;
    let raw = raw.clone();
    let signed = tokio::task::spawn_blocking(move || {
        signer(&key, &name, algorithm)
            .and_then(|s| s.header(&raw))
            .map_err(|e| {
                tracing::error!(error = %e, domain = %name, selector = %key.selector, "DKIM signing failed; sending unsigned");
            })
            .ok()
    })
    .await;
    signed.unwrap_or_else(|e| {
        tracing::error!(error = %e, "DKIM signing task failed; sending unsigned");
        None
    })
}
