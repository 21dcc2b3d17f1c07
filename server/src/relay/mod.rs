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
//! 4. the message is DKIM-signed for the sender's domain when it has a key;
//! 5. it is stored durably and queued ([`Store::ingest`]) — only then is the
//!    sender told it was sent — and filed in the sender's Sent.
//!
//! - [`dkim`]: keys, DNS records and signatures (mail-auth);
//! - [`access`]: how a domain's own server may relay (networks, credentials).

pub mod access;
pub mod dkim;

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
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            copy_sent_to_primary: true,
            max_per_hour: 200,
            relay_max_per_hour: 20_000,
            relayed: Default::default(),
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
            let account = store
                .account(user)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("user {user}")))?;
            if account.disabled {
                return Err(RelayError::Disabled);
            }
            // checked at each send, not only at login: a user removed from
            // the service while logged in (or in a long SMTP session) stops
            if !account.covered {
                return Err(RelayError::NotCovered);
            }
            let n = store.sent_recently(user, 3_600_000).await?;
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
    let raw = sign(store, snap, &out.mail_from, out.raw).await?;
    let (raw, summary) = Summary::for_ingest(raw)
        .await
        .map_err(|e| StoreError::Invalid(format!("summary task failed: {e}")))?;
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
            },
            sent_by,
        )
        .await?;
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

/// DKIM-sign `raw` for the envelope sender's domain if it has an active
/// key. A key that cannot be used is logged and the message goes unsigned:
/// mail must not stop for a signature.
async fn sign(
    store: &Store,
    snap: &DirectorySnapshot,
    mail_from: &str,
    raw: Vec<u8>,
) -> Result<Vec<u8>, RelayError> {
    let domain = domain_of(mail_from);
    let Some(&(id, _)) = snap.domains.get(&domain) else {
        return Ok(raw);
    };
    let key = match store.active_dkim_key(id).await {
        Ok(Some(k)) => k,
        Ok(None) => return Ok(raw),
        Err(e) => {
            tracing::error!(error = %e, %domain, "cannot read the DKIM key; sending unsigned");
            return Ok(raw);
        }
    };
    let Ok(algorithm) = key.algorithm.parse::<dkim::Algorithm>() else {
        return Ok(raw);
    };
    let signed = tokio::task::spawn_blocking(move || {
        let signer = match signer(&key, &domain, algorithm) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, %domain, selector = %key.selector, "DKIM key unusable; sending unsigned");
                return raw;
            }
        };
        match signer.header(&raw) {
            Ok(header) => {
                let mut out = header.into_bytes();
                out.extend_from_slice(&raw);
                out
            }
            Err(e) => {
                tracing::error!(error = %e, %domain, selector = %key.selector, "DKIM signing failed; sending unsigned");
                raw
            }
        }
    })
    .await;
    // fails only while the runtime shuts down: the caller keeps what was
    // typed (a draft) or answers 451
    signed.map_err(|e| RelayError::Unavailable(StoreError::Invalid(format!("signing task: {e}"))))
}
