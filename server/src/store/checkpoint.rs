//! SQLite's WAL checkpoints, off the writer's commits.
//!
//! In WAL mode a commit appends pages to the `-wal` file; a checkpoint
//! copies them back into the database file (and fsyncs it) so that the WAL
//! can start over. By default the connection whose commit takes the WAL
//! past 1,000 pages runs the checkpoint inside that commit: under a steady
//! stream of mail that was the writer every tenth batch or so, and half of
//! the time its commits took (the senders of that batch waited on it).
//! Here a task of its own runs them, a moment after the writer's commits,
//! on a read connection, as `PASSIVE` checkpoints: they never wait on the
//! writer or a reader, and never make them wait. Durability does not
//! change: a commit is durable once its WAL frames are synced, which the
//! writer still does before it answers.
//!
//! The connections' own automatic checkpoint stays as a backstop, at a WAL
//! of [`BACKSTOP_PAGES`] (should this task fall behind).

use std::time::Duration;

use tokio::sync::mpsc;

use super::db;

/// The WAL size, in pages, at which a committing connection checkpoints
/// by itself.
pub const BACKSTOP_PAGES: u32 = 10_000;
/// After a commit: wait this long for more before checkpointing (one
/// checkpoint, one fsync of the database file, for many commits).
const GATHER: Duration = Duration::from_millis(200);

/// Start the checkpointer of a SQLite store: the sender is the writer's,
/// to say it committed (a full channel already says so); the task ends with
/// the writer.
pub(super) fn spawn(read: db::Pool) -> mpsc::Sender<()> {
    let (tx, mut rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut failing = false;
        while rx.recv().await.is_some() {
            tokio::time::sleep(GATHER).await;
            match db::raw("PRAGMA wal_checkpoint(PASSIVE)", &read).await {
                Ok(()) => failing = false,
                // said once per run of failures; the backstop still holds
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
                Err(_) => {}
            }
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use crate::store::testing::{self, Scratch};

    /// The database file's size: pages reach it only by a checkpoint.
    fn db_size(dir: &std::path::Path) -> u64 {
        std::fs::metadata(dir.join("continuity.db"))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn committed_pages_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = Scratch::new("checkpoint");
        let (store, alice, domain) = testing::with_alice(dir.path()).await;
        if store.backend() != crate::store::db::Backend::Sqlite {
            return;
        }
        // what opening wrote, checkpointed
        tokio::time::sleep(super::GATHER * 3).await;
        let before = db_size(dir.path());
        // 2 MB of mail: 500 pages, far below the writer's own threshold
        let body = "x".repeat(20_000);
        for i in 0..100 {
            let msg = testing::message_to_alice(&format!("m{i}"), &body, domain, Some(alice));
            store.ingest(msg).await.expect("stored");
        }
        let mut grown = 0;
        for _ in 0..50 {
            grown = db_size(dir.path()).saturating_sub(before);
            if grown >= 2_000_000 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            grown >= 2_000_000,
            "the database file grew by {grown} bytes only: nothing checkpointed"
        );
    }
}
