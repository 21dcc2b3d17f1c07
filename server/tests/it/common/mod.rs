//! Helpers for the integration tests: a service on 127.0.0.1:0 in a fresh
//! data directory, a raw SMTP client, and a scripted deliverer.
#![allow(dead_code)]

pub mod control;
pub mod dns;
pub mod mailuser;
pub mod notify;
pub mod two_step;
pub mod web_client;
pub mod webauthn;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use server::config::Config;
use server::queue::{Attempt, Deliverer, Route};
use server::service::{self, Running, StartOptions};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

static N: AtomicU32 = AtomicU32::new(0);

pub fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // Cargo's scratch directory for integration tests (target/tmp): what a
    // run leaves goes with the target directory, not into the machine's /tmp
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "continuity-test-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A configuration for tests: loopback, ephemeral ports, fast retries.
pub fn test_config(tag: &str) -> Config {
    let dir = temp_dir(tag);
    let store = server::store::testing::url(&dir);
    let mut env = vec![
        (
            "CONTINUITY_SERVER_DATA_DIR".to_string(),
            dir.display().to_string(),
        ),
        (
            "CONTINUITY_SERVER_HOSTNAME".to_string(),
            "mx.continuity.test".to_string(),
        ),
        (
            "CONTINUITY_SMTP_LISTEN".to_string(),
            "127.0.0.1:0".to_string(),
        ),
        (
            "CONTINUITY_WEB_LISTEN".to_string(),
            "127.0.0.1:0".to_string(),
        ),
        (
            "CONTINUITY_QUEUE_RETRY_INTERVALS".to_string(),
            "[\"300ms\"]".to_string(),
        ),
        (
            "CONTINUITY_QUEUE_POLL_INTERVAL".to_string(),
            "50ms".to_string(),
        ),
        ("CONTINUITY_QUEUE_TIMEOUT".to_string(), "5s".to_string()),
        // nothing leaves the box: mail for other domains waits (a test that
        // wants direct delivery gives its own DNS)
        (
            "CONTINUITY_OUTBOUND_DIRECT".to_string(),
            "false".to_string(),
        ),
    ];
    if let server::config::StoreUrl::Postgres(u) = store {
        env.push(("CONTINUITY_STORE_URL".to_string(), u));
    }
    Config::load(None, env).expect("test config")
}

pub async fn start(cfg: &Config, deliverer: Option<Arc<dyn Deliverer>>) -> Running {
    service::start(
        cfg,
        StartOptions {
            deliverer,
            no_queue: false,
            // the monitor has its own tests; here delivery follows the queue alone
            no_monitor: true,
            ..Default::default()
        },
    )
    .await
    .expect("service starts")
}

/// A service that accepts and stores but does not deliver.
pub async fn start_holding(cfg: &Config) -> Running {
    service::start(
        cfg,
        StartOptions {
            deliverer: None,
            no_queue: true,
            no_monitor: true,
            ..Default::default()
        },
    )
    .await
    .expect("service starts")
}

/// Add example.test (primary given) with alice, bob, carol, and refresh the directory.
pub async fn demo_domain(r: &Running, primary: &str, port: u16) {
    r.store
        .add_domain("example.test", primary, port, server::config::TlsMode::None)
        .await
        .expect("domain");
    for u in ["alice", "bob", "carol"] {
        r.store
            .add_user(
                &format!("{u}@example.test"),
                u,
                &[format!("{u}.alias@example.test")],
                "local",
            )
            .await
            .expect("user");
    }
    r.directory.refresh(&r.store).await;
}

/// A line-oriented SMTP client for scripted conversations.
pub struct Client {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    pub async fn connect(addr: std::net::SocketAddr) -> Client {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay"); // no Nagle delay between DATA and "."
        let (r, w) = s.into_split();
        let mut c = Client {
            reader: BufReader::new(r),
            writer: w,
        };
        let greeting = c.reply().await;
        assert!(greeting.starts_with("220 "), "{greeting}");
        c
    }

    /// One whole reply (all continuation lines).
    pub async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
                .await
                .expect("reply in time")
                .expect("read");
            if n == 0 {
                return all;
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("write");
    }

    /// Send a line, return the reply.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// A whole transaction; returns the final reply.
    pub async fn mail(&mut self, from: &str, to: &[&str], data: &[u8]) -> String {
        let r = self.cmd(&format!("MAIL FROM:<{from}>")).await;
        assert!(r.starts_with("250"), "{r}");
        for t in to {
            let r = self.cmd(&format!("RCPT TO:<{t}>")).await;
            assert!(r.starts_with("250"), "{r}");
        }
        let r = self.cmd("DATA").await;
        assert!(r.starts_with("354"), "{r}");
        self.send(data).await;
        self.send(b".\r\n").await;
        self.reply().await
    }
}

