//! Values in and out of a statement, whichever backend: [`Arg`]s bound to
//! placeholders, [`Row`]s decoded by column.

use std::borrow::Cow;

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{ColumnIndex, Decode, Postgres, Row as _, Sqlite, Type};

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
