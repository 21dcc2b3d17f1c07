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

use std::borrow::Cow;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{ColumnIndex, Connection, Decode, Postgres, Row as _, SqlSafeStr, SqlStr, Sqlite, Type};

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
    /// A write transaction on this connection (see [`Pool::begin`]).
    pub async fn begin(&mut self) -> Result<Tx<'_>, sqlx::Error> {
        Ok(match self {
            PoolConn::Sqlite(c) => Tx::Sqlite(c.begin_with("BEGIN IMMEDIATE").await?),
            PoolConn::Postgres(c) => Tx::Postgres(c.begin().await?),
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

/// A value bound to a placeholder. `None` carries its type: PostgreSQL
/// types every parameter, NULL included.
#[derive(Debug, Clone)]
pub enum Arg<'q> {
    I64(Option<i64>),
    F64(Option<f64>),
    Bool(Option<bool>),
    Text(Option<Cow<'q, str>>),
    Blob(Option<Cow<'q, [u8]>>),
}

/// A Rust value that can be bound to a placeholder.
pub trait Bind<'q> {
    fn arg(self) -> Arg<'q>;
    /// The NULL of this type.
    fn null() -> Arg<'q>
    where
        Self: Sized;
}

macro_rules! bind_int {
    ($($t:ty),*) => {$(
        impl<'q> Bind<'q> for $t {
            fn arg(self) -> Arg<'q> {
                Arg::I64(Some(i64::from(self)))
            }
            fn null() -> Arg<'q> {
                Arg::I64(None)
            }
        }
    )*};
}
bind_int!(i64, i32, u32, i16, u16, u8);

macro_rules! bind_by_ref {
    ($($t:ty),*) => {$(
        impl<'q> Bind<'q> for &$t {
            fn arg(self) -> Arg<'q> {
                (*self).arg()
            }
            fn null() -> Arg<'q> {
                <$t>::null()
            }
        }
    )*};
}
bind_by_ref!(i64, i32, u32, bool, f64);

impl<'q> Bind<'q> for f64 {
    fn arg(self) -> Arg<'q> {
        Arg::F64(Some(self))
    }
    fn null() -> Arg<'q> {
        Arg::F64(None)
    }
}

impl<'q> Bind<'q> for bool {
    fn arg(self) -> Arg<'q> {
        Arg::Bool(Some(self))
    }
    fn null() -> Arg<'q> {
        Arg::Bool(None)
    }
}

impl<'q> Bind<'q> for &'q str {
    fn arg(self) -> Arg<'q> {
        Arg::Text(Some(Cow::Borrowed(self)))
    }
    fn null() -> Arg<'q> {
        Arg::Text(None)
    }
}

impl<'q> Bind<'q> for &'q String {
    fn arg(self) -> Arg<'q> {
        Arg::Text(Some(Cow::Borrowed(self.as_str())))
    }
    fn null() -> Arg<'q> {
        Arg::Text(None)
    }
}

impl<'q> Bind<'q> for String {
    fn arg(self) -> Arg<'q> {
        Arg::Text(Some(Cow::Owned(self)))
    }
    fn null() -> Arg<'q> {
        Arg::Text(None)
    }
}

impl<'q> Bind<'q> for &'q [u8] {
    fn arg(self) -> Arg<'q> {
        Arg::Blob(Some(Cow::Borrowed(self)))
    }
    fn null() -> Arg<'q> {
        Arg::Blob(None)
    }
}

impl<'q> Bind<'q> for &'q Vec<u8> {
    fn arg(self) -> Arg<'q> {
        Arg::Blob(Some(Cow::Borrowed(self.as_slice())))
    }
    fn null() -> Arg<'q> {
        Arg::Blob(None)
    }
}

impl<'q> Bind<'q> for Vec<u8> {
    fn arg(self) -> Arg<'q> {
        Arg::Blob(Some(Cow::Owned(self)))
    }
    fn null() -> Arg<'q> {
        Arg::Blob(None)
    }
}

impl<'q, const N: usize> Bind<'q> for &'q [u8; N] {
    fn arg(self) -> Arg<'q> {
        Arg::Blob(Some(Cow::Borrowed(self.as_slice())))
    }
    fn null() -> Arg<'q> {
        Arg::Blob(None)
    }
}

impl<'q, T: Bind<'q>> Bind<'q> for Option<T> {
    fn arg(self) -> Arg<'q> {
        match self {
            Some(v) => v.arg(),
            None => T::null(),
        }
    }
    fn null() -> Arg<'q> {
        T::null()
    }
}

