//! Login throttling that locks out the source, not the account.
//!
//! Failures are counted in a sliding window per source (an IPv4 address,
//! or the /64 of an IPv6 one), per account *from* a source, and per
//! account. A source at its limit is refused (every account); a source
//! that failed an account its limit of times is refused for that account.
//! An account that failed its limit from any number of sources is only
//! slowed down (each attempt waits, doubling up to a cap): a correct
//! password from a source that has not failed still works, so nobody can
//! lock a known user out of every door by guessing wrong on purpose.
//!
//! Parallel attempts cannot all pass the check while the first ones are
//! still hashing: one account is tried from one source one attempt at a
//! time ([`Busy`] tells the caller to wait its turn — a mail app opening
//! five connections at once just waits a moment), and a source has at most
//! [`MAX_IN_FLIGHT`] attempts under way (an office behind one address
//! still logs in together). An attempt dropped without
//! [`Attempt::succeeded`] is a failure. Callers count per account (the
//! user's id, not the alias typed).
//!
//! Nodes sharing a database: each counts its own failures here and tells
//! the others through its [`Throttle::with_log`] channel (written to the
//! store); [`Throttle::begin_with`] adds what the others recorded, so
//! failures spread over several nodes hold as if made on one.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

pub use crate::store::login_failures::{Elsewhere, LoginEvent};

/// Keys tracked at most per map (an attacker spraying addresses cannot
/// grow memory without bound; expired entries are dropped first).
const MAX_KEYS: usize = 100_000;

/// The first wait of an account being guessed at from many sources, and
/// the most it grows to.
const SLOW_FIRST: Duration = Duration::from_millis(250);
const SLOW_CAP: Duration = Duration::from_secs(8);
/// Failures past the limit that still make a difference (250 ms × 2⁵ = 8 s).
const SLOW_STEPS: usize = 6;
/// Attempts one source may have under way at once (its failures are
/// counted apart, when they are known).
pub const MAX_IN_FLIGHT: usize = 256;

#[derive(Debug)]
pub struct Throttle {
    per_account: u32,
    per_source: u32,
    window: Duration,
    inner: Mutex<Inner>,
    /// Where failures and successes go for the other nodes.
    log: Option<UnboundedSender<LoginEvent>>,
}

#[derive(Debug, Default)]
struct Inner {
    sources: HashMap<String, VecDeque<Instant>>,
    pairs: HashMap<String, VecDeque<Instant>>,
    accounts: HashMap<String, VecDeque<Instant>>,
    in_flight: HashMap<String, usize>,
    /// (account, source) pairs with an attempt under way.
    busy: std::collections::HashSet<String>,
}

/// An attempt may go on: after waiting `delay` (zero unless its account
/// is being guessed at). [`Attempt::succeeded`] when the password was
/// right; dropped otherwise, it counts as a failure.
#[derive(Debug)]
#[must_use]
pub struct Attempt<'a> {
    pub delay: Duration,
    account: String,
    source: String,
    at: Instant,
    throttle: &'a Throttle,
    settled: bool,
    /// The service it is counted under in `/metrics` (a failure).
    service: Option<crate::metrics::Service>,
}

impl<'a> Attempt<'a> {
    /// A failure is counted in `/metrics` under `service`.
    pub fn counted_as(mut self, service: crate::metrics::Service) -> Attempt<'a> {
        self.service = Some(service);
        self
    }

    /// The password was right: the attempt was no failure, and the source's
    /// earlier failures on this account are forgiven (not its others).
    pub fn succeeded(mut self) {
        self.settled = true;
        let mut g = self.throttle.lock();
        done_in_flight(&mut g, &self.source);
        let key = pair(&self.account, &self.source);
        g.busy.remove(&key);
        g.pairs.remove(&key);
        drop(g);
        self.throttle.tell(LoginEvent::Succeeded {
            account: self.account.clone(),
            source: self.source.clone(),
        });
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let t = self.throttle;
        let mut g = t.lock();
        done_in_flight(&mut g, &self.source);
        let key = pair(&self.account, &self.source);
        g.busy.remove(&key);
        let (w, per_source, per_account) =
            (t.window, t.per_source as usize, t.per_account as usize);
        push(&mut g.sources, &self.source, self.at, w, per_source);
        push(&mut g.pairs, &key, self.at, w, per_account);
        // past the limit, the wait doubles at most 6 times before its cap
        push(
            &mut g.accounts,
            &self.account,
            self.at,
            w,
            per_account + SLOW_STEPS,
        );
        drop(g);
        if let Some(service) = self.service {
            crate::metrics::login_failed(service);
        }
        t.tell(LoginEvent::Failed {
            account: std::mem::take(&mut self.account),
            source: std::mem::take(&mut self.source),
            at: crate::store::now_ms(),
        });
    }
}

fn done_in_flight(g: &mut Inner, source: &str) {
    if let Some(n) = g.in_flight.get_mut(source) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            g.in_flight.remove(source);
        }
    }
}

