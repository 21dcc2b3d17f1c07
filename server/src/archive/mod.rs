//! The three-month archive's upkeep: the daily purge of what is past its
//! domain's retention (see [`crate::store::retention`]), and [`io`]:
//! import from mbox / Maildir / .eml and export as mbox.

pub mod io;

use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::store::retention::Purged;
use crate::store::{now_ms, Result, Store};

/// Messages per batch: each batch is one short transaction.
pub const BATCH: u32 = 500;

/// How long a removed message's UID is remembered for sessions (and mail
/// apps resynchronising) that have not heard of its removal yet.
pub const VANISHED_KEPT_MS: i64 = 7 * 24 * 3600 * 1000;

/// Purge everything past retention at `now`, batch after batch, pausing
/// between batches so ingest keeps its pace. Logged with counts.
pub async fn purge(store: &Store, now: i64, batch: u32, pause: Duration) -> Result<Purged> {
    let t0 = Instant::now();
    let mut total = Purged::default();
    loop {
        let p = store.purge_batch(now, batch).await?;
        if p == Purged::default() {
            break;
        }
        total.messages += p.messages;
        crate::metrics::purged(p.messages);
        total.bodies += p.bodies;
        total.events += p.events;
        tokio::time::sleep(pause).await;
    }
    // removals older than a week: every session has long caught up
    let vanished = store.prune_vanished(now - VANISHED_KEPT_MS).await?;
    let took = t0.elapsed().as_millis() as i64;
    store.log_purge(now_ms(), total, took).await?;
    tracing::info!(
        messages = total.messages,
        bodies = total.bodies,
        refused_events = total.events,
        vanished,
        took_ms = took,
        "archive purge done"
    );
    Ok(total)
}

/// Read the Cc header, then the trigrams, of mail stored before they were
/// kept, a batch at a time (leaving the writer to the mail that arrives
/// meanwhile); ends when none is left.
pub async fn backfill(store: Store, mut shutdown: watch::Receiver<bool>) {
    let cc = batches(
        &mut shutdown,
        || store.backfill_cc(),
        "reading Cc headers failed; the next start tries again",
        "Cc headers of earlier mail read: CC searches use the index",
    )
    .await;
    if cc {
        batches(
            &mut shutdown,
            || store.backfill_grams(),
            "indexing earlier mail for SEARCH failed; the next start tries again",
            "earlier mail indexed for IMAP SEARCH BODY/TEXT",
        )
        .await;
    }
}

/// Run `batch` until it does nothing more (0), pausing between batches;
/// false when it failed or the service is stopping.
async fn batches<F, Fut>(
    shutdown: &mut watch::Receiver<bool>,
    batch: F,
    failed: &str,
    done: &str,
) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = crate::store::Result<u64>>,
{
    let start = std::time::Instant::now();
    let mut total = 0u64;
    loop {
        match batch().await {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => {
                tracing::warn!(error = %e, "{failed}");
                return false;
            }
        }
        tokio::select! {
            _ = shutdown.changed() => return false,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    if total > 0 {
        tracing::info!(messages = total, secs = start.elapsed().as_secs(), "{done}");
    }
    true
}

/// Runs the purge a minute after start, then every day.
pub async fn run(
    store: Store,
    leading: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if !*leading.borrow() {
            // another node purges; look again in a minute
            wait = Duration::from_secs(60);
            continue;
        }
        if let Err(e) = purge(&store, now_ms(), BATCH, Duration::from_millis(20)).await {
            tracing::error!(error = %e, "archive purge failed; trying again in an hour");
            wait = Duration::from_secs(3600);
            continue;
        }
        wait = Duration::from_secs(24 * 3600);
    }
}
