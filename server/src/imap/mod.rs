//! IMAP access to the continuity mailbox (RFC 3501; IMAP4rev1 with IDLE,
//! UIDPLUS, MOVE, UNSELECT, LITERAL+, SASL-IR, SPECIAL-USE): users' desktop
//! and phone mail apps keep working during an outage, with the same
//! address and (emergency) password as the webmail.
//!
//! - [`session`]: the state machine, login, SELECT, APPEND; [`mailboxes`]:
//!   INBOX and Sent, LIST, STATUS; [`selected_cmds`]: STORE, COPY, MOVE,
//!   EXPUNGE; [`read_cmds`]: FETCH, SEARCH;
//!   [`selected`]: the selected mailbox (sequence numbers, changes);
//!   [`fetch`], [`mime`]: FETCH items, ENVELOPE, BODYSTRUCTURE, sections;
//!   [`search`]: SEARCH keys.
//! - this file: listeners (STARTTLS and implicit TLS) and limits
//!   (connections in all and per client address, sessions per user, the
//!   login deadline and idle timeout, literal size);
//! - [`driver`]: between any async stream and imap-next's sans-IO server
//!   (the wire format is the library's, the semantics ours): AUTHENTICATE
//!   and IDLE flows, small commands before login, FETCH jobs written batch
//!   by batch. IDLE listens to the store's mailbox events, so new mail
//!   shows at once.

pub mod append;
pub mod condstore;
#[cfg(test)]
mod condstore_tests;
mod driver;
pub mod fetch;
pub mod flags;
#[cfg(test)]
mod folder_tests;
#[cfg(test)]
mod keyword_tests;
pub mod mailboxes;
pub mod mime;
pub mod mutf7;
#[cfg(test)]
mod prelogin_tests;
pub mod read_cmds;
pub mod reply;
#[cfg(test)]
mod scale_tests;
pub mod search;
#[cfg(test)]
mod search_tests;
mod select;
pub mod selected;
pub mod selected_cmds;
pub mod session;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod test_world;
#[cfg(test)]
mod trash_tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tracing::Instrument;

use crate::auth::Auth;
use crate::config::ImapConfig;
use crate::store::{Store, UserId};
pub use driver::{drive, Ended};
use session::Session;

/// What every IMAP connection shares.
pub struct ImapContext {
    pub store: Store,
    pub auth: Arc<Auth>,
    pub hostname: String,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub tls_available: bool,
    pub allow_plaintext_auth: bool,
    pub login_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_literal_size: u32,
    /// Bytes a user may append in all (what the archive holds of it).
    pub append_quota: u64,
    pub max_connections: usize,
    max_sessions_per_user: usize,
    connections: Arc<Semaphore>,
    per_ip: Arc<crate::per_ip::PerIp>,
    sessions: Arc<Mutex<HashMap<UserId, usize>>>,
    next_id: AtomicU64,
}

/// One of a user's session slots, given back when dropped.
pub struct Slot {
    user: UserId,
    sessions: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.user);
            }
        }
    }
}

impl ImapContext {
    pub fn new(
        store: Store,
        auth: Arc<Auth>,
        hostname: &str,
        cfg: &ImapConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Arc<ImapContext> {
        Arc::new(ImapContext {
            store,
            auth,
            hostname: hostname.to_string(),
            tls_available: tls.is_some(),
            tls: tls.map(tokio_rustls::TlsAcceptor::from),
            allow_plaintext_auth: cfg.allow_plaintext_auth,
            login_timeout: cfg.login_timeout,
            idle_timeout: cfg.idle_timeout,
            max_literal_size: u32::try_from(cfg.max_literal_size).unwrap_or(u32::MAX / 2),
            append_quota: cfg.append_quota as u64,
            max_connections: cfg.max_connections,
            max_sessions_per_user: cfg.max_sessions_per_user,
            connections: Arc::new(Semaphore::new(cfg.max_connections)),
            per_ip: crate::per_ip::PerIp::new(cfg.max_connections_per_ip),
            sessions: Arc::new(Mutex::new(HashMap::new())),
            next_id: AtomicU64::new(1),
        })
    }

    /// A session slot for `user`, unless they have the most already.
    pub fn take_slot(&self, user: UserId) -> Option<Slot> {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(user).or_insert(0);
        if *n >= self.max_sessions_per_user {
            return None;
        }
        *n += 1;
        Some(Slot {
            user,
            sessions: self.sessions.clone(),
        })
    }
}

/// Accept connections until `shutdown`; `implicit_tls`: TLS from the first
/// byte (port 993 style).
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<ImapContext>,
    implicit_tls: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let id = ctx.next_id.fetch_add(1, Ordering::Relaxed);
                let span = tracing::info_span!("conn", proto = "imap", conn_id = id, %peer);
                let ctx = ctx.clone();
                let stop = shutdown.clone();
                tokio::spawn(async move {
                    let Ok(permit) = ctx.connections.clone().try_acquire_owned() else {
                        tracing::warn!("IMAP connection limit reached");
                        let mut tcp = tcp;
                        let _ = tcp.write_all(b"* BYE Too many connections, try again later\r\n").await;
                        return;
                    };
                    let Some(mine) = ctx.per_ip.take(peer.ip()) else {
                        tracing::warn!("IMAP connection limit reached for this address");
                        let mut tcp = tcp;
                        let _ = tcp
                            .write_all(b"* BYE Too many connections from your address, try again later\r\n")
                            .await;
                        return;
                    };
                    let _counted = crate::metrics::imap_session();
                    if let Err(e) = connection(tcp, peer, &ctx, implicit_tls, stop).await {
                        tracing::debug!(error = %e, "IMAP connection ended with an error");
                    }
                    drop((permit, mine));
                }.instrument(span));
            }
            _ = shutdown.changed() => break,
        }
    }
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    ctx: &Arc<ImapContext>,
    implicit_tls: bool,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let _ = tcp.set_nodelay(true);
    let tcp = crate::quickack::QuickAck::new(tcp);
    let ip = peer.ip().to_string();
    // logging in must happen within login_timeout of connecting, whatever
    // the client sends meanwhile
    let deadline = tokio::time::Instant::now() + ctx.login_timeout;
    if implicit_tls {
        let Some(acceptor) = &ctx.tls else {
            return Ok(());
        };
        let Ok(Ok(mut tls)) = tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await else {
            return Ok(());
        };
        let mut session = Session::new(ctx.clone(), true, ip);
        drive(&mut tls, &mut session, ctx, &mut stop, true, deadline).await?;
        return Ok(());
    }
    let mut tcp = tcp;
    let mut session = Session::new(ctx.clone(), false, ip);
    if drive(&mut tcp, &mut session, ctx, &mut stop, true, deadline).await? != Ended::StartTls {
        return Ok(());
    }
    let Some(acceptor) = &ctx.tls else {
        return Ok(());
    };
    let Ok(Ok(mut tls)) = tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await else {
        return Ok(());
    };
    session.tls = true;
    // a fresh parser: nothing sent before TLS is acted upon (RFC 3501 §6.2.1)
    drive(&mut tls, &mut session, ctx, &mut stop, false, deadline).await?;
    Ok(())
}
