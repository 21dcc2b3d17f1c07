//! The store: the only module with SQL.
//!
//! SQLite in WAL mode under the data directory, migrations from
//! `migrations/` applied at open. Two paths into the database:
//!
//! - the **writer** ([`writer`]): one task that owns the write connection and
//!   commits everything the hot paths produce (accepted messages, queue
//!   claims and outcomes, rejection events, new users) in group commits: all requests
//!   waiting when a transaction starts share it and its single fsync.
//!   A caller is answered only after the commit returned, which is what lets
//!   SMTP say `250` only for durable mail.
//! - a **read pool** plus rare administrative writes (domains, users), which
//!   wait on SQLite's lock like any other writer.
//!
//! Sub-modules: [`types`] (ids and rows), [`summary`] (mail-parser),
//! [`writer`] (group commit and the SQL of the hot paths), [`admin`]
//! (domains, users, the recipient directory), [`reads`] (overviews, raw
//! bodies, tracking), [`accounts`] (password hashes, sessions, password
//! links, server keys), [`mailbox`] (each user's folders, read state,
//! full-text search).

pub mod accounts;
pub mod admin;
pub mod admins;
pub mod archive_io;
pub mod bus;
mod checkpoint;
pub mod cluster;
pub mod contacts;
pub mod continuity;
pub mod control;
pub mod copy;
pub mod db;
pub mod dialect;
pub mod directories;
pub mod draft_mirror;
pub mod drafts;
pub mod events;
pub mod folders;
#[cfg(test)]
mod folders_migration_tests;
pub mod fts;
pub mod gauges;
pub mod grams;
pub mod imap;
mod imap_add;
mod imap_changes;
pub mod imap_search;
pub mod imap_snapshot;
pub mod indexer;
mod ingest;
pub mod keywords;
pub mod login_failures;
pub mod mailbox;
pub mod notices;
pub mod passkeys;
mod queue_writes;
pub mod readiness;
pub mod reads;
pub mod relay;
pub mod report;
pub mod retention;
pub mod second_factor;
pub mod snapshot;
pub mod subscriptions;
pub mod summary;
#[doc(hidden)]
pub mod testing;
pub mod tracking;
mod trash;
pub mod types;
pub mod webhooks;
pub mod work;
pub mod writer;

use std::path::Path;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::{StoreConfig, StoreUrl};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::{mpsc, oneshot, Notify};

pub use bus::MailboxEvent;
pub use queue_writes::CLAIM_LEASE;
pub use types::*;

/// Errors of the store. Callers show `Unavailable` as a temporary failure
/// (e.g. SMTP 451) and never lose the data they were trying to write.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "the database's schema is at version {0}, newer than this program knows \
         (up to {1}): run the newer Continuity, or restore a backup from before the upgrade"
    )]
    SchemaTooNew(i64, i64),
    #[error("cannot open the store at {0} ([store] url): {1}")]
    Open(String, Box<StoreError>),
    #[error("cannot create data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("the store is shutting down")]
    Unavailable,
    #[error("{0}")]
    Invalid(String),
    /// A form's value refused, said in the viewer's language by the page.
    #[error("{0}")]
    Refused(app::backend::Refusal),
    #[error("not found: {0}")]
    NotFound(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// This error, naming the store it happened at.
    fn at(self, url: &StoreUrl) -> StoreError {
        StoreError::Open(url.redacted(), Box::new(self))
    }
}

