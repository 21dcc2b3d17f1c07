//! Secrets shown once: a credential the service makes for an administrator
//! (a domain's relay password) is kept in memory only, for the session that
//! asked, until the page the form post leads to shows it. That page's
//! address carries a random reveal id; the secret is readable under it for
//! a moment after its first read (one page render may read it more than
//! once), then gone — as it is after five minutes unread. Nothing is
//! written to disk; a restart forgets it.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{token, Clock};

/// How long a secret waits for its page (ms).
const KEEP: i64 = 300_000;
/// How long after its first read the same page may read it again (ms).
const GRACE: i64 = 3_000;
/// At most this many waiting at once (the oldest dropped first).
const MAX: usize = 1_000;

struct Waiting {
    what: String,
    secret: String,
    at: i64,
    read: Option<i64>,
}

#[derive(Default)]
pub struct Reveals {
    waiting: Mutex<HashMap<(String, String), Waiting>>,
    clock: Clock,
}

impl Reveals {
    /// Judge ages by `clock` (tests move it instead of waiting).
    pub fn with_clock(clock: Clock) -> Reveals {
        Reveals {
            clock,
            ..Default::default()
        }
    }

    /// Keep `secret` for the session whose CSRF token is `session`, about
    /// `what` (e.g. "relay:3"); returns the reveal id for the next page.
    pub fn stash(&self, session: &str, what: &str, secret: String) -> String {
        let id = token::random_token();
        let Ok(mut w) = self.waiting.lock() else {
            return id;
        };
        let now = self.clock.now();
        w.retain(|_, x| now - x.at < KEEP && x.read.is_none_or(|r| now - r < GRACE));
        if w.len() >= MAX {
            if let Some(oldest) = w.iter().min_by_key(|(_, x)| x.at).map(|(k, _)| k.clone()) {
                w.remove(&oldest);
            }
        }
        w.insert(
            (session.to_string(), id.clone()),
            Waiting {
                what: what.to_string(),
                secret,
                at: now,
                read: None,
            },
        );
        id
    }

    /// The secret under `id` for this session, about `what`.
    pub fn take(&self, session: &str, id: &str, what: &str) -> Option<String> {
        if id.is_empty() {
            return None;
        }
        let mut w = self.waiting.lock().ok()?;
        let key = (session.to_string(), id.to_string());
        let x = w.get_mut(&key)?;
        if x.what != what {
            return None;
        }
        let now = self.clock.now();
        let fresh = now - x.at < KEEP && x.read.is_none_or(|r| now - r < GRACE);
        if !fresh {
            w.remove(&key);
            return None;
        }
        x.read.get_or_insert(now);
        Some(x.secret.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_shown_to_its_session_on_its_page_only() {
        let clock = Clock::manual(1_000_000);
        let r = Reveals::with_clock(clock.clone());
        let age = |ms: i64| clock.advance(std::time::Duration::from_millis(ms as u64));
        let id = r.stash("csrf-a", "relay:1", "s3cret".into());
        assert_eq!(r.take("csrf-b", &id, "relay:1"), None, "another session");
        assert_eq!(r.take("csrf-a", "guess", "relay:1"), None, "another id");
        assert_eq!(r.take("csrf-a", "", "relay:1"), None);
        assert_eq!(r.take("csrf-a", &id, "relay:2"), None, "another domain");
        assert_eq!(r.take("csrf-a", &id, "relay:1").as_deref(), Some("s3cret"));
        // the same page render may read it again at once …
        assert_eq!(r.take("csrf-a", &id, "relay:1").as_deref(), Some("s3cret"));
        // … but not later
        age(GRACE);
        assert_eq!(r.take("csrf-a", &id, "relay:1"), None);
        // unread, it waits five minutes at most
        let id = r.stash("csrf-a", "relay:1", "other".into());
        age(KEEP);
        assert_eq!(r.take("csrf-a", &id, "relay:1"), None);
    }
}