impl<'q, T> Bind<'q> for &'q Option<T>
where
    &'q T: Bind<'q>,
{
    fn arg(self) -> Arg<'q> {
        match self {
            Some(v) => v.arg(),
            None => <&'q T>::null(),
        }
    }
    fn null() -> Arg<'q> {
        <&'q T>::null()
    }
}

/// A value decoded from a column, on either backend.
pub trait Value<'r>:
    Decode<'r, Sqlite> + Type<Sqlite> + Decode<'r, Postgres> + Type<Postgres>
{
}
impl<'r, T> Value<'r> for T where
    T: Decode<'r, Sqlite> + Type<Sqlite> + Decode<'r, Postgres> + Type<Postgres>
{
}

/// A column index (position or name) on either backend.
pub trait Index: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> {}
impl<I> Index for I where I: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> {}

/// A row as its backend returned it.
pub enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    pub fn try_get<'r, T: Value<'r>, I: Index>(&'r self, index: I) -> Result<T, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.try_get(index),
            Row::Postgres(r) => r.try_get(index),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Row::Sqlite(r) => r.len(),
            Row::Postgres(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A row read into a tuple (`query_as`).
pub trait FromRow: Sized {
    fn from_row(row: &Row) -> Result<Self, sqlx::Error>;
}

macro_rules! tuple_from_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t),+> FromRow for ($($t,)+)
        where
            $($t: for<'r> Value<'r>),+
        {
            fn from_row(row: &Row) -> Result<Self, sqlx::Error> {
                Ok(($(row.try_get::<$t, usize>($i)?,)+))
            }
        }
    };
}
tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// What a statement changed.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    rows: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows
    }
}

/// A statement and its arguments, not yet tied to a backend.
#[must_use = "a query does nothing until it is run"]
pub struct Query<'q> {
    sql: SqlStr,
    args: Vec<Arg<'q>>,
    /// Keep the prepared statement for the next run of the same text.
    persistent: bool,
}

/// A statement with `?` placeholders (see the module's documentation).
pub fn query<'q>(sql: impl SqlSafeStr) -> Query<'q> {
    Query {
        sql: sql.into_sql_str(),
        args: Vec::new(),
        persistent: true,
    }
}

/// Statements written one after the other with their arguments (`?`, in
/// order), run as one query: on SQLite one call to the connection's
/// thread for all of them instead of one each (PostgreSQL takes one
/// statement per query: there, a script holds one).
#[derive(Default)]
pub struct Script<'q> {
    sql: String,
    args: Vec<Arg<'q>>,
}

impl<'q> Script<'q> {
    /// Append SQL text (whole statements, each ending with `;`).
    pub fn sql(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub fn bind<T: Bind<'q>>(&mut self, value: T) -> &mut Self {
        self.args.push(value.arg());
        self
    }

    /// Arguments bound so far.
    pub fn args(&self) -> usize {
        self.args.len()
    }

    /// The script as one query. `repeats`: its text comes back often (its
    /// prepared statements are kept); a one-off text is not cached.
    pub fn query(self, repeats: bool) -> Query<'q> {
        Query {
            sql: sqlx::AssertSqlSafe(self.sql).into_sql_str(),
            args: self.args,
            persistent: repeats,
        }
    }
}

/// A statement whose rows are read into tuples.
pub fn query_as<'q, T: FromRow>(sql: impl SqlSafeStr) -> QueryAs<'q, T> {
    QueryAs {
        q: query(sql),
        _row: std::marker::PhantomData,
    }
}

/// A statement whose first column is the answer.
pub fn query_scalar<'q, T>(sql: impl SqlSafeStr) -> QueryScalar<'q, T>
where
    T: for<'r> Value<'r>,
{
    QueryScalar {
        q: query(sql),
        _value: std::marker::PhantomData,
    }
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::I64(v) => q.bind(v),
                Arg::F64(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Text(v) => q.bind(v.as_deref()),
                Arg::Blob(v) => q.bind(v.as_deref()),
            };
        }
        q
    }};
}