/// One delivery a scripted deliverer was asked for: route, sender, recipient, bytes.
pub type Seen = (Route, String, String, Vec<u8>);

/// A deliverer that answers from a script (one answer per recipient) and
/// records what it was given: each recipient, and each transaction's.
#[derive(Default)]
pub struct ScriptedDeliverer {
    pub script: Mutex<Vec<Attempt>>,
    pub default: Mutex<Option<Attempt>>,
    pub seen: Mutex<Vec<Seen>>,
    pub transactions: Mutex<Vec<Vec<String>>>,
}

impl ScriptedDeliverer {
    pub fn accepting() -> Arc<ScriptedDeliverer> {
        let d = ScriptedDeliverer::default();
        *d.default.lock().unwrap() = Some(Attempt::Accepted("250 2.0.0 Ok: queued".into()));
        Arc::new(d)
    }
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    /// The recipients of each transaction, in order.
    pub fn transactions(&self) -> Vec<Vec<String>> {
        self.transactions.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Deliverer for ScriptedDeliverer {
    async fn deliver(
        &self,
        route: &Route,
        mail_from: &str,
        rcpts: &[&str],
        message: &[u8],
    ) -> Vec<Attempt> {
        self.transactions
            .lock()
            .unwrap()
            .push(rcpts.iter().map(|r| r.to_string()).collect());
        rcpts
            .iter()
            .map(|rcpt| {
                self.seen.lock().unwrap().push((
                    route.clone(),
                    mail_from.to_string(),
                    rcpt.to_string(),
                    message.to_vec(),
                ));
                let mut s = self.script.lock().unwrap();
                if !s.is_empty() {
                    return s.remove(0);
                }
                self.default
                    .lock()
                    .unwrap()
                    .clone()
                    .unwrap_or(Attempt::Temporary("421 4.3.0 not scripted".into()))
            })
            .collect()
    }
}

/// The delivery statuses of a message, in recipient order.
pub async fn statuses(store: &server::store::Store, id: server::store::MessageId) -> Vec<String> {
    store
        .deliveries_of(id)
        .await
        .expect("deliveries")
        .into_iter()
        .map(|d| d.status)
        .collect()
}

/// Poll `f` until it is true (or fail after `secs`).
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < end {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// The real web routes and middleware, in process (actix's test service),
/// over a store and its auth service.
pub async fn web_app(
    store: &server::store::Store,
    auth: &Arc<server::auth::Auth>,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    web_app_with(store, auth, Default::default()).await
}

/// [`web_app`] with facts of the outbound configuration (the DNS servers
/// the DKIM check asks, the route shown).
pub async fn web_app_with(
    store: &server::store::Store,
    auth: &Arc<server::auth::Auth>,
    outbound: server::web::OutboundFacts,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    web_app_quotas(store, auth, outbound, Default::default()).await
}

/// [`web_app_with`] with a user's webmail quotas. The web tests' trusted
/// reverse proxy is 127.0.0.100.
pub async fn web_app_quotas(
    store: &server::store::Store,
    auth: &Arc<server::auth::Auth>,
    outbound: server::web::OutboundFacts,
    quotas: server::web::Quotas,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    use server::web::{self, gate, StoreBackend, WebState};
    let backend: app::backend::SharedBackend = Arc::new(StoreBackend {
        store: store.clone(),
        auth: auth.clone(),
        hostname: "mx.continuity.test".into(),
        outbound: outbound.clone(),
        sms: false,
    });
    let state = WebState {
        store: store.clone(),
        auth: auth.clone(),
        backend,
        options: web::leptos_options(
            std::path::Path::new("target/site"),
            "127.0.0.1:8080".parse().expect("addr"),
            &Default::default(),
        ),
        hostname: "mx.continuity.test".into(),
        relay: Default::default(),
        outbound,
        trusted_proxies: Arc::new(vec!["127.0.0.100/32".parse().expect("net")]),
        quotas,
        health: Arc::new(server::health::Health::new("test")),
        assets: Default::default(),
        notifier: Arc::new(server::notify::Notifier::new(
            store.clone(),
            "mx.continuity.test",
            &auth.public_url,
            std::time::Duration::from_secs(1800),
            None,
        )),
    };
    actix_web::test::init_service(
        actix_web::App::new()
            .wrap(actix_web::middleware::from_fn(gate::gate))
            .wrap(actix_web::middleware::from_fn(
                web::encoding::compress_pages,
            ))
            .configure(web::configure(state)),
    )
    .await
}
