//! Login failures shared by the nodes of one database: each node writes
//! its own failures and successes (from its [`Throttle`]'s log) and reads
//! the others' before an attempt, so five wrong passwords spread over two
//! nodes hold as if made on one (see `throttle.rs`).

use std::time::Duration;

use super::throttle::{self, Throttle};
use super::{ms, Auth};
use crate::store::{now_ms, Store};

impl Auth {
    /// The failures other nodes recorded on this account and source
    /// (nothing on a database of one node; nothing, logged, when the
    /// database cannot tell: this node's own counts still hold).
    pub(super) async fn failures_elsewhere(&self, key: &str, ip: &str) -> throttle::Elsewhere {
        let Some(origin) = &self.shared else {
            return throttle::Elsewhere::default();
        };
        let (account, source) = Throttle::keys(key, ip);
        let since = now_ms() - ms(self.throttle.window());
        match self
            .store
            .login_failures_elsewhere(origin, &source, &account, since)
            .await
        {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read other nodes' login failures");
                throttle::Elsewhere::default()
            }
        }
    }
}

/// Write this node's login failures and successes for the other nodes,
/// and forget those older than the window now and then.
pub(super) async fn share_login_events(
    store: Store,
    origin: String,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<throttle::LoginEvent>,
    window: Duration,
) {
    let mut purged = 0;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        if let Err(e) = store.record_login_events(&origin, &batch).await {
            tracing::warn!(error = %e, "cannot record login failures for the other nodes");
        }
        let now = crate::store::now_ms();
        if now - purged > 60_000 {
            purged = now;
            if let Err(e) = store.forget_login_failures(now - ms(window)).await {
                tracing::warn!(error = %e, "cannot forget old login failures");
            }
        }
    }
}
