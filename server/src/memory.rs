//! Memory a burst no longer needs goes back to the system.
//!
//! After a burst (fifty SMTP sessions, a bulk import) the allocations are
//! freed, but glibc's allocator keeps the freed pages in its arenas: the
//! resident size stayed at three times the idle figure (measured by
//! `scripts/bench-web`: 43 MB idle, 155 MB after 2,000 messages on 50
//! sessions and still a minute later). So, once a minute, the arenas'
//! free pages are handed back (`malloc_trim`); SQLite's read connections
//! close after a minute unused or two minutes of life, and the writer's
//! connection drops its prepared statements and page cache once a minute
//! when nothing waits (`store::open`, `store/writer.rs`): most of what a
//! burst leaves is statements of every batch size, prepared and cached.
//! A trim with nothing free costs microseconds.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often free memory is handed back.
pub const TRIM_EVERY: Duration = Duration::from_secs(60);

/// Hand free memory back every [`TRIM_EVERY`] until shutdown.
pub fn trimmer(mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            // walks every arena under its lock: not on a worker thread
            let _ = tokio::task::spawn_blocking(trim).await;
        }
    })
}

/// Return the allocator's free pages to the system; whether any were.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only takes glibc's own arena locks; it has no
        // preconditions and may be called from any thread at any time.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn freed_memory_goes_back() {
        // a burst of allocations, freed: the trim finds pages to return
        let burst: Vec<Vec<u8>> = (0..2000).map(|i| vec![i as u8; 16 * 1024]).collect();
        assert_eq!(burst.len(), 2000);
        drop(burst);
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(super::trim());
    }
}
