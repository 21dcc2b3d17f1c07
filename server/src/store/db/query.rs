//! Statements built once with `?` placeholders and run on either backend:
//! [`Query`], [`Script`] (several statements in one call), [`QueryAs`],
//! [`QueryScalar`], [`raw`].

use std::borrow::Cow;

use sqlx::{Postgres, SqlSafeStr, SqlStr, Sqlite};

use super::values::{Arg, Bind, FromRow, Row, Value};
use super::{Ex, Executor};
use crate::store::dialect;

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
        let sql = match dialect::for_postgres(self.sql.as_str()) {
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