/// A migration's result; a database migrated by a newer program is
/// refused with both versions named.
fn migrated(
    migrator: &sqlx::migrate::Migrator,
    r: std::result::Result<(), sqlx::migrate::MigrateError>,
) -> Result<()> {
    match r {
        Err(sqlx::migrate::MigrateError::VersionMissing(v)) => {
            let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
            Err(StoreError::SchemaTooNew(v, known))
        }
        r => Ok(r?),
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Writers on PostgreSQL, each its own connection and group commits: while
/// one waits for its commit, the next batch is already being written (the
/// mailbox rows, which take per-folder locks, go last in each batch; see
/// `ingest_pg.rs`).
pub const PG_WRITERS: usize = 2;

/// How long a PostgreSQL connection is waited for, trying again while the
/// server refuses them (sqlx backs off up to a fifth of it). While the
/// database is down, mail waits this long for its 451: seconds, not the
/// tens a sender's timeout allows; and a connection is taken again within
/// about half a second once the database is back.
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) read: db::Pool,
    /// The writers' pool (read only for its figures, in `/metrics`).
    write: db::Pool,
    /// The group-commit writers (one on SQLite, [`PG_WRITERS`] on
    /// PostgreSQL); requests go to them in turn.
    writers: Arc<[mpsc::Sender<writer::Request>]>,
    next_writer: Arc<std::sync::atomic::AtomicUsize>,
    /// Woken after each commit that queued deliveries.
    pub queue_wake: Arc<Notify>,
    /// A user whose mailbox changed (new mail, flags, expunged): IMAP
    /// sessions (IDLE) look again.
    mailbox_events: tokio::sync::broadcast::Sender<MailboxEvent>,
    /// The same changes, to the other nodes (PostgreSQL; see [`bus`]).
    outbox: Option<bus::Outbox>,
    /// Primaries' temporary failures other nodes' queues met.
    trouble_events: tokio::sync::broadcast::Sender<(DomainId, String)>,
    /// Folder views lately read, shared by IMAP sessions (see
    /// [`imap_snapshot`]).
    folders: Arc<imap_snapshot::FolderCache>,
}

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: every commit fsyncs the WAL. This is the durability contract.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // reads straight from the OS page cache, and a larger page cache
        // per connection: Live Tracking and search walk many rows
        .pragma("mmap_size", "268435456")
        .pragma("cache_size", "-16000")
        // a batch's savepoints journal in memory: on disk each batch made,
        // wrote and deleted a temporary file
        .pragma("temp_store", "memory")
        // the checkpoints are the checkpointer's, off the writer's commits
        .pragma("wal_autocheckpoint", checkpoint::BACKSTOP_PAGES.to_string())
}

