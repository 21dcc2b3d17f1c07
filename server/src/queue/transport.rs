//! How one delivery attempt reaches a remote SMTP server.
//!
//! [`Deliverer`] is the seam the queue is generic over; [`SmtpDeliverer`]
//! is the real one: [`super::client`] connections (pipelined, chunked when
//! the server offers it), kept per destination between messages. Tests
//! plug in their own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::client::{Conn, Fate};
use super::tls::TlsSetup;
use crate::config::TlsMode;

/// Where to deliver: a primary, the outbound smarthost, or one address of
/// a recipient domain's MX host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    /// A name or an address to connect to.
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// The name the server's certificate must carry when `host` is an
    /// address (an MX host's name); `None`: `host` itself.
    pub tls_name: Option<String>,
    /// SMTP AUTH (a smarthost's).
    pub auth: Option<Arc<RouteAuth>>,
    /// PEM of a private CA the server's certificate is checked against.
    pub ca: Option<Arc<Vec<u8>>>,
}

impl Route {
    /// A plain route to `host:port`.
    pub fn new(host: impl Into<String>, port: u16, tls: TlsMode) -> Route {
        Route {
            host: host.into(),
            port,
            tls,
            tls_name: None,
            auth: None,
            ca: None,
        }
    }
}

/// Credentials at a smarthost; never printed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RouteAuth {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for RouteAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RouteAuth({}, <password>)", self.user)
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.tls_name {
            Some(name) if name != &self.host => write!(f, "{name}[{}]:{}", self.host, self.port),
            _ => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

/// The remote's verdict on one attempt, with its reply as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Accepted(String),
    /// Connection failure, timeout, 4xx: try again later.
    Temporary(String),
    /// 5xx: give up and bounce.
    Permanent(String),
}

#[async_trait::async_trait]
pub trait Deliverer: Send + Sync + 'static {
    /// Send `message` from `mail_from` ("" for `<>`) to `rcpts` via
    /// `route`, in one transaction where it can: one verdict per
    /// recipient, in their order.
    async fn deliver(
        &self,
        route: &Route,
        mail_from: &str,
        rcpts: &[&str],
        message: &[u8],
    ) -> Vec<Attempt>;
}

/// How long a connection waits in the pool for its next message.
const IDLE: Duration = Duration::from_secs(10);
/// Messages on one connection before a new one is opened.
const MAX_MESSAGES: u32 = 100;
/// How long one connection is used at most.
const MAX_AGE: Duration = Duration::from_secs(300);

/// Delivery over [`super::client`] connections, a few kept open per
/// destination (as many as the queue sends to it at once) and reused
/// without a `NOOP`: a connection found closed at its first reply is
/// replaced and the message sent on the new one.
pub struct SmtpDeliverer {
    hello: String,
    timeout: Duration,
    tls: TlsSetup,
    /// Configurations for routes with a private CA, made once each.
    with_ca: Mutex<HashMap<Arc<Vec<u8>>, Arc<rustls::ClientConfig>>>,
    idle: Arc<Mutex<HashMap<Route, Vec<Conn>>>>,
}

impl SmtpDeliverer {
    pub fn new(hello: &str, timeout: Duration) -> Result<Self, String> {
        let idle: Arc<Mutex<HashMap<Route, Vec<Conn>>>> = Default::default();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(sweep(Arc::downgrade(&idle)));
        }
        Ok(SmtpDeliverer {
            hello: hello.to_string(),
            timeout,
            tls: TlsSetup::new()?,
            with_ca: Mutex::new(HashMap::new()),
            idle,
        })
    }

    fn tls_for(&self, route: &Route) -> Result<Arc<rustls::ClientConfig>, String> {
        match (&route.ca, route.tls) {
            (_, TlsMode::Opportunistic) => Ok(self.tls.any.clone()),
            (None, _) => Ok(self.tls.verify.clone()),
            (Some(pem), _) => {
                let mut map = self.with_ca.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(c) = map.get(pem) {
                    return Ok(c.clone());
                }
                let c = TlsSetup::with_ca(pem).map_err(|e| format!("{route}: {e}"))?;
                map.insert(pem.clone(), c.clone());
                Ok(c)
            }
        }
    }

    /// An idle connection to `route` still fit for a message.
    fn take_idle(&self, route: &Route) -> Option<Conn> {
        let mut map = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = map.get_mut(route)?;
        while let Some(c) = list.pop() {
            if c.idle_since.elapsed() < IDLE {
                return Some(c);
            }
            tokio::spawn(c.quit());
        }
        None
    }

    fn put_back(&self, route: &Route, mut conn: Conn) {
        if conn.sent >= MAX_MESSAGES || conn.opened.elapsed() >= MAX_AGE {
            tokio::spawn(conn.quit());
            return;
        }
        conn.idle_since = Instant::now();
        let mut map = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(route.clone()).or_default().push(conn);
    }
}

/// Close the connections idle too long, every second, for as long as the
/// deliverer lives.
async fn sweep(idle: Weak<Mutex<HashMap<Route, Vec<Conn>>>>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(idle) = idle.upgrade() else {
            return;
        };
        let old: Vec<Conn> = {
            let mut map = idle.lock().unwrap_or_else(|p| p.into_inner());
            let mut old = Vec::new();
            for list in map.values_mut() {
                let (keep, gone): (Vec<Conn>, Vec<Conn>) =
                    list.drain(..).partition(|c| c.idle_since.elapsed() < IDLE);
                *list = keep;
                old.extend(gone);
            }
            map.retain(|_, l| !l.is_empty());
            old
        };
        for c in old {
            tokio::spawn(c.quit());
        }
    }
}

#[async_trait::async_trait]
impl Deliverer for SmtpDeliverer {
    async fn deliver(
        &self,
        route: &Route,
        mail_from: &str,
        rcpts: &[&str],
        message: &[u8],
    ) -> Vec<Attempt> {
        let all = |a: Attempt| vec![a; rcpts.len()];
        let tls = match self.tls_for(route) {
            Ok(t) => t,
            Err(e) => return all(Attempt::Temporary(e)),
        };
        // a kept connection first; one found closed is replaced once
        let mut reused = self.take_idle(route);
        loop {
            let was_reused = reused.is_some();
            let mut conn = match reused.take() {
                Some(c) => c,
                None => match Conn::open(route, &self.hello, self.timeout, &tls).await {
                    Ok(c) => c,
                    Err(e) => return all(Attempt::Temporary(e)),
                },
            };
            let (attempt, fate) = conn.send(mail_from, rcpts, message).await;
            match fate {
                Fate::Keep => {
                    self.put_back(route, conn);
                    return attempt;
                }
                Fate::Stale if was_reused => {
                    tracing::debug!(%route, "kept connection found closed: a new one");
                    continue;
                }
                Fate::Stale | Fate::Close => return attempt,
            }
        }
    }
}
