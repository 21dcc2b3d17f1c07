//! Inbound SMTP (RFC 5321) for the protected domains.
//!
//! - [`session`]: the sans-IO state machine (parsing with `smtp-proto`).
//! - [`data`]: reading one message after DATA (end, size, line endings).
//! - [`reply`]: replies as values.
//! - [`sasl`], [`submission`]: AUTH and the submission listener's rules
//!   (RFC 6409), for users' mail apps and the domains' own servers.
//! - this file: the listener (connection limit, TLS, graceful shutdown) and
//!   the driver that moves bytes between a socket and a session, and hands
//!   finished messages to the store. `250` is written only after
//!   [`Store::ingest`] returned, i.e. after the group commit's fsync.

pub mod data;
pub mod reply;
pub mod sasl;
pub mod session;
#[cfg(test)]
mod session_tests;
pub mod submission;
#[cfg(test)]
mod submission_tests;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tracing::Instrument;

use crate::config::SmtpConfig;
use crate::directory::Directory;
use crate::metrics;
use crate::store::{NewMessage, Origin, Store, Summary};
use reply::Reply;
use session::{Event, Session, SessionParams};

/// What every connection shares.
pub struct SmtpContext {
    pub params: Arc<SessionParams>,
    pub store: Store,
    pub directory: Arc<Directory>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub idle_timeout: Duration,
    pub data_timeout: Duration,
    pub max_connections: usize,
    /// A submission listener (AUTH, relay) instead of the inbound MX.
    pub submission: Option<submission::SubmissionContext>,
    connections: Arc<Semaphore>,
    per_ip: Arc<crate::per_ip::PerIp>,
    /// Message data held in memory by all sessions, in KiB permits.
    data_budget: Arc<Semaphore>,
    max_inflight_kib: usize,
    /// Messages read to their end and refused because the budget was spent.
    shed: AtomicU64,
    next_id: AtomicU64,
}

impl SmtpContext {
    pub fn new(
        hostname: &str,
        cfg: &SmtpConfig,
        store: Store,
        directory: Arc<Directory>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Arc<SmtpContext> {
        Arc::new(SmtpContext {
            params: Arc::new(SessionParams {
                hostname: hostname.to_string(),
                max_message_size: cfg.max_message_size,
                max_recipients: cfg.max_recipients,
                max_line_length: cfg.max_line_length,
                max_errors: cfg.max_errors,
                max_junk_commands: cfg.max_junk_commands,
                bare_newlines: cfg.bare_newlines,
                tls_available: tls.is_some(),
                submission: None,
            }),
            store,
            directory,
            tls: tls.map(tokio_rustls::TlsAcceptor::from),
            idle_timeout: cfg.idle_timeout,
            data_timeout: cfg.data_timeout,
            max_connections: cfg.max_connections,
            submission: None,
            connections: Arc::new(Semaphore::new(cfg.max_connections)),
            per_ip: crate::per_ip::PerIp::new(cfg.max_connections_per_ip),
            data_budget: Arc::new(Semaphore::new(kib(cfg.max_inflight_data) as usize)),
            max_inflight_kib: kib(cfg.max_inflight_data) as usize,
            shed: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
        })
    }
}

impl SmtpContext {
    /// Which listener this is, in `/metrics`.
    fn listener(&self) -> metrics::Listener {
        match self.submission {
            Some(_) => metrics::Listener::Submission,
            None => metrics::Listener::Mx,
        }
    }

    /// Message data the sessions hold in memory now, in KiB (what the
    /// in-flight budget has lent out).
    pub fn data_in_flight_kib(&self) -> usize {
        self.max_inflight_kib
            .saturating_sub(self.data_budget.available_permits())
    }

    /// Messages refused so far because the in-flight budget was spent.
    pub fn shed_messages(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }

