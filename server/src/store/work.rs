//! How much work the database did: SQLite calls a handler every
//! [`TICK`] virtual-machine steps on each of the store's connections, and
//! the process counts them. A query that walks a whole mailbox costs
//! thousands of ticks; one that reads the rows a page shows, a handful.
//! Tests compare the work of one request on a small and on a large
//! mailbox with it (time is too noisy to assert on).

use std::sync::atomic::{AtomicU64, Ordering};

/// Virtual-machine steps per tick.
pub const TICK: i32 = 100;

static TICKS: AtomicU64 = AtomicU64::new(0);

/// Ticks counted so far in this process (all stores, all connections).
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Count this connection's work.
pub(super) async fn count_on(c: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    c.lock_handle().await?.set_progress_handler(TICK, || {
        TICKS.fetch_add(1, Ordering::Relaxed);
        // never interrupts the statement
        true
    });
    Ok(())
}
