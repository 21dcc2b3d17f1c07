//! Starting and stopping the whole service: store, directory, SMTP
//! listeners, delivery queue and web, with one shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::Auth;
use crate::cluster;
use crate::config::Config;
use crate::directory::Directory;
use crate::health::Health;
use crate::monitor::Monitor;
use crate::queue::{Deliverer, Outbound, Queue, SmtpDeliverer};
use crate::smtp::{self, SmtpContext};
use crate::store::Store;
use crate::web::{self, StoreBackend};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("outbound delivery: {0}")]
    Outbound(String),
    #[error("user notifications: {0}")]
    Notify(String),
    #[error("the IMAP listener needs a certificate ([smtp] tls_cert and tls_key, or self_signed): LOGIN is only allowed over TLS")]
    ImapWithoutTls,
    #[error("the submission listener needs a certificate ([smtp] tls_cert and tls_key, or self_signed): AUTH is only offered over TLS")]
    SubmissionWithoutTls,
    #[error("web.tls_listen needs a certificate ([smtp] tls_cert and tls_key, or self_signed)")]
    WebWithoutTls,
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running service.
pub struct Running {
    pub store: Store,
    pub auth: Arc<Auth>,
    pub directory: Arc<Directory>,
    pub smtp_addrs: Vec<SocketAddr>,
    /// Submission listeners: STARTTLS ones, then implicit-TLS ones.
    pub submission_addrs: Vec<SocketAddr>,
    /// IMAP listeners: STARTTLS ones, then implicit-TLS ones.
    pub imap_addrs: Vec<SocketAddr>,
    pub web_addr: SocketAddr,
    /// The inbound SMTP listeners' shared context (limits, budget).
    pub smtp: Arc<SmtpContext>,
    /// HTTPS listeners (`web.tls_listen`).
    pub web_tls_addrs: Vec<SocketAddr>,
    pub tls: bool,
    /// `GET /metrics` (`[metrics] listen`), if configured.
    pub metrics_addr: Option<SocketAddr>,
    /// The listeners' certificate (see [`Running::reload_tls`]).
    pub certificate: Option<Arc<crate::tls::Certificate>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    web: actix_web::dev::ServerHandle,
    metrics: Option<actix_web::dev::ServerHandle>,
}

/// Large allocations straight from the system and back to it when freed.
/// glibc raises its mmap threshold after the first large free, so each
/// password hash (argon2id: 19 MiB) would then come from a heap that is
/// never trimmed: sixty logins left 1.3 GB resident. Called first thing by
/// the binary.
pub fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; 1 MiB is valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Options that tests and the demo change.
#[derive(Default)]
pub struct StartOptions {
    /// Deliver with this instead of the SMTP client.
    pub deliverer: Option<Arc<dyn Deliverer>>,
    /// Run without the delivery queue (e.g. to inspect what was stored).
    pub no_queue: bool,
    /// Run without the outage monitor (the domains keep their stored state).
    pub no_monitor: bool,
    /// Route outbound mail like this instead of as configured (e.g. a fake DNS).
    pub outbound: Option<crate::queue::Outbound>,
}

