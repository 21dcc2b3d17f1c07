//! Secrets shown once: a credential the service makes for an administrator
//! (a domain's relay password) is kept in memory only, for the session that
//! asked, until the page the form post leads to shows it. That page's
//! address carries a random reveal id; the secret is readable under it for
//! a moment after its first read (one page render may read it more than
//! once), then gone — as it is after five minutes unread. Nothing is
//! written to disk; a restart forgets it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::token;

/// How long a secret waits for its page.
const KEEP: Duration = Duration::from_secs(300);
/// How long after its first read the same page may read it again.
const GRACE: Duration = Duration::from_secs(3);
/// At most this many waiting at once (the oldest dropped first).
const MAX: usize = 1_000;

struct Waiting {
    what: String,
    secret: String,
    at: Instant,
    read: Option<Instant>,
}

#[derive(Default)]
pub struct Reveals {
    waiting: Mutex<HashMap<(String, String), Waiting>>,
}

impl Reveals {
    /// Keep `secret` for the session whose CSRF token is `session`, about
    /// `what` (e.g. "relay:3"); returns the reveal id for the next page.
    pub fn stash(&self, session: &str, what: &str, secret: String) -> String {
        let id = token::random_token();
        let Ok(mut w) = self.waiting.lock() else {
            return id;
        };
        w.retain(|_, x| x.at.elapsed() < KEEP && x.read.is_none_or(|r| r.elapsed() < GRACE));
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
                at: Instant::now(),
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
        let fresh = x.at.elapsed() < KEEP && x.read.is_none_or(|r| r.elapsed() < GRACE);
        if !fresh {
            w.remove(&key);
            return None;
        }
        x.read.get_or_insert_with(Instant::now);
        Some(x.secret.clone())
    }

    #[cfg(test)]
    fn age(&self, by: Duration) {
        if let Ok(mut w) = self.waiting.lock() {
            for x in w.values_mut() {
                x.at = x.at.checked_sub(by).unwrap_or(x.at);
                if let Some(r) = x.read.as_mut() {
                    *r = r.checked_sub(by).unwrap_or(*r);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_shown_to_its_session_on_its_page_only() {
        let r = Reveals::default();
        let id = r.stash("csrf-a", "relay:1", "s3cret".into());
        assert_eq!(r.take("csrf-b", &id, "relay:1"), None, "another session");
        assert_eq!(r.take("csrf-a", "guess", "relay:1"), None, "another id");
        assert_eq!(r.take("csrf-a", "", "relay:1"), None);
        assert_eq!(r.take("csrf-a", &id, "relay:2"), None, "another domain");
        assert_eq!(r.take("csrf-a", &id, "relay:1").as_deref(), Some("s3cret"));
        // the same page render may read it again at once …
        assert_eq!(r.take("csrf-a", &id, "relay:1").as_deref(), Some("s3cret"));
        // … but not later
        r.age(GRACE);
        assert_eq!(r.take("csrf-a", &id, "relay:1"), None);
        // unread, it waits five minutes at most
        let id = r.stash("csrf-a", "relay:1", "other".into());
        r.age(KEEP);
        assert_eq!(r.take("csrf-a", &id, "relay:1"), None);
    }
}
