//! What `GET /healthz` and `GET /readyz` answer, for load balancers and
//! orchestrators. Live: the process answers HTTP. Ready: every listener it
//! started with still accepts (none does once it shuts down), and the
//! store is ready for this node (`store::readiness`: the migrations this
//! binary knows, a write within seconds).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::store::Store;

/// The listeners of this node, and its id (whose heartbeat row the
/// readiness write touches).
#[derive(Debug, Default)]
pub struct Health {
    node: String,
    listeners: Vec<Listener>,
    /// The last store check and its answer: asked again at most every
    /// [`STORE_CHECK_EVERY`], however often `/readyz` is asked (it writes,
    /// and anyone may ask).
    last: Mutex<Option<(Instant, Option<String>)>>,
}

/// The store's readiness is checked at most this often.
pub const STORE_CHECK_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Listener {
    /// "SMTP 127.0.0.1:25", "IMAP [::1]:993", …
    what: String,
    up: Arc<AtomicBool>,
}

impl Health {
    pub fn new(node: &str) -> Health {
        Health {
            node: node.to_string(),
            ..Health::default()
        }
    }

    /// `serve`, a listener's accept loop, watched: the node is not ready
    /// once it has returned.
    pub fn watch(
        &mut self,
        what: String,
        serve: impl Future<Output = ()>,
    ) -> impl Future<Output = ()> {
        let up = Arc::new(AtomicBool::new(true));
        self.listeners.push(Listener {
            what,
            up: up.clone(),
        });
        async move {
            serve.await;
            up.store(false, Ordering::Relaxed);
        }
    }

    /// The first listener that no longer accepts, if any.
    pub fn listeners_down(&self) -> Option<String> {
        self.listeners
            .iter()
            .find(|l| !l.up.load(Ordering::Relaxed))
            .map(|l| format!("the {} listener no longer accepts", l.what))
    }

    /// Why this node is not ready, if it is not.
    pub async fn not_ready(&self, store: &Store) -> Option<String> {
        if let Some(why) = self.listeners_down() {
            return Some(why);
        }
        // one check at a time; those asking meanwhile take its answer
        let mut last = self.last.lock().await;
        if let Some((at, why)) = &*last {
            if at.elapsed() < STORE_CHECK_EVERY {
                return why.clone();
            }
        }
        let why = store.not_ready(&self.node).await;
        *last = Some((Instant::now(), why.clone()));
        why
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{self, Scratch};

    #[tokio::test]
    async fn a_listener_that_stopped_makes_the_node_not_ready() {
        let dir = Scratch::new("health");
        let store = testing::open(dir.path()).await.expect("store");
        let mut health = Health::new("test");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(health.watch("IMAP 127.0.0.1:1993".into(), async move {
            let _ = stopped.await;
        }));
        assert_eq!(health.not_ready(&store).await, None);
        let _ = stop.send(());
        serving.await.expect("stopped");
        assert_eq!(
            health.not_ready(&store).await.as_deref(),
            Some("the IMAP 127.0.0.1:1993 listener no longer accepts")
        );
    }
}