pub async fn start(cfg: &Config, opts: StartOptions) -> Result<Running, StartError> {
    let store = Store::connect(&cfg.store).await?;
    let directory = Arc::new(Directory::default());
    directory.refresh(&store).await;
    directory.spawn_refresher(store.clone(), Duration::from_secs(5));

    let (tls, certificate) = match (&cfg.smtp.tls_cert, &cfg.smtp.tls_key) {
        (Some(c), Some(k)) => {
            let (config, cert) = crate::tls::reloadable(c, k)?;
            (Some(config), Some(cert))
        }
        _ if cfg.smtp.self_signed => {
            let (c, k) = crate::tls::ensure_self_signed(&cfg.data_dir, &cfg.hostname)?;
            let (config, cert) = crate::tls::reloadable(&c, &k)?;
            (Some(config), Some(cert))
        }
        _ => (None, None),
    };
    let has_tls = tls.is_some();

    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let node = cluster::Node::new(&cfg.node_id).with_settings(&cfg.shared_fingerprint());
    tasks.push(tokio::spawn(cluster::heartbeat(
        store.clone(),
        node.clone(),
        shutdown_rx.clone(),
    )));

    let auth = Arc::new(Auth::new(store.clone(), &cfg.web).await?);
    let ctx = SmtpContext::new(
        &cfg.hostname,
        &cfg.smtp,
        store.clone(),
        directory.clone(),
        tls.clone(),
    );
    let grace = cfg.smtp.data_timeout.min(Duration::from_secs(60));
    // every listener watched, for /readyz
    let mut health = Health::new(&node.id);
    let mut smtp_addrs = Vec::new();
    for addr in &cfg.smtp.listen {
        let listener = bind(*addr).await?;
        let local = local_addr(&listener, *addr)?;
        smtp_addrs.push(local);
        tasks.push(tokio::spawn(health.watch(
            format!("SMTP {local}"),
            smtp::serve(listener, ctx.clone(), shutdown_rx.clone(), grace),
        )));
    }

    let mut submission_addrs = Vec::new();
    // one set of sending rules and counts for the webmail and submission
    let relay = crate::relay::RelayOptions {
        copy_sent_to_primary: cfg.web.copy_sent_to_primary,
        relay_max_per_hour: cfg.submission.relay_max_per_hour,
        max_per_hour: i64::from(cfg.web.max_sends_per_hour),
        ..Default::default()
    };
    if cfg.submission.enabled() {
        if tls.is_none() && !cfg.submission.allow_plaintext_auth {
            return Err(StartError::SubmissionWithoutTls);
        }
        let listeners = cfg
            .submission
            .listen
            .iter()
            .map(|a| (*a, false))
            .chain(cfg.submission.tls_listen.iter().map(|a| (*a, true)));
        for (addr, implicit_tls) in listeners {
            if implicit_tls && tls.is_none() {
                return Err(StartError::SubmissionWithoutTls);
            }
            let sub = SmtpContext::submission(
                &cfg.hostname,
                &cfg.smtp,
                store.clone(),
                directory.clone(),
                tls.clone(),
                smtp::session::SubmissionMode {
                    allow_plaintext_auth: cfg.submission.allow_plaintext_auth,
                },
                smtp::submission::SubmissionContext {
                    auth: auth.clone(),
                    relay: relay.clone(),
                    implicit_tls,
                    login_timeout: cfg.submission.login_timeout,
                },
            );
            let listener = bind(addr).await?;
            let local = local_addr(&listener, addr)?;
            submission_addrs.push(local);
            tasks.push(tokio::spawn(health.watch(
                format!("submission {local}"),
                smtp::serve(listener, sub, shutdown_rx.clone(), grace),
            )));
        }
    }

    let mut imap_addrs = Vec::new();
    if cfg.imap.enabled() {
        if tls.is_none() && (!cfg.imap.allow_plaintext_auth || !cfg.imap.tls_listen.is_empty()) {
            return Err(StartError::ImapWithoutTls);
        }
        let ictx = crate::imap::ImapContext::new(
            store.clone(),
            auth.clone(),
            &cfg.hostname,
            &cfg.imap,
            tls.clone(),
        );
        let listeners = cfg
            .imap
            .listen
            .iter()
            .map(|a| (*a, false))
            .chain(cfg.imap.tls_listen.iter().map(|a| (*a, true)));
        for (addr, implicit_tls) in listeners {
            let listener = bind(addr).await?;
            let local = local_addr(&listener, addr)?;
            imap_addrs.push(local);
            tasks.push(tokio::spawn(health.watch(
                format!("IMAP {local}"),
                crate::imap::serve(listener, ictx.clone(), implicit_tls, shutdown_rx.clone()),
            )));
        }
    }

    tasks.push(tokio::spawn(crate::archive::backfill(
        store.clone(),
        shutdown_rx.clone(),
    )));
    // users told of starts and ends (the SMS gateway's files read now)
    let sms = match cfg.notify.sms.clone() {
        Some(g) => Some(Arc::new(
            crate::notify::sms::Gateway::new(g).map_err(StartError::Notify)?,
        )),
        None => None,
    };
    let notifier = Arc::new(crate::notify::Notifier::new(
        store.clone(),
        &cfg.hostname,
        &cfg.web.public_url,
        cfg.notify.quiet_period,
        sms,
    ));
    if !opts.no_queue {
        let deliverer = match opts.deliverer {
            Some(d) => d,
            None => Arc::new(
                SmtpDeliverer::new(&cfg.hostname, cfg.queue.timeout)
                    .map_err(|e| StartError::Outbound(format!("TLS for delivery: {e}")))?,
            ),
        };
        let outbound = match opts.outbound {
            Some(o) => o,
            None => Outbound::from_config(&cfg.outbound, cfg.queue.timeout)
                .map_err(StartError::Outbound)?,
        };
        let queue = Queue::new(
            store.clone(),
            directory.clone(),
            deliverer,
            cfg.queue.clone(),
            outbound,
            &cfg.hostname,
            &node.id,
        );
        // the jobs that run on one node at a time (see cluster.rs)
        let mut lead = |job| {
            let (leading, task) = cluster::lead(&store, &node, job, shutdown_rx.clone());
            tasks.push(task);
            leading
        };
        let monitor_lead = lead(cluster::Job::Monitor);
        let retention_lead = lead(cluster::Job::Retention);
        let dirsync_lead = lead(cluster::Job::DirectorySync);
        let webhooks_lead = lead(cluster::Job::Webhooks);
        if !opts.no_monitor {
            let (monitor, signals) = Monitor::new(store.clone(), &cfg.hostname);
            let _ = queue.signals.set(signals);
            let monitor = monitor.led_by(monitor_lead);
            tasks.push(tokio::spawn(monitor.run(shutdown_rx.clone())));
        }
        tasks.push(tokio::spawn(queue.run(shutdown_rx.clone())));
        tasks.push(tokio::spawn(crate::archive::run(
            store.clone(),
            retention_lead,
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(crate::dirsync::run_schedule(
            store.clone(),
            dirsync_lead,
            shutdown_rx.clone(),
        )));
        let hooks = crate::monitor::webhook::Sender::new(store.clone()).led_by(webhooks_lead);
        tasks.push(tokio::spawn(hooks.run(shutdown_rx.clone())));
        tasks.push(tokio::spawn(notifier.clone().run(shutdown_rx.clone())));
    }

    let web_listener =
        std::net::TcpListener::bind(cfg.web.listen).map_err(|source| StartError::Bind {
            addr: cfg.web.listen,
            source,
        })?;
    let web_addr = web_listener
        .local_addr()
        .map_err(|source| StartError::Bind {
            addr: cfg.web.listen,
            source,
        })?;
    {
        // expired sessions are removed every few minutes
        let auth = auth.clone();
        let mut stop = shutdown_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(300));
            loop {
                tokio::select! {
                    _ = tick.tick() => auth.purge_sessions().await,
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    let outbound = web::OutboundFacts {
        route: match (&cfg.outbound.smarthost, cfg.outbound.direct) {
            (Some((host, port)), _) => format!("{host}:{port}"),
            (None, true) => "direct".into(),
            (None, false) => String::new(),
        },
        submission: submission_addrs.clone(),
        nameservers: cfg.outbound.nameservers.clone(),
    };
    let backend: app::backend::SharedBackend = Arc::new(StoreBackend {
        store: store.clone(),
        auth: auth.clone(),
        hostname: cfg.hostname.clone(),
        outbound: outbound.clone(),
        sms: cfg.notify.sms.is_some(),
    });
    let mut web_tls_listeners = Vec::new();
    let mut web_tls_addrs = Vec::new();
    for addr in &cfg.web.tls_listen {
        if tls.is_none() {
            return Err(StartError::WebWithoutTls);
        }
        let l = std::net::TcpListener::bind(addr).map_err(|source| StartError::Bind {
            addr: *addr,
            source,
        })?;
        web_tls_addrs.push(l.local_addr().map_err(|source| StartError::Bind {
            addr: *addr,
            source,
        })?);
        web_tls_listeners.push(l);
    }
    let health = Arc::new(health);
    tasks.push(crate::memory::trimmer(shutdown_rx.clone()));
    tasks.extend(crate::systemd::watchdog(
        health.clone(),
        shutdown_rx.clone(),
    ));
    let assets = Arc::new(web::assets::Assets::load(&cfg.web.site_root));
    let (br, gz, files) = assets.counts();
    tracing::info!(
        files,
        brotli = br,
        gzip = gz,
        version = %assets.pkg_dir(),
        "web assets"
    );
    let server = web::bind(
        web_listener,
        web_tls_listeners,
        tls.clone(),
        web::WebState {
            store: store.clone(),
            auth: auth.clone(),
            backend,
            options: web::leptos_options(&cfg.web.site_root, web_addr, &assets),
            hostname: cfg.hostname.clone(),
            relay,
            outbound,
            trusted_proxies: Arc::new(cfg.web.trusted_proxies.clone()),
            quotas: web::Quotas {
                max_drafts: cfg.web.max_drafts,
                draft_files: cfg.web.draft_files_quota,
            },
            health: health.clone(),
            assets,
            notifier,
        },
    )
    .map_err(|source| StartError::Bind {
        addr: cfg.web.listen,
        source,
    })?;
    let web = server.handle();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "web server failed");
        }
    }));

    let mut metrics = None;
    if let Some(addr) = cfg.metrics.listen {
        let bind_error = |source| StartError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        let server = crate::metrics::serve(
            listener,
            crate::metrics::Sources {
                store: store.clone(),
                certificate: certificate.as_ref().map(|c| c.path().to_path_buf()),
            },
        )
        .map_err(bind_error)?;
        metrics = Some((local, server.handle()));
        tasks.push(tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(error = %e, "metrics server failed");
            }
        }));
    }

    Ok(Running {
        store,
        auth,
        directory,
        smtp_addrs,
        submission_addrs,
        imap_addrs,
        web_addr,
        smtp: ctx,
        web_tls_addrs,
        tls: has_tls,
        metrics_addr: metrics.as_ref().map(|(a, _)| *a),
        certificate,
        shutdown,
        tasks,
        web,
        metrics: metrics.map(|(_, h)| h),
    })
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(l: &tokio::net::TcpListener, addr: SocketAddr) -> Result<SocketAddr, StartError> {
    l.local_addr()
        .map_err(|source| StartError::Bind { addr, source })
}

impl Running {
    /// Read the certificate and key again (SIGHUP): the TLS handshakes of
    /// every listener after this present the new one; sessions already up
    /// keep theirs. On an error the certificate in use stays. `false`
    /// without TLS.
    pub fn reload_tls(&self) -> Result<bool, crate::tls::TlsError> {
        match &self.certificate {
            Some(c) => c.reload().map(|()| true),
            None => Ok(false),
        }
    }

    /// Stop accepting, let sessions in DATA finish, finish attempts under way.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        self.web.stop(true).await;
        if let Some(m) = self.metrics {
            m.stop(true).await;
        }
        for t in self.tasks {
            let _ = t.await;
        }
        let _ = self.store.flush().await;
    }
}