/// Create `dir` (and its parents) readable by the service's user only
/// (0700): it holds every archived message.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// The database file readable by the service's user only (0600; SQLite
/// gives its -wal and -shm files the same): created so if missing, and an
/// existing one that others could read is tightened (and said).
fn private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::metadata(path) {
            Ok(m) => {
                let mode = m.permissions().mode();
                if mode & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "the database was readable by others: now 0600");
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
                }
            }
            Err(_) => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o600)
                    .open(path)?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl Store {
    /// Open the store `cfg` names (see [`crate::config::StoreConfig`]).
    pub async fn connect(cfg: &StoreConfig) -> Result<Store> {
        match &cfg.url {
            StoreUrl::Sqlite(path) => Store::open(path).await,
            StoreUrl::Postgres(url) => Store::open_postgres(url, cfg.pool_size)
                .await
                .map_err(|e| e.at(&cfg.url)),
        }
    }

    /// Open (creating if needed) the SQLite database at `path`, apply
    /// migrations and start the writer task.
    pub async fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                private_dir(dir).map_err(|e| StoreError::DataDir(dir.display().to_string(), e))?;
            }
        }
        private_file(path).map_err(|e| StoreError::DataDir(path.display().to_string(), e))?;
        let opts = options(path);
        let write_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .after_connect(|c, _| Box::pin(async move { work::count_on(c).await }))
            .connect_with(opts.clone())
            .await?;
        migrated(&SQLITE_MIGRATIONS, SQLITE_MIGRATIONS.run(&write_pool).await)?;
        // a reader unused for a minute closes, and none lives more than
        // two: its page cache and prepared statements (megabytes after a
        // burst) go with it (see memory.rs); a new one opens in a
        // millisecond
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .idle_timeout(Some(crate::memory::TRIM_EVERY))
            .max_lifetime(Some(2 * crate::memory::TRIM_EVERY))
            .after_connect(|c, _| Box::pin(async move { work::count_on(c).await }))
            .connect_with(opts.read_only(false))
            .await?;
        Ok(Store::start(
            db::Pool::Sqlite(write_pool),
            db::Pool::Sqlite(read),
        ))
    }

    /// Open the PostgreSQL database at `url` (it must exist), apply
    /// migrations and start the writer task, with `pool_size` connections
    /// for everything else.
    pub async fn open_postgres(url: &str, pool_size: u32) -> Result<Store> {
        let opts = PgConnectOptions::from_str(url)?.application_name("continuity");
        let write_pool = PgPoolOptions::new()
            .max_connections(PG_WRITERS as u32)
            .min_connections(1)
            .acquire_timeout(PG_ACQUIRE_TIMEOUT)
            .connect_with(opts.clone())
            .await?;
        migrated(
            &POSTGRES_MIGRATIONS,
            POSTGRES_MIGRATIONS.run(&write_pool).await,
        )?;
        if copy::unfinished(&write_pool).await? {
            return Err(StoreError::Invalid(
                "a `continuity store copy` into this database is unfinished: run it again \
                 to finish it before starting a node"
                    .into(),
            ));
        }
        let read = PgPoolOptions::new()
            .max_connections(pool_size)
            .acquire_timeout(PG_ACQUIRE_TIMEOUT)
            .connect_with(opts)
            .await?;
        Ok(Store::start(
            db::Pool::Postgres(write_pool),
            db::Pool::Postgres(read),
        ))
    }

    fn start(write: db::Pool, read: db::Pool) -> Store {
        let queue_wake = Arc::new(Notify::new());
        let n = match write.backend() {
            db::Backend::Sqlite => 1,
            db::Backend::Postgres => PG_WRITERS,
        };
        let wakes = writer::Wakes {
            queue: queue_wake.clone(),
            index: Arc::new(Notify::new()),
            checkpoint: match write.backend() {
                db::Backend::Sqlite => Some(checkpoint::spawn(read.clone())),
                db::Backend::Postgres => None,
            },
        };
        let writers: Vec<_> = (0..n)
            .map(|_| {
                let (tx, rx) = mpsc::channel(4096);
                tokio::spawn(writer::run(write.clone(), rx, wakes.clone()));
                tx
            })
            .collect();
        let writers: Arc<[mpsc::Sender<writer::Request>]> = writers.into();
        indexer::spawn(read.clone(), Arc::downgrade(&writers), wakes.index);
        let (mailbox_events, _) = tokio::sync::broadcast::channel(1024);
        let (trouble_events, _) = tokio::sync::broadcast::channel(256);
        let outbox = match &read {
            db::Pool::Postgres(pg) => Some(bus::start(
                pg,
                bus::Inbox {
                    mailbox: mailbox_events.clone(),
                    trouble: trouble_events.clone(),
                },
            )),
            db::Pool::Sqlite(_) => None,
        };
        Store {
            read,
            write,
            writers,
            next_writer: Arc::default(),
            queue_wake,
            mailbox_events,
            outbox,
            trouble_events,
            folders: Default::default(),
        }
    }

    /// Which database this store is on.
    pub fn backend(&self) -> db::Backend {
        self.read.backend()
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> writer::Request,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.writer()
            .send(make(tx))
            .await
            .map_err(|_| StoreError::Unavailable)?;
        rx.await.map_err(|_| StoreError::Unavailable)?
    }

    /// The writer whose turn it is.
    fn writer(&self) -> &mpsc::Sender<writer::Request> {
        let i = self
            .next_writer
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        &self.writers[i % self.writers.len()]
    }

    /// Store an accepted message, its deliveries and tracking events. Returns
    /// only once all of it is committed to disk.
    pub async fn ingest(&self, msg: NewMessage) -> Result<MessageId> {
        self.ingest_filed(msg, None).await
    }

    /// [`Store::ingest`], filing the message in `sent_by`'s Sent in the
    /// same commit (what a user sends is in Sent exactly when it is stored).
    pub async fn ingest_filed(
        &self,
        msg: NewMessage,
        sent_by: Option<UserId>,
    ) -> Result<MessageId> {
        let mut users: Vec<UserId> = msg.recipients.iter().filter_map(|r| r.user).collect();
        users.extend(sent_by);
        let began = std::time::Instant::now();
        let id = self
            .call(|reply| writer::Request::Ingest(Box::new(msg), sent_by, reply))
            .await?;
        crate::metrics::ingest_committed(began.elapsed());
        for u in users {
            self.mailbox_changed(u);
        }
        Ok(id)
    }

    /// Tell the user's IMAP sessions their mailbox changed.
    pub fn mailbox_changed(&self, user: UserId) {
        let _ = self.mailbox_events.send(MailboxEvent::Changed(user));
        if let Some(o) = &self.outbox {
            o.send(user);
        }
    }

    /// Tell the node that leads the monitor that this node's queue met a
    /// temporary failure of `domain`'s primary (nothing to tell with one
    /// node: its own monitor heard it).
    pub fn report_trouble(&self, domain: DomainId, why: &str) {
        if let Some(o) = &self.outbox {
            o.trouble(domain, why);
        }
    }

    /// Primaries' temporary failures other nodes reported.
    pub fn trouble_events(&self) -> tokio::sync::broadcast::Receiver<(DomainId, String)> {
        self.trouble_events.subscribe()
    }

    /// Changes to any user's mailbox, as they happen, on any node.
    pub fn mailbox_events(&self) -> tokio::sync::broadcast::Receiver<MailboxEvent> {
        self.mailbox_events.subscribe()
    }

    /// Record a refused SMTP transaction step (relay attempt, unknown user).
    /// Fire-and-forget: it rides along the next group commit.
    pub fn record_rejection(&self, rejection: Rejection) {
        let _ = self.writer().try_send(writer::Request::Reject(rejection));
    }

    /// Claim up to `limit` due deliveries for `node`: they are marked
    /// `delivering`, owned by `node` for [`CLAIM_LEASE`], and an `attempt`
    /// event is recorded before anything is sent. In the same commit,
    /// claims whose lease ran out go back to the queue (their node died)
    /// and `node`'s own claims are renewed.
    pub async fn claim_due(&self, node: &str, limit: usize, now: i64) -> Result<Vec<Claim>> {
        let node = node.to_string();
        let lease = CLAIM_LEASE.as_millis() as i64;
        self.call(|reply| writer::Request::Claim {
            node,
            limit,
            now,
            lease,
            reply,
        })
        .await
    }

    /// Extend the lease of every claim `node` holds to `until` (while its
    /// attempts run); how many were renewed.
    pub async fn renew_claims(&self, node: &str, until: i64) -> Result<u64> {
        let node = node.to_string();
        self.call(|reply| writer::Request::RenewClaims { node, until, reply })
            .await
    }

    /// Record the result of an attempt (and, for a failure, the DSN to send),
    /// atomically. Only the claim's node can: a claim another node took
    /// back is `NotFound`.
    pub async fn record_outcome(&self, claim: &Claim, outcome: Outcome) -> Result<()> {
        let dsn_users: Vec<UserId> = match &outcome {
            Outcome::Bounced { dsn: Some(m), .. } | Outcome::Expired { dsn: Some(m), .. } => {
                m.recipients.iter().filter_map(|r| r.user).collect()
            }
            _ => Vec::new(),
        };
        self.call(|reply| writer::Request::Outcome {
            node: claim.node.clone(),
            delivery: claim.delivery,
            outcome: Box::new(outcome),
            reply,
        })
        .await?;
        for u in dsn_users {
            self.mailbox_changed(u);
        }
        Ok(())
    }

    /// At `node`'s start: the deliveries it left `delivering` (it stopped
    /// or crashed mid-attempt) go back to the queue. Returns how many.
    pub async fn requeue_interrupted(&self, node: &str) -> Result<u64> {
        let node = node.to_string();
        self.call(|reply| writer::Request::RequeueInterrupted { node, reply })
            .await
    }

    /// Wait until everything sent to the writers so far is committed.
    pub async fn flush(&self) -> Result<()> {
        for w in self.writers.iter() {
            let (tx, rx) = oneshot::channel();
            w.send(writer::Request::Flush { reply: tx })
                .await
                .map_err(|_| StoreError::Unavailable)?;
            rx.await.map_err(|_| StoreError::Unavailable)??;
        }
        Ok(())
    }
}
