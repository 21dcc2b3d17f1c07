//! One way to run SQL on either backend: SQLite (the embedded default) or
//! PostgreSQL (several nodes on one database).
//!
//! The store's modules write a query once, with `?` placeholders, and run
//! it on a [`Pool`], a [`Tx`] or a [`Conn`] whichever backend is behind:
//! each query is built and decoded with that backend's own sqlx driver
//! (native types, native statement caches; nothing is converted through
//! sqlx's `Any`). On PostgreSQL the `?` become `$1`, `$2`, … (outside
//! quotes). Where the SQL itself differs (full-text search, upserts of a
//! backend's own kind), the module asks [`Pool::backend`] and writes both.

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
}

/// A statement with `?` placeholders (see the module's documentation).
pub fn query<'q>(sql: impl SqlSafeStr) -> Query<'q> {
    Query {
        sql: sql.into_sql_str(),
        args: Vec::new(),
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

/// A statement written for SQLite, as PostgreSQL reads it:
/// - `?` → `$1`, `$2`, … and `?NNN` → `$NNN` (outside quotes and comments);
/// - SQLite's planner hints dropped: `INDEXED BY name`, the unary `+`
///   that keeps SQLite from using an index on a column, and `CROSS JOIN …
///   ON` (SQLite's way to fix the join order) as a plain `JOIN` (PostgreSQL's
///   planner goes by statistics);
/// - `LIKE` → `ILIKE` (SQLite's LIKE ignores case);
/// - `json_extract(x, '$.key')` → `(x::jsonb ->> 'key')`, `json_object(`
///   → `json_build_object(` (stored as text), `instr(` → `strpos(`, and a
///   list of ids given as JSON, `SELECT value FROM json_each(?)`, read with
///   `json_array_elements_text`.
///
/// What cannot be said alike (full-text search, sequences) is written for
/// each backend where it is used.
pub fn for_postgres(sql: &str) -> Cow<'_, str> {
    let mut s = Cow::Borrowed(sql);
    if s.contains("SELECT value FROM json_each(?)") {
        s = Cow::Owned(s.replace(
            "SELECT value FROM json_each(?)",
            "SELECT value::bigint FROM json_array_elements_text(?::json) AS value",
        ));
    }
    if s.contains("json_extract(") {
        s = Cow::Owned(json_paths(&s));
    }
    if s.contains("CROSS JOIN") {
        s = Cow::Owned(s.replace("CROSS JOIN", "JOIN"));
    }
    if s.contains("json_object(") {
        s = Cow::Owned(s.replace("json_object(", "json_build_object("));
    }
    if s.contains("instr(") {
        s = Cow::Owned(s.replace("instr(", "strpos("));
    }
    if !s.contains(['?', '+']) && !s.contains("INDEXED BY") && !s.contains("LIKE") {
        return s;
    }
    let src = s.as_ref();
    let mut out = String::with_capacity(src.len() + 16);
    let mut n = 0u32;
    // the last thing copied ends an operand (a name, a number, `)`, a quote)
    let mut after_operand = false;
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => {
                let close = src[i + 1..]
                    .find(c as char)
                    .map_or(b.len(), |j| i + 1 + j + 1);
                out.push_str(&src[i..close]);
                i = close;
                after_operand = true;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let end = src[i..].find('\n').map_or(b.len(), |j| i + j + 1);
                out.push_str(&src[i..end]);
                i = end;
            }
            b'?' => {
                let digits = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
                if digits > 0 {
                    let k: u32 = src[i + 1..i + 1 + digits].parse().unwrap_or(0);
                    n = n.max(k);
                    out.push('$');
                    out.push_str(&src[i + 1..i + 1 + digits]);
                } else {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                i += 1 + digits;
                after_operand = true;
            }
            b'+' if !after_operand && b.get(i + 1).is_some_and(|d| d.is_ascii_alphabetic()) => {
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let len = b[i..]
                    .iter()
                    .take_while(|d| d.is_ascii_alphanumeric() || **d == b'_' || **d == b'.')
                    .count();
                let word = &src[i..i + len];
                if word == "INDEXED" && src[i + len..].starts_with(" BY ") {
                    let rest = i + len + 4;
                    let name = b[rest..]
                        .iter()
                        .take_while(|d| d.is_ascii_alphanumeric() || **d == b'_')
                        .count();
                    i = rest + name;
                    if out.ends_with(' ') && b.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    continue;
                }
                if word == "LIKE" {
                    out.push_str("ILIKE");
                } else {
                    out.push_str(word);
                }
                after_operand = !matches!(
                    word,
                    "WHERE"
                        | "AND"
                        | "OR"
                        | "ON"
                        | "NOT"
                        | "SELECT"
                        | "BY"
                        | "WHEN"
                        | "THEN"
                        | "ELSE"
                        | "IN"
                        | "LIKE"
                        | "IS"
                        | "SET"
                        | "VALUES"
                        | "RETURNING"
                );
                i += len;
            }
            _ => {
                out.push(c as char);
                if !c.is_ascii_whitespace() {
                    after_operand = c == b')';
                }
                i += 1;
                // multi-byte UTF-8: copy the rest of the character
                while i < b.len() && (b[i] & 0xC0) == 0x80 {
                    out.pop();
                    let start = i - 1;
                    let end = (i..b.len())
                        .find(|&j| (b[j] & 0xC0) != 0x80)
                        .unwrap_or(b.len());
                    out.push_str(&src[start..end]);
                    i = end;
                }
            }
        }
    }
    Cow::Owned(out)
}