impl<'q> Query<'q> {
    pub fn bind<T: Bind<'q>>(mut self, value: T) -> Self {
        self.args.push(value.arg());
        self
    }

    fn sqlite(self) -> sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments> {
        let q = sqlx::query::<Sqlite>(self.sql).persistent(self.persistent);
        bind_all!(q, self.args)
    }

    fn postgres(self) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
        let sql = match super::dialect::for_postgres(self.sql.as_str()) {
            Cow::Borrowed(_) => self.sql,
            Cow::Owned(s) => sqlx::AssertSqlSafe(s).into_sql_str(),
        };
        let q = sqlx::query::<Postgres>(sql).persistent(self.persistent);
        bind_all!(q, self.args)
    }

    pub async fn execute<'e>(self, ex: impl Executor<'e>) -> Result<Done, sqlx::Error> {
        let rows = match ex.ex() {
            Ex::SqlitePool(p) => self.sqlite().execute(p).await?.rows_affected(),
            Ex::Sqlite(c) => self.sqlite().execute(c).await?.rows_affected(),
            Ex::PgPool(p) => self.postgres().execute(p).await?.rows_affected(),
            Ex::Postgres(c) => self.postgres().execute(c).await?.rows_affected(),
        };
        Ok(Done { rows })
    }

    pub async fn fetch_all<'e>(self, ex: impl Executor<'e>) -> Result<Vec<Row>, sqlx::Error> {
        Ok(match ex.ex() {
            Ex::SqlitePool(p) => wrap(self.sqlite().fetch_all(p).await?, Row::Sqlite),
            Ex::Sqlite(c) => wrap(self.sqlite().fetch_all(c).await?, Row::Sqlite),
            Ex::PgPool(p) => wrap(self.postgres().fetch_all(p).await?, Row::Postgres),
            Ex::Postgres(c) => wrap(self.postgres().fetch_all(c).await?, Row::Postgres),
        })
    }

    pub async fn fetch_optional<'e>(
        self,
        ex: impl Executor<'e>,
    ) -> Result<Option<Row>, sqlx::Error> {
        Ok(match ex.ex() {
            Ex::SqlitePool(p) => self.sqlite().fetch_optional(p).await?.map(Row::Sqlite),
            Ex::Sqlite(c) => self.sqlite().fetch_optional(c).await?.map(Row::Sqlite),
            Ex::PgPool(p) => self.postgres().fetch_optional(p).await?.map(Row::Postgres),
            Ex::Postgres(c) => self.postgres().fetch_optional(c).await?.map(Row::Postgres),
        })
    }

    pub async fn fetch_one<'e>(self, ex: impl Executor<'e>) -> Result<Row, sqlx::Error> {
        self.fetch_optional(ex)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }
}

fn wrap<R>(rows: Vec<R>, f: fn(R) -> Row) -> Vec<Row> {
    rows.into_iter().map(f).collect()
}

/// [`query_as`]'s statement.
#[must_use = "a query does nothing until it is run"]
pub struct QueryAs<'q, T> {
    q: Query<'q>,
    _row: std::marker::PhantomData<fn() -> T>,
}

impl<'q, T: FromRow> QueryAs<'q, T> {
    pub fn bind<B: Bind<'q>>(mut self, value: B) -> Self {
        self.q = self.q.bind(value);
        self
    }

    pub async fn fetch_all<'e>(self, ex: impl Executor<'e>) -> Result<Vec<T>, sqlx::Error> {
        self.q
            .fetch_all(ex)
            .await?
            .iter()
            .map(T::from_row)
            .collect()
    }

    pub async fn fetch_optional<'e>(self, ex: impl Executor<'e>) -> Result<Option<T>, sqlx::Error> {
        self.q
            .fetch_optional(ex)
            .await?
            .map(|r| T::from_row(&r))
            .transpose()
    }

    pub async fn fetch_one<'e>(self, ex: impl Executor<'e>) -> Result<T, sqlx::Error> {
        T::from_row(&self.q.fetch_one(ex).await?)
    }
}

/// [`query_scalar`]'s statement.
#[must_use = "a query does nothing until it is run"]
pub struct QueryScalar<'q, T> {
    q: Query<'q>,
    _value: std::marker::PhantomData<fn() -> T>,
}

impl<'q, T> QueryScalar<'q, T>
where
    T: for<'r> Value<'r>,
{
    pub fn bind<B: Bind<'q>>(mut self, value: B) -> Self {
        self.q = self.q.bind(value);
        self
    }

    pub async fn fetch_all<'e>(self, ex: impl Executor<'e>) -> Result<Vec<T>, sqlx::Error> {
        self.q
            .fetch_all(ex)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect()
    }

    pub async fn fetch_optional<'e>(self, ex: impl Executor<'e>) -> Result<Option<T>, sqlx::Error> {
        self.q
            .fetch_optional(ex)
            .await?
            .map(|r| r.try_get(0))
            .transpose()
    }

    pub async fn fetch_one<'e>(self, ex: impl Executor<'e>) -> Result<T, sqlx::Error> {
        self.q.fetch_one(ex).await?.try_get(0)
    }
}

/// Several statements at once, no arguments (`SAVEPOINT`s, test set-ups).
pub async fn raw<'e>(sql: impl SqlSafeStr, ex: impl Executor<'e>) -> Result<(), sqlx::Error> {
    let sql = sql.into_sql_str();
    match ex.ex() {
        Ex::SqlitePool(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        Ex::Sqlite(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
        Ex::PgPool(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        Ex::Postgres(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
    }
}