    /// The same listener as a submission port (RFC 6409).
    pub fn submission(
        hostname: &str,
        cfg: &SmtpConfig,
        store: Store,
        directory: Arc<Directory>,
        tls: Option<Arc<rustls::ServerConfig>>,
        mode: session::SubmissionMode,
        sub: submission::SubmissionContext,
    ) -> Arc<SmtpContext> {
        let base = SmtpContext::new(hostname, cfg, store, directory, tls);
        let Ok(mut ctx) = Arc::try_unwrap(base) else {
            unreachable!("a new context has one owner")
        };
        let mut params = (*ctx.params).clone();
        params.submission = Some(mode);
        ctx.params = Arc::new(params);
        ctx.submission = Some(sub);
        Arc::new(ctx)
    }
}

/// Accept connections until `shutdown` turns true, then wait (up to
/// `grace`) for the sessions still receiving a message to finish.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<SmtpContext>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let id = ctx.next_id.fetch_add(1, Ordering::Relaxed);
                let span = tracing::info_span!("conn", proto = "smtp", conn_id = id, %peer);
                let permits = ctx
                    .connections
                    .clone()
                    .try_acquire_owned()
                    .map_err(|_| "Too many connections, try again later")
                    .and_then(|all| match ctx.per_ip.take(peer.ip()) {
                        Some(mine) => Ok((all, mine)),
                        None => Err("Too many connections from your address, try again later"),
                    });
                match permits {
                    Ok(permits) => {
                        let ctx = ctx.clone();
                        let shutdown = shutdown.clone();
                        let counted = metrics::smtp_session(ctx.listener());
                        tokio::spawn(async move {
                            let _counted = counted;
                            if let Err(e) = handle(stream, peer, &ctx, shutdown).await {
                                tracing::debug!(error = %e, "connection ended with an error");
                            }
                            drop(permits);
                        }.instrument(span));
                    }
                    Err(why) => {
                        let listener = ctx.listener();
                        tokio::spawn(async move {
                            let mut stream = stream;
                            tracing::warn!(why, "connection refused");
                            let r = Reply::new(421, [4, 7, 0], why);
                            count(listener, &r);
                            let _ = stream.write_all(&r.to_bytes()).await;
                            let _ = stream.shutdown().await;
                        }.instrument(span));
                    }
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    // Every permit back means every session has ended.
    let all = ctx.max_connections as u32;
    let _ = tokio::time::timeout(grace, ctx.connections.acquire_many(all)).await;
}

/// A reply about to be written, for `/metrics` (refusals are counted).
fn count(listener: metrics::Listener, r: &Reply) {
    metrics::smtp_reply(listener, r.code, r.enhanced);
}

fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

enum Next {
    Closed,
    StartTls,
}

async fn handle(
    mut tcp: TcpStream,
    peer: SocketAddr,
    ctx: &SmtpContext,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let connected = Instant::now();
    let _ = tcp.set_nodelay(true);
    let mut session = Session::new(
        ctx.params.clone(),
        ctx.directory.current(),
        peer.ip().to_string(),
        false,
    );
    if ctx.submission.is_some() {
        if let Some(p) = submission::network_principal(&ctx.store, peer.ip()).await {
            session.set_network_principal(p);
        }
    }
    if ctx.submission.as_ref().is_some_and(|s| s.implicit_tls) {
        // RFC 8314: TLS from the first byte, then the greeting
        let Some(mut tls) = accept_tls(ctx, tcp).await else {
            return Ok(());
        };
        session.tls_established();
        tls.write_all(&session.greeting().to_bytes()).await?;
        drive(&mut tls, &mut session, ctx, &mut shutdown, connected).await?;
        return Ok(());
    }
    tcp.write_all(&session.greeting().to_bytes()).await?;
    match drive(&mut tcp, &mut session, ctx, &mut shutdown, connected).await? {
        Next::Closed => return Ok(()),
        Next::StartTls => {}
    }
    let Some(mut tls) = accept_tls(ctx, tcp).await else {
        return Ok(());
    };
    session.tls_established();
    drive(&mut tls, &mut session, ctx, &mut shutdown, connected).await?;
    Ok(())
}

/// The TLS handshake on `tcp` within the idle timeout; `None` (logged) if
/// it fails or no certificate is configured.
async fn accept_tls(
    ctx: &SmtpContext,
    tcp: TcpStream,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let acceptor = ctx.tls.as_ref()?;
    match tokio::time::timeout(ctx.idle_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::info!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => None,
    }
}

/// Move bytes between `stream` and `session` until the session closes or
/// asks for TLS. Replies are batched and written when the session needs
/// more input (RFC 2920 pipelining).
async fn drive<S, P>(
    stream: &mut S,
    session: &mut Session<P>,
    ctx: &SmtpContext,
    shutdown: &mut watch::Receiver<bool>,
    connected: Instant,
) -> std::io::Result<Next>
where
    S: AsyncRead + AsyncWrite + Unpin,
    P: crate::directory::RecipientPolicy,
{
    let mut out = Vec::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    let mut data_started: Option<Instant> = None;
    // Share of the in-flight data budget this session holds (KiB).
    let mut held: Option<tokio::sync::OwnedSemaphorePermit> = None;
    let mut held_kib = 0u32;
    let listener = ctx.listener();
    loop {
        while let Some(event) = session.next_event() {
            match event {
                Event::Reply(r) => {
                    count(listener, &r);
                    r.write_to(&mut out)
                }
                Event::Commit(env) => match &ctx.submission {
                    Some(sub) => {
                        let snap = ctx.directory.current();
                        let ip = session.client_ip().to_string();
                        let r = submission::commit(
                            &ctx.store,
                            &snap,
                            &sub.relay,
                            &ctx.params.hostname,
                            env,
                            &ip,
                        )
                        .await;
                        let reply = match r {
                            Ok(id) => {
                                tracing::info!(message = %id, "submitted");
                                metrics::smtp_accepted(listener);
                                session.committed(Ok(id))
                            }
                            Err(reply) => session.commit_refused(reply),
                        };
                        count(listener, &reply);
                        reply.write_to(&mut out);
                    }
                    None => {
                        let result = commit(ctx, session, env).await;
                        if result.is_ok() {
                            metrics::smtp_accepted(listener);
                        }
                        let reply = session.committed(result);
                        count(listener, &reply);
                        reply.write_to(&mut out);
                    }
                },
                Event::Authenticate { user, password } => {
                    let reply = match &ctx.submission {
                        Some(sub) => {
                            let ip = session.client_ip().to_string();
                            let r =
                                submission::verify(&ctx.store, &sub.auth, &user, &password, &ip)
                                    .await;
                            session.authenticated(r)
                        }
                        None => session.authenticated(Err(Reply::new(
                            503,
                            [5, 5, 1],
                            "AUTH is not available on this port",
                        ))),
                    };
                    count(listener, &reply);
                    reply.write_to(&mut out);
                }
                Event::StartTls(r) => {
                    r.write_to(&mut out);
                    stream.write_all(&out).await?;
                    stream.flush().await?;
                    return Ok(Next::StartTls);
                }
                Event::Close(r) => {
                    count(listener, &r);
                    r.write_to(&mut out);
                    stream.write_all(&out).await?;
                    let _ = stream.shutdown().await;
                    record_rejections(ctx, session);
                    return Ok(Next::Closed);
                }
            }
        }
        record_rejections(ctx, session);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            stream.flush().await?;
            out.clear();
        }
        if session.in_data() {
            let want = kib(session.buffered());
            if want > held_kib {
                match ctx
                    .data_budget
                    .clone()
                    .try_acquire_many_owned(want - held_kib)
                {
                    Ok(p) => {
                        match &mut held {
                            Some(h) => h.merge(p),
                            None => held = Some(p),
                        }
                        held_kib = want;
                    }
                    Err(_) => {
                        tracing::warn!("in-flight data budget exhausted; message refused with 452");
                        ctx.shed.fetch_add(1, Ordering::Relaxed);
                        session.shed_data();
                        held = None;
                        held_kib = 0;
                    }
                }
            }
        } else if held.is_some() {
            held = None;
            held_kib = 0;
        }
        let timeout = if session.in_data() {
            let started = *data_started.get_or_insert_with(Instant::now);
            ctx.data_timeout.saturating_sub(started.elapsed())
        } else {
            data_started = None;
            ctx.idle_timeout
        };
        // submission: nobody stays connected long without being someone
        let login_left = match &ctx.submission {
            Some(sub) if !session.has_principal() => {
                Some(sub.login_timeout.saturating_sub(connected.elapsed()))
            }
            _ => None,
        };
        let timeout = login_left.map_or(timeout, |left| timeout.min(left));
        if *shutdown.borrow() && !session.in_data() {
            stream
                .write_all(&session.shutdown_reply().to_bytes())
                .await?;
            let _ = stream.shutdown().await;
            return Ok(Next::Closed);
        }
        tokio::select! {
            read = tokio::time::timeout(timeout, stream.read(&mut buf)) => match read {
                Err(_) => {
                    let reply = if login_left.is_some_and(|left| left <= timeout) {
                        Reply::new(421, [4, 7, 0], "Authentication took too long, closing connection")
                    } else {
                        session.timeout_reply()
                    };
                    count(listener, &reply);
                    stream.write_all(&reply.to_bytes()).await?;
                    let _ = stream.shutdown().await;
                    return Ok(Next::Closed);
                }
                Ok(Ok(0)) => return Ok(Next::Closed),
                Ok(Ok(n)) => session.feed(&buf[..n]),
                Ok(Err(e)) => return Err(e),
            },
            // Checked again at the top of the loop.
            _ = shutdown.changed(), if !session.in_data() => {}
        }
    }
}

