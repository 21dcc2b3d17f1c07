//! A value on its way from SQLite to PostgreSQL: the column kinds the copy
//! carries, reading a value on either side, binding it, and the
//! order-independent checksum both sides are compared by.

use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteRow;
use sqlx::{Arguments, Row};

use crate::store::{Result, StoreError};

/// A column's type on PostgreSQL, as the copy carries its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Bool,
    Text,
    Bytes,
    Float,
}

impl Kind {
    pub(super) fn of(pg_type: &str) -> Result<Kind> {
        Ok(match pg_type {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "boolean" => Kind::Bool,
            "text" | "character varying" => Kind::Text,
            "bytea" => Kind::Bytes,
            "double precision" | "real" => Kind::Float,
            other => {
                return Err(StoreError::Invalid(format!(
                    "store copy: no way to copy a column of type {other}"
                )))
            }
        })
    }
}

/// One value on its way.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
    Float(Option<f64>),
}

impl Value {
    pub(super) fn from_sqlite(row: &SqliteRow, i: usize, kind: Kind) -> Result<Value> {
        Ok(match kind {
            Kind::Int => Value::Int(row.try_get(i)?),
            Kind::Bool => Value::Bool(row.try_get::<Option<i64>, _>(i)?.map(|v| v != 0)),
            Kind::Text => Value::Text(row.try_get(i)?),
            Kind::Bytes => Value::Bytes(row.try_get(i)?),
            Kind::Float => Value::Float(row.try_get(i)?),
        })
    }

    pub(super) fn from_pg(row: &sqlx::postgres::PgRow, i: usize, kind: Kind) -> Result<Value> {
        Ok(match kind {
            Kind::Int => Value::Int(match row.try_get::<Option<i64>, _>(i) {
                Ok(v) => v,
                Err(_) => row.try_get::<Option<i32>, _>(i)?.map(i64::from),
            }),
            Kind::Bool => Value::Bool(row.try_get(i)?),
            Kind::Text => Value::Text(row.try_get(i)?),
            Kind::Bytes => Value::Bytes(row.try_get(i)?),
            Kind::Float => Value::Float(row.try_get(i)?),
        })
    }

    pub(super) fn bind(self, args: &mut PgArguments) -> Result<()> {
        let r = match self {
            Value::Int(v) => args.add(v),
            Value::Bool(v) => args.add(v),
            Value::Text(v) => args.add(v),
            Value::Bytes(v) => args.add(v),
            Value::Float(v) => args.add(v),
        };
        r.map_err(|e| StoreError::Invalid(format!("store copy: {e}")))
    }

    /// Bytes that tell this value apart from any other (for checksums).
    fn feed(&self, out: &mut Vec<u8>) {
        fn tagged(out: &mut Vec<u8>, tag: u8, bytes: Option<&[u8]>) {
            match bytes {
                None => out.push(b'n'),
                Some(b) => {
                    out.push(tag);
                    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
                    out.extend_from_slice(b);
                }
            }
        }
        match self {
            Value::Int(v) => tagged(
                out,
                b'i',
                v.map(|x| x.to_le_bytes()).as_ref().map(|b| &b[..]),
            ),
            Value::Bool(v) => tagged(out, b'b', v.map(|x| [x as u8]).as_ref().map(|b| &b[..])),
            Value::Text(v) => tagged(out, b't', v.as_deref().map(str::as_bytes)),
            Value::Bytes(v) => tagged(out, b'x', v.as_deref()),
            Value::Float(v) => tagged(
                out,
                b'f',
                v.map(|x| x.to_le_bytes()).as_ref().map(|b| &b[..]),
            ),
        }
    }
}

/// An order-independent checksum of rows: the sum of each row's SHA-256.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Checksum {
    pub(super) rows: u64,
    sum: [u64; 4],
}

impl Checksum {
    pub(super) fn add(&mut self, values: &[Value]) {
        let mut buf = Vec::new();
        for v in values {
            v.feed(&mut buf);
        }
        let d = ring::digest::digest(&ring::digest::SHA256, &buf);
        for (i, chunk) in d.as_ref().chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            self.sum[i] = self.sum[i].wrapping_add(u64::from_le_bytes(w));
        }
        self.rows += 1;
    }
}