/// `json_extract(x, '$.key')` → `(x::jsonb ->> 'key')`.
fn json_paths(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find("json_extract(") {
        out.push_str(&rest[..at]);
        let args = &rest[at + "json_extract(".len()..];
        let parsed = args.find(", '$.").and_then(|comma| {
            let key_start = comma + ", '$.".len();
            let key_len = args[key_start..].find("')")?;
            Some((
                &args[..comma],
                &args[key_start..key_start + key_len],
                key_start + key_len + 2,
            ))
        });
        match parsed {
            Some((x, key, used)) => {
                out.push_str(&format!("({x}::jsonb ->> '{key}')"));
                rest = &args[used..];
            }
            None => {
                out.push_str("json_extract(");
                rest = args;
            }
        }
    }
    out.push_str(rest);
    out
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
        let q = sqlx::query::<Sqlite>(self.sql);
        bind_all!(q, self.args)
    }

    fn postgres(self) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
        let sql = match for_postgres(self.sql.as_str()) {
            Cow::Borrowed(_) => self.sql,
            Cow::Owned(s) => sqlx::AssertSqlSafe(s).into_sql_str(),
        };
        let q = sqlx::query::<Postgres>(sql);
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

#[cfg(test)]
mod tests {
    use super::for_postgres;

    #[test]
    fn placeholders_are_numbered_outside_quotes_and_comments() {
        assert_eq!(
            for_postgres("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
        assert_eq!(
            for_postgres("SELECT '?', \"a?\" -- why?\nFROM t WHERE x = ?"),
            "SELECT '?', \"a?\" -- why?\nFROM t WHERE x = $1"
        );
        assert_eq!(for_postgres("SELECT 1"), "SELECT 1");
        assert_eq!(
            for_postgres("SELECT 'it''s ?' WHERE a = ?"),
            "SELECT 'it''s ?' WHERE a = $1"
        );
        assert_eq!(
            for_postgres(
                "SELECT id FROM u WHERE a = ?1 UNION SELECT id FROM v WHERE b = ?1 AND c = ?2"
            ),
            "SELECT id FROM u WHERE a = $1 UNION SELECT id FROM v WHERE b = $1 AND c = $2"
        );
        assert_eq!(for_postgres("SELECT 'é', ? + 1"), "SELECT 'é', $1 + 1");
        assert_eq!(for_postgres("SELECT 'é' || ?"), "SELECT 'é' || $1");
    }

    #[test]
    fn sqlite_hints_and_dialect_become_postgresql() {
        assert_eq!(
            for_postgres(
                "SELECT x FROM mailbox mb INDEXED BY mailbox_uids WHERE +mb.user_id = ? AND +folder = ? AND n = a + b"
            ),
            "SELECT x FROM mailbox mb WHERE mb.user_id = $1 AND folder = $2 AND n = a + b"
        );
        assert_eq!(
            for_postgres("SELECT 1 FROM t WHERE id IN (SELECT value FROM json_each(?))"),
            "SELECT 1 FROM t WHERE id IN (SELECT value::bigint FROM json_array_elements_text($1::json) AS value)"
        );
        assert_eq!(
            for_postgres("SELECT json_extract(e.detail, '$.rcpt') FROM e WHERE lower(json_extract(detail, '$.mail_from')) LIKE ? ESCAPE '\\'"),
            "SELECT (e.detail::jsonb ->> 'rcpt') FROM e WHERE lower((detail::jsonb ->> 'mail_from')) ILIKE $1 ESCAPE '\\'"
        );
        assert_eq!(
            for_postgres("substr(a, instr(a, '@') + 1)"),
            "substr(a, strpos(a, '@') + 1)"
        );
        assert_eq!(
            for_postgres("FROM a CROSS JOIN b ON b.x = a.x"),
            "FROM a JOIN b ON b.x = a.x"
        );
        assert_eq!(
            for_postgres("VALUES (json_object('by', ?))"),
            "VALUES (json_build_object('by', $1))"
        );
    }
}