fn record_rejections<P: crate::directory::RecipientPolicy>(
    ctx: &SmtpContext,
    session: &mut Session<P>,
) {
    for r in session.take_rejections() {
        tracing::info!(rcpt = ?r.rcpt, reply = %r.reply, "rejected");
        ctx.store.record_rejection(r);
    }
}

async fn commit<P: crate::directory::RecipientPolicy>(
    ctx: &SmtpContext,
    session: &Session<P>,
    env: session::Envelope,
) -> Result<crate::store::MessageId, String> {
    let size = env.raw.len();
    let (raw, summary) = Summary::for_ingest(env.raw)
        .await
        .map_err(|e| format!("summary task failed: {e}"))?; // only if the runtime is shutting down
    let rcpts = env.recipients.len();
    let msg = NewMessage {
        origin: Origin::Smtp,
        mail_from: env.mail_from,
        client_ip: Some(session.client_ip().to_string()),
        helo: env.helo,
        tls: env.tls,
        raw,
        summary,
        recipients: env.recipients,
        in_reply_to: None,
        sign_as: None,
    };
    match ctx.store.ingest(msg).await {
        Ok(id) => {
            tracing::info!(message = %id, size, rcpts, "accepted");
            Ok(id)
        }
        Err(e) => {
            tracing::error!(error = %e, "could not store a message; answered 451");
            Err(e.to_string())
        }
    }
}
