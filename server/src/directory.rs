//! The recipient directory: which domains are protected and which addresses
//! exist, held in memory so that RCPT TO is answered without a database
//! round trip. Refreshed from the store on a timer and on demand.
//!
//! (LDAP / Active Directory sync, which fills the users table, is its own
//! module to come; this is only the lookup side.)

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::store::admin::DirectorySnapshot;
use crate::store::{DomainId, Store, UserId};

/// What RCPT TO learns about an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RcptVerdict {
    /// A protected domain's address we accept.
    Accept {
        domain: DomainId,
        user: Option<UserId>,
    },
    /// Not a protected domain: we are not a relay for it.
    NotProtected,
    /// The domain is protected and keeps a user list without this address.
    UnknownUser,
    /// The user exists but is disabled.
    Disabled,
}

/// Anything that can judge a recipient (the live directory, or a fixed one in tests).
pub trait RecipientPolicy: Send + Sync {
    fn check(&self, rcpt: &str) -> RcptVerdict;

    /// The protected domain a mail domain belongs to: itself, else its
    /// nearest protected parent (`a.b.example.com` → `b.example.com` if
    /// that is protected, else `example.com`). A subdomain that is itself
    /// protected belongs to its own tenant, never to its parent's.
    fn owner_domain(&self, _domain: &str) -> Option<DomainId> {
        None
    }
}

impl<T: RecipientPolicy + ?Sized> RecipientPolicy for Arc<T> {
    fn check(&self, rcpt: &str) -> RcptVerdict {
        (**self).check(rcpt)
    }
    fn owner_domain(&self, domain: &str) -> Option<DomainId> {
        (**self).owner_domain(domain)
    }
}

/// Sub-address delimiter: `alice+news@example.test` is `alice@example.test`.
const DELIMITER: char = '+';

impl RecipientPolicy for DirectorySnapshot {
    fn owner_domain(&self, domain: &str) -> Option<DomainId> {
        let mut d = domain.trim_end_matches('.').to_ascii_lowercase();
        loop {
            if let Some(&(id, _)) = self.domains.get(&d) {
                return Some(id);
            }
            d = d.split_once('.')?.1.to_string();
        }
    }

    fn check(&self, rcpt: &str) -> RcptVerdict {
        let Some((local, domain)) = rcpt.rsplit_once('@') else {
            return RcptVerdict::NotProtected;
        };
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let Some(&(domain_id, verify)) = self.domains.get(&domain) else {
            return RcptVerdict::NotProtected;
        };
        let local = local.to_lowercase();
        let lookup = |l: &str| self.addresses.get(&format!("{l}@{domain}")).copied();
        let found = lookup(&local).or_else(|| {
            local
                .split_once(DELIMITER)
                .and_then(|(base, _)| lookup(base))
        });
        match found {
            Some((_, _, true)) => RcptVerdict::Disabled,
            Some((user, d, false)) if d == domain_id => RcptVerdict::Accept {
                domain: domain_id,
                user: Some(user),
            },
            _ if !verify => RcptVerdict::Accept {
                domain: domain_id,
                user: None,
            },
            _ => RcptVerdict::UnknownUser,
        }
    }
}

/// The live directory shared by all SMTP sessions.
#[derive(Default)]
pub struct Directory {
    snap: RwLock<Arc<DirectorySnapshot>>,
}

impl Directory {
    pub fn current(&self) -> Arc<DirectorySnapshot> {
        match self.snap.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reload from the store; on error keep the previous snapshot.
    pub async fn refresh(&self, store: &Store) {
        match store.directory_snapshot().await {
            Ok(s) => match self.snap.write() {
                Ok(mut g) => *g = Arc::new(s),
                Err(poisoned) => *poisoned.into_inner() = Arc::new(s),
            },
            Err(e) => tracing::warn!(error = %e, "directory refresh failed; keeping the last one"),
        }
    }

    /// Refresh every `every` until the process ends.
    pub fn spawn_refresher(self: &Arc<Self>, store: Store, every: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                me.refresh(&store).await;
            }
        });
    }
}

impl RecipientPolicy for Directory {
    fn check(&self, rcpt: &str) -> RcptVerdict {
        self.current().check(rcpt)
    }
    fn owner_domain(&self, domain: &str) -> Option<DomainId> {
        self.current().owner_domain(domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn snapshot() -> DirectorySnapshot {
        let mut s = DirectorySnapshot::default();
        s.domains.insert("example.test".into(), (DomainId(1), true));
        s.domains.insert("open.test".into(), (DomainId(2), false));
        s.addresses
            .insert("alice@example.test".into(), (UserId(1), DomainId(1), false));
        s.addresses
            .insert("alias@example.test".into(), (UserId(1), DomainId(1), false));
        s.addresses
            .insert("gone@example.test".into(), (UserId(2), DomainId(1), true));
        s
    }

    #[test]
    fn verdicts() {
        let s = snapshot();
        let alice = RcptVerdict::Accept {
            domain: DomainId(1),
            user: Some(UserId(1)),
        };
        assert_eq!(s.check("alice@example.test"), alice);
        assert_eq!(s.check("Alice@EXAMPLE.test"), alice);
        assert_eq!(s.check("alice+news@example.test"), alice);
        assert_eq!(s.check("alias@example.test"), alice);
        assert_eq!(s.check("bob@example.test"), RcptVerdict::UnknownUser);
        assert_eq!(s.check("gone@example.test"), RcptVerdict::Disabled);
        assert_eq!(s.check("x@elsewhere.test"), RcptVerdict::NotProtected);
        assert_eq!(s.check("x@sub.example.test"), RcptVerdict::NotProtected);
        assert_eq!(s.check("postmaster"), RcptVerdict::NotProtected);
        assert_eq!(
            s.check("anyone@open.test"),
            RcptVerdict::Accept {
                domain: DomainId(2),
                user: None
            }
        );
    }
}
