//! One way to run SQL on either backend: SQLite (the embedded default) or
//! PostgreSQL (several nodes on one database).
//!
//! The store's modules write a query once, with `?` placeholders, and run
//! it on a [`Pool`], a [`Tx`] or a [`PoolConn`] whichever backend is
//! behind: each query is built and decoded with that backend's own sqlx
//! driver (native types, native statement caches; nothing is converted
//! through sqlx's `Any`). On PostgreSQL the statement is read as
//! [`super::dialect`] says (`?` → `$1`, …). Where the SQL itself differs
//! (full-text search, sequences), the module asks [`Pool::backend`] and
//! writes both.

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Connection, Postgres, Sqlite};

mod query;
mod values;

pub use query::{query, query_as, query_scalar, raw, Done, Query, QueryAs, QueryScalar, Script};
pub use values::{Arg, Bind, FromRow, Index, Row, Value};

/// Which database is behind a pool or a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A pool of connections to one database.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A connection taken from a [`Pool`] (returned to it when dropped).
pub enum PoolConn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// A transaction: rolled back when dropped without [`Tx::commit`].
pub enum Tx<'c> {
    Sqlite(sqlx::Transaction<'c, Sqlite>),
    Postgres(sqlx::Transaction<'c, Postgres>),
}

/// What a query runs on.
pub enum Ex<'e> {
    SqlitePool(&'e SqlitePool),
    PgPool(&'e PgPool),
    Sqlite(&'e mut SqliteConnection),
    Postgres(&'e mut PgConnection),
}

/// Anything a query can run on: `&Pool`, `&mut Tx`, `&mut PoolConn`.
pub trait Executor<'e> {
    fn ex(self) -> Ex<'e>;
}

impl<'e> Executor<'e> for &'e Pool {
    fn ex(self) -> Ex<'e> {
        match self {
            Pool::Sqlite(p) => Ex::SqlitePool(p),
            Pool::Postgres(p) => Ex::PgPool(p),
        }
    }
}

impl<'e> Executor<'e> for &'e mut Tx<'_> {
    fn ex(self) -> Ex<'e> {
        match self {
            Tx::Sqlite(t) => Ex::Sqlite(&mut *t),
            Tx::Postgres(t) => Ex::Postgres(&mut *t),
        }
    }
}

impl<'e> Executor<'e> for &'e mut PoolConn {
    fn ex(self) -> Ex<'e> {
        match self {
            PoolConn::Sqlite(c) => Ex::Sqlite(&mut *c),
            PoolConn::Postgres(c) => Ex::Postgres(&mut *c),
        }
    }
}

impl Pool {
    pub fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Connections open, and of them idle.
    pub fn usage(&self) -> (u32, u32) {
        match self {
            Pool::Sqlite(p) => (p.size(), p.num_idle() as u32),
            Pool::Postgres(p) => (p.size(), p.num_idle() as u32),
        }
    }

    /// A write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first cannot
    /// upgrade once another connection has written (WAL's
    /// SQLITE_BUSY_SNAPSHOT, which the busy timeout does not retry).
    pub async fn begin(&self) -> Result<Tx<'static>, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub async fn acquire(&self) -> Result<PoolConn, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p) => PoolConn::Sqlite(p.acquire().await?),
            Pool::Postgres(p) => PoolConn::Postgres(p.acquire().await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

impl PoolConn {
    pub fn backend(&self) -> Backend {
        match self {
            PoolConn::Sqlite(_) => Backend::Sqlite,
            PoolConn::Postgres(_) => Backend::Postgres,
        }
    }

    /// Give back what the connection keeps between statements: its
    /// prepared statements and, on SQLite, its page cache (see
    /// `memory.rs`). The next statements are prepared again.
    pub async fn shed(&mut self) -> Result<(), sqlx::Error> {
        use sqlx::Connection;
        match self {
            PoolConn::Sqlite(c) => {
                c.clear_cached_statements().await?;
                sqlx::query("PRAGMA shrink_memory")
                    .execute(&mut **c)
                    .await?;
            }
            PoolConn::Postgres(c) => c.clear_cached_statements().await?,
        }
        Ok(())
    }

    /// A write transaction on this connection (see [`Pool::begin`]).
    pub async fn begin(&mut self) -> Result<Tx<'_>, sqlx::Error> {
        Ok(match self {
            PoolConn::Sqlite(c) => Tx::Sqlite(c.begin_with("BEGIN IMMEDIATE").await?),
            PoolConn::Postgres(c) => Tx::Postgres(c.begin().await?),
        })
    }

    /// [`PoolConn::begin`], then `sql` (statements without results, such
    /// as a `SAVEPOINT`) in the transaction, in one round trip to the
    /// database (on SQLite each is a hop between threads).
    pub async fn begin_then(&mut self, sql: &'static str) -> Result<Tx<'_>, sqlx::Error> {
        Ok(match self {
            PoolConn::Sqlite(c) => Tx::Sqlite(
                c.begin_with(sqlx::AssertSqlSafe(format!("BEGIN IMMEDIATE; {sql}")))
                    .await?,
            ),
            PoolConn::Postgres(c) => Tx::Postgres(
                c.begin_with(sqlx::AssertSqlSafe(format!("BEGIN; {sql}")))
                    .await?,
            ),
        })
    }
}

impl Tx<'_> {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.rollback().await,
            Tx::Postgres(t) => t.rollback().await,
        }
    }
}
