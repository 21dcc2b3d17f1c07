//! Login throttling: failed attempts counted per account and per client IP
//! in a sliding window. While either count is at its limit, logins for that
//! account (or from that IP) are refused before the password is even checked,
//! with the same message whether the account exists or not.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys tracked at most (an attacker spraying addresses cannot grow memory
/// without bound; expired entries are dropped first).
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
pub struct Throttle {
    per_account: u32,
    per_ip: u32,
    window: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    accounts: HashMap<String, VecDeque<Instant>>,
    ips: HashMap<String, VecDeque<Instant>>,
}

fn prune(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
        q.pop_front();
    }
}

fn count(
    map: &mut HashMap<String, VecDeque<Instant>>,
    key: &str,
    now: Instant,
    window: Duration,
) -> usize {
    match map.get_mut(key) {
        Some(q) => {
            prune(q, now, window);
            q.len()
        }
        None => 0,
    }
}

fn push(map: &mut HashMap<String, VecDeque<Instant>>, key: &str, now: Instant, window: Duration) {
    if map.len() >= MAX_KEYS && !map.contains_key(key) {
        map.retain(|_, q| {
            prune(q, now, window);
            !q.is_empty()
        });
        if map.len() >= MAX_KEYS {
            // Still full of live entries: forget the one key with the oldest
            // last failure rather than grow.
            if let Some(k) = map
                .iter()
                .min_by_key(|(_, q)| q.back().copied())
                .map(|(k, _)| k.clone())
            {
                map.remove(&k);
            }
        }
    }
    map.entry(key.to_string()).or_default().push_back(now);
}

impl Throttle {
    pub fn new(per_account: u32, per_ip: u32, window: Duration) -> Throttle {
        Throttle {
            per_account,
            per_ip,
            window,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May this account be tried from this IP now?
    pub fn allowed(&self, account: &str, ip: &str, now: Instant) -> bool {
        let mut g = self.lock();
        let account = account.to_lowercase();
        count(&mut g.accounts, &account, now, self.window) < self.per_account as usize
            && count(&mut g.ips, ip, now, self.window) < self.per_ip as usize
    }

    /// Count a failed attempt against both keys.
    pub fn failed(&self, account: &str, ip: &str, now: Instant) {
        let mut g = self.lock();
        let account = account.to_lowercase();
        push(&mut g.accounts, &account, now, self.window);
        push(&mut g.ips, ip, now, self.window);
    }

    /// A successful login clears the account's failures (not the IP's).
    pub fn succeeded(&self, account: &str) {
        self.lock().accounts.remove(&account.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_is_held_after_its_limit_and_released_after_the_window() {
        let t = Throttle::new(3, 100, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(t.allowed("Alice@example.test", "10.0.0.1", t0));
            t.failed("alice@example.test", &format!("10.0.0.{i}"), t0);
        }
        // from any IP, the account is held
        assert!(!t.allowed("alice@example.test", "10.9.9.9", t0));
        assert!(!t.allowed(
            "ALICE@example.test",
            "10.0.0.1",
            t0 + Duration::from_secs(59)
        ));
        // another account is not
        assert!(t.allowed("bob@example.test", "10.9.9.9", t0));
        assert!(t.allowed(
            "alice@example.test",
            "10.0.0.1",
            t0 + Duration::from_secs(60)
        ));
    }

    #[test]
    fn an_ip_spraying_accounts_is_held() {
        let t = Throttle::new(3, 5, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..5 {
            t.failed(&format!("user{i}@example.test"), "192.0.2.7", t0);
        }
        assert!(!t.allowed("fresh@example.test", "192.0.2.7", t0));
        assert!(t.allowed("fresh@example.test", "192.0.2.8", t0));
    }

    #[test]
    fn success_clears_the_account_but_not_the_ip() {
        let t = Throttle::new(2, 3, Duration::from_secs(60));
        let t0 = Instant::now();
        t.failed("a@x.test", "ip", t0);
        t.failed("a@x.test", "ip", t0);
        assert!(!t.allowed("a@x.test", "other", t0));
        t.succeeded("a@x.test");
        assert!(t.allowed("a@x.test", "other", t0));
        t.failed("b@x.test", "ip", t0);
        assert!(!t.allowed("c@x.test", "ip", t0));
    }

    #[test]
    fn memory_stays_bounded() {
        let t = Throttle::new(2, u32::MAX, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..(MAX_KEYS + 10) {
            t.failed(&format!("u{i}@x.test"), "ip", t0);
        }
        assert!(t.lock().accounts.len() <= MAX_KEYS);
    }
}
