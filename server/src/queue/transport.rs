//! How one delivery attempt reaches a remote SMTP server.
//!
//! [`Deliverer`] is the seam the queue is generic over; [`LettreDeliverer`]
//! is the real one, built on lettre's `AsyncSmtpTransport` (one pooled
//! transport per destination). Tests plug in their own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

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
    /// Send `message` from `mail_from` ("" for `<>`) to `rcpt` via `route`.
    async fn deliver(&self, route: &Route, mail_from: &str, rcpt: &str, message: &[u8]) -> Attempt;
}

/// Delivery with lettre.
pub struct LettreDeliverer {
    hello: String,
    timeout: Duration,
    per_destination: u32,
    transports: Mutex<HashMap<Route, Arc<AsyncSmtpTransport<Tokio1Executor>>>>,
}

impl LettreDeliverer {
    pub fn new(hello: &str, timeout: Duration, per_destination: usize) -> Self {
        LettreDeliverer {
            hello: hello.to_string(),
            timeout,
            per_destination: per_destination.max(1) as u32,
            transports: Mutex::new(HashMap::new()),
        }
    }

    fn transport(&self, route: &Route) -> Result<Arc<AsyncSmtpTransport<Tokio1Executor>>, String> {
        let mut map = self
            .transports
            .lock()
            .map_err(|_| "transport cache poisoned".to_string())?;
        if let Some(t) = map.get(route) {
            return Ok(t.clone());
        }
        let name = route.tls_name.clone().unwrap_or_else(|| route.host.clone());
        let params = |verify: bool| {
            let mut b = TlsParameters::builder(name.clone());
            if let Some(pem) = &route.ca {
                let cert = Certificate::from_pem(pem)
                    .map_err(|e| format!("CA certificate for {route}: {e}"))?;
                b = b.add_root_certificate(cert);
            }
            let b = if verify {
                b
            } else {
                // RFC 7435: opportunistic TLS does not authenticate the peer.
                b.dangerous_accept_invalid_certs(true)
                    .dangerous_accept_invalid_hostnames(true)
            };
            b.build_rustls()
                .map_err(|e| format!("TLS setup for {route}: {e}"))
        };
        let tls = match route.tls {
            TlsMode::None => Tls::None,
            TlsMode::Opportunistic => Tls::Opportunistic(params(false)?),
            TlsMode::Required => Tls::Required(params(true)?),
            TlsMode::Implicit => Tls::Wrapper(params(true)?),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(route.host.clone())
            .port(route.port)
            .tls(tls)
            .timeout(Some(self.timeout))
            .hello_name(ClientId::Domain(self.hello.clone()))
            .pool_config(
                PoolConfig::new()
                    .max_size(self.per_destination)
                    .idle_timeout(Duration::from_secs(30)),
            );
        if let Some(auth) = &route.auth {
            // only over TLS: the configuration refuses AUTH without it
            b = b
                .credentials(Credentials::new(auth.user.clone(), auth.password.clone()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        let t = b.build();
        let t = Arc::new(t);
        map.insert(route.clone(), t.clone());
        Ok(t)
    }
}

#[async_trait::async_trait]
impl Deliverer for LettreDeliverer {
    async fn deliver(&self, route: &Route, mail_from: &str, rcpt: &str, message: &[u8]) -> Attempt {
        let from = if mail_from.is_empty() {
            None
        } else {
            match mail_from.parse::<Address>() {
                Ok(a) => Some(a),
                Err(e) => {
                    return Attempt::Permanent(format!("sender <{mail_from}> cannot be sent: {e}"))
                }
            }
        };
        let to = match rcpt.parse::<Address>() {
            Ok(a) => a,
            Err(e) => return Attempt::Permanent(format!("recipient <{rcpt}> cannot be sent: {e}")),
        };
        let envelope = match Envelope::new(from, vec![to]) {
            Ok(e) => e,
            Err(e) => return Attempt::Permanent(format!("bad envelope: {e}")),
        };
        let transport = match self.transport(route) {
            Ok(t) => t,
            Err(e) => return Attempt::Temporary(e),
        };
        // lettre always ends DATA with "\r\n.\r\n". The stored message ends
        // with its last line's CRLF; without this, every relayed message
        // would gain an empty line at the end.
        let body = message.strip_suffix(b"\r\n").unwrap_or(message);
        match transport.send_raw(&envelope, body).await {
            Ok(resp) => Attempt::Accepted(format!(
                "{} {}",
                resp.code(),
                resp.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) if e.is_permanent() => Attempt::Permanent(e.to_string()),
            Err(e) => Attempt::Temporary(e.to_string()),
        }
    }
}