impl PartialEq for Attempt<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.delay, &self.account, &self.source) == (other.delay, &other.account, &other.source)
    }
}

/// Not now, before the password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too many failures: refused for the window.
    Held,
    /// This account is being tried from this source already: try again in
    /// a moment.
    Busy,
}
pub use Refused::{Busy, Held};

pub use crate::per_ip::source_key;

fn prune(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
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

/// Record a failure; a key keeps at most `cap` of them (enough to decide:
/// memory stays bounded however fast an attacker tries).
fn push(
    map: &mut HashMap<String, VecDeque<Instant>>,
    key: &str,
    now: Instant,
    window: Duration,
    cap: usize,
) {
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
    let q = map.entry(key.to_string()).or_default();
    q.push_back(now);
    while q.len() > cap {
        q.pop_front();
    }
}

fn pair(account: &str, source: &str) -> String {
    format!("{account}\u{0}{source}")
}

impl Throttle {
    /// `per_account`: failures an account takes from one source before that
    /// source is refused for it, and from all sources before attempts on it
    /// are slowed down; `per_source`: failures a source makes in all before
    /// it is refused.
    pub fn new(per_account: u32, per_source: u32, window: Duration) -> Throttle {
        Throttle {
            per_account: per_account.max(1),
            per_source: per_source.max(1),
            window,
            inner: Mutex::new(Inner::default()),
            log: None,
        }
    }

    /// Tell `log` of every failure and success (for the other nodes).
    pub fn with_log(mut self, log: UnboundedSender<LoginEvent>) -> Throttle {
        self.log = Some(log);
        self
    }

    fn tell(&self, e: LoginEvent) {
        if let Some(l) = &self.log {
            let _ = l.send(e);
        }
    }

    /// How long failures count.
    pub fn window(&self) -> Duration {
        self.window
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May `account` be tried from `ip` now? (See the module's note.)
    pub fn begin(&self, account: &str, ip: &str, now: Instant) -> Result<Attempt<'_>, Refused> {
        self.begin_with(account, ip, now, Elsewhere::default())
    }

    /// The keys `account` and `ip` are counted under (what
    /// [`Throttle::begin_with`] needs counted elsewhere).
    pub fn keys(account: &str, ip: &str) -> (String, String) {
        (account.to_lowercase(), source_key(ip))
    }

    /// [`Throttle::begin`], with the failures other nodes saw added.
    pub fn begin_with(
        &self,
        account: &str,
        ip: &str,
        now: Instant,
        elsewhere: Elsewhere,
    ) -> Result<Attempt<'_>, Refused> {
        let (account, source) = Self::keys(account, ip);
        let key = pair(&account, &source);
        let w = self.window;
        let mut g = self.lock();
        if count(&mut g.sources, &source, now, w) + elsewhere.source >= self.per_source as usize
            || g.in_flight.get(&source).copied().unwrap_or(0) >= MAX_IN_FLIGHT
            || count(&mut g.pairs, &key, now, w) + elsewhere.pair >= self.per_account as usize
        {
            return Err(Held);
        }
        if g.busy.contains(&key) {
            return Err(Busy);
        }
        let failed = count(&mut g.accounts, &account, now, w) + elsewhere.account;
        let delay = match failed.checked_sub(self.per_account as usize) {
            None => Duration::ZERO,
            Some(over) => SLOW_FIRST
                .saturating_mul(1u32 << over.min(16))
                .min(SLOW_CAP),
        };
        *g.in_flight.entry(source.clone()).or_insert(0) += 1;
        if g.busy.len() < MAX_KEYS {
            g.busy.insert(key);
        }
        Ok(Attempt {
            delay,
            account,
            source,
            at: now,
            throttle: self,
            settled: false,
            service: None,
        })
    }

    /// Failures counted against a source now (for tests and logs).
    pub fn source_failures(&self, ip: &str, now: Instant) -> usize {
        let mut g = self.lock();
        count(&mut g.sources, &source_key(ip), now, self.window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn a_source_is_refused_for_an_account_after_its_limit_and_released_after_the_window() {
        let t = Throttle::new(3, 100, MIN);
        let t0 = Instant::now();
        for _ in 0..3 {
            let a = t.begin("Alice", "10.0.0.1", t0).expect("allowed");
            assert_eq!(a.delay, Duration::ZERO);
        }
        assert_eq!(t.begin("alice", "10.0.0.1", t0), Err(Held));
        // another account from the same source is not held
        assert!(t.begin("bob", "10.0.0.1", t0).is_ok());
        assert!(t.begin("alice", "10.0.0.1", t0 + MIN).is_ok());
    }

    #[test]
    fn an_account_guessed_at_from_many_sources_slows_down_but_still_opens() {
        let t = Throttle::new(3, 100, MIN);
        let t0 = Instant::now();
        // an attacker fails from several addresses, each under its limit
        for i in 0..6 {
            let _ = t
                .begin("alice", &format!("203.0.113.{i}"), t0)
                .expect("allowed");
        }
        // the owner, from a source that never failed: slowed, not refused
        let a = t
            .begin("alice", "198.51.100.7", t0)
            .expect("not locked out");
        assert_eq!(a.delay, SLOW_FIRST * 8, "6 failures, 3 over: ×2³");
        a.succeeded();
        // the wait is capped
        for i in 0..20 {
            let _ = t.begin("alice", &format!("203.0.114.{i}"), t0);
        }
        let a = t.begin("alice", "198.51.100.8", t0).expect("still opens");
        assert_eq!(a.delay, SLOW_CAP);
    }

    #[test]
    fn an_address_spraying_accounts_is_refused_and_a_v6_host_is_its_64() {
        let t = Throttle::new(3, 5, MIN);
        let t0 = Instant::now();
        for i in 0..5 {
            let _ = t.begin(&format!("user{i}"), "192.0.2.7", t0).expect("ok");
        }
        assert_eq!(t.begin("fresh", "192.0.2.7", t0), Err(Held));
        assert_eq!(t.begin("fresh", "::ffff:192.0.2.7", t0), Err(Held));
        assert!(t.begin("fresh", "192.0.2.8", t0).is_ok());
        for i in 0..5 {
            let _ = t
                .begin(&format!("v{i}"), &format!("2001:db8:1:2::{i:x}"), t0)
                .expect("ok");
        }
        assert_eq!(t.begin("v9", "2001:db8:1:2:ffff::1", t0), Err(Held));
        assert!(t.begin("v9", "2001:db8:1:3::1", t0).is_ok());
    }

    #[test]
    fn one_account_is_tried_from_one_source_one_attempt_at_a_time() {
        let t = Throttle::new(3, 100, MIN);
        let t0 = Instant::now();
        let first = t.begin("alice", "10.0.0.9", t0).expect("first");
        // the others wait their turn while the first is checked
        for _ in 0..10 {
            assert_eq!(t.begin("alice", "10.0.0.9", t0), Err(Busy));
        }
        // from elsewhere, or for someone else: no waiting
        let _elsewhere = t.begin("alice", "10.0.0.10", t0).expect("other source");
        let _other = t.begin("bob", "10.0.0.9", t0).expect("other account");
        drop(first); // a failure
        for _ in 0..2 {
            let _ = t.begin("alice", "10.0.0.9", t0).expect("next turn");
        }
        assert_eq!(
            t.begin("alice", "10.0.0.9", t0),
            Err(Held),
            "three failures"
        );
    }

    #[test]
    fn success_takes_the_attempt_back_and_forgives_that_source_only() {
        let t = Throttle::new(2, 3, MIN);
        let t0 = Instant::now();
        let _ = t.begin("a", "ip1", t0).expect("ok");
        let ok = t.begin("a", "ip1", t0).expect("ok");
        assert_eq!(
            t.source_failures("ip1", t0),
            1,
            "the first was dropped: failed"
        );
        ok.succeeded();
        assert_eq!(t.source_failures("ip1", t0), 1, "the success is no failure");
        // the pair is forgiven: tries on a again
        assert!(t.begin("a", "ip1", t0).is_ok());
        // but the source's total still counts: 2 failures, then 3, then no more
        assert!(t.begin("b", "ip1", t0).is_ok());
        assert_eq!(t.begin("c", "ip1", t0), Err(Held));
    }

    #[test]
    fn many_people_behind_one_address_log_in_at_once() {
        let t = Throttle::new(3, 5, MIN);
        let t0 = Instant::now();
        // sixty colleagues behind one NAT, all under way together
        let all: Vec<_> = (0..60)
            .map(|i| {
                t.begin(&format!("user{i}"), "198.51.100.1", t0)
                    .expect("in")
            })
            .collect();
        for a in all {
            a.succeeded();
        }
        assert_eq!(t.source_failures("198.51.100.1", t0), 0);
        // but no more than MAX_IN_FLIGHT at once from one source
        let held: Vec<_> = (0..MAX_IN_FLIGHT)
            .map(|i| t.begin(&format!("x{i}"), "198.51.100.2", t0).expect("in"))
            .collect();
        assert_eq!(t.begin("one-more", "198.51.100.2", t0), Err(Held));
        drop(held);
        // dropped without success: five failures, the source is held
        assert_eq!(t.begin("fresh", "198.51.100.2", t0), Err(Held));
    }

    #[test]
    fn memory_stays_bounded() {
        let t = Throttle::new(2, u32::MAX, MIN);
        let t0 = Instant::now();
        for i in 0..(MAX_KEYS + 10) {
            let _ = t.begin(&format!("u{i}"), "ip", t0);
        }
        let g = t.lock();
        assert!(g.accounts.len() <= MAX_KEYS && g.pairs.len() <= MAX_KEYS);
    }
}
