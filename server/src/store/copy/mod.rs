//! `continuity store copy`: a SQLite installation into an empty PostgreSQL
//! database, to run it as several nodes.
//!
//! Every table is copied row for row with its ids (messages byte-exact,
//! mailbox rows with their UIDs, flags and modification sequences, counts,
//! UIDVALIDITY, sessions unless left out, audit, tracking, DKIM keys, relay
//! secrets), in foreign-key order, in chunks of one transaction each. The
//! target's mailbox triggers are off while rows are copied (the counts and
//! sequences are copied as they are); its identity sequences are set past
//! the copied ids afterwards, and the PostgreSQL search documents are built
//! from the messages. What is copied so far is recorded in the same
//! transaction as each chunk (`store_copy_progress`), so an interrupted
//! copy resumes where it stopped, and a node refuses a database whose copy
//! is unfinished. At the end, every table's row count and a checksum of
//! all its values are compared on both sides.
//!
//! Left out: what each node rebuilds or keeps for itself (heartbeats,
//! leases, login failures, folder snapshots, the SQLite search tables).

use std::collections::{BTreeMap, BTreeSet};

use futures_util::TryStreamExt;
use sqlx::postgres::{PgArguments, PgPool};
use sqlx::sqlite::SqlitePool;

mod values;

use values::{Checksum, Kind, Value};

use super::{db, MessageId, Result, Store, StoreError, Summary};

/// Tables no copy carries.
const LEFT_OUT: &[&str] = &[
    "_sqlx_migrations",
    "nodes",
    "leases",
    "login_failures",
    "folder_snapshots",
    "messages_fts",
    // made again from the messages on the other side, like the documents
    "messages_grams",
    "grams_backfill",
    // every message's document is made again on the other side
    "index_pending",
    PROGRESS,
];
/// Sessions: copied unless asked not to (users then log in again).
const SESSIONS: &[&str] = &[
    "sessions",
    "admin_sessions",
    "login_challenges",
    "passkey_registrations",
];
/// Where a copy records how far it got.
const PROGRESS: &str = "store_copy_progress";
/// Tables whose triggers are off while rows are copied.
const TRIGGERED: &[&str] = &["mailbox"];

/// What to copy and how.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub sessions: bool,
    /// Rows per transaction.
    pub chunk: usize,
    /// Stop after this many chunks (tests: an interrupted copy).
    pub stop_after: Option<usize>,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            sessions: true,
            chunk: 500,
            stop_after: None,
        }
    }
}

/// How a copy ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copied {
    /// Everything copied and verified: rows per table.
    Done(BTreeMap<String, u64>),
    /// Stopped as asked (`stop_after`); run again to go on.
    Interrupted,
}

/// A table to copy: its columns (name, kind) present on both sides, and
/// its single integer key when it has one (chunks then follow the key).
#[derive(Debug, Clone)]
struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
    int_key: Option<String>,
    /// Without an integer key: the SQLite order chunks follow (its rowid,
    /// or the primary key of a table without one).
    order: String,
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Copy the SQLite store `from` into the PostgreSQL database at `to`
/// (created schema or not; empty but for an unfinished copy of ours).
/// `progress` hears (table, rows so far, rows in all).
pub async fn copy(
    from: &Store,
    to: &str,
    opts: &CopyOptions,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<Copied> {
    let db::Pool::Sqlite(src) = &from.read else {
        return Err(StoreError::Invalid(
            "store copy: the configured store is not SQLite".into(),
        ));
    };
    // the schema, migrated to this version (the target refuses to open
    // while a copy is unfinished: open the pool on its own)
    let dst = prepare(to).await?;
    let tables = tables(src, &dst, opts).await?;
    let done: BTreeSet<String> = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
        "SELECT tbl FROM {PROGRESS} WHERE done"
    )))
    .fetch_all(&dst)
    .await?
    .into_iter()
    .collect();
    set_triggers(&dst, false).await?;
    let mut chunks = 0usize;
    for t in &tables {
        if done.contains(&t.name) {
            continue;
        }
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            quoted(&t.name)
        )))
        .fetch_one(src)
        .await?;
        loop {
            if opts.stop_after.is_some_and(|n| chunks >= n) {
                return Ok(Copied::Interrupted);
            }
            // rows of message bytes go a few at a time (a chunk is held in
            // memory and sent as one statement)
            let rows = if t.columns.iter().any(|(_, k)| *k == Kind::Bytes) {
                opts.chunk.clamp(1, 32)
            } else {
                opts.chunk.max(1)
            };
            let (copied, finished) = copy_chunk(src, &dst, t, rows).await?;
            chunks += 1;
            progress(&t.name, copied, total as u64);
            if finished {
                break;
            }
        }
    }
    set_triggers(&dst, true).await?;
    sequences(&dst).await?;
    search_documents(&dst, opts, &mut *progress).await?;
    let counts = verify(src, &dst, &tables).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {PROGRESS}")))
        .execute(&dst)
        .await?;
    Ok(Copied::Done(counts))
}

/// Open the target, migrate it, and check it holds nothing but what an
/// earlier run of this copy put there.
async fn prepare(to: &str) -> Result<PgPool> {
    use std::str::FromStr;
    let opts = sqlx::postgres::PgConnectOptions::from_str(to)?.application_name("continuity copy");
    let dst = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(opts)
        .await?;
    super::migrated(
        &super::POSTGRES_MIGRATIONS,
        super::POSTGRES_MIGRATIONS.run(&dst).await,
    )?;
    let resuming: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(PROGRESS)
        .fetch_one(&dst)
        .await?;
    if !resuming {
        let used: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM domains) OR EXISTS (SELECT 1 FROM messages) \
             OR EXISTS (SELECT 1 FROM admins)",
        )
        .fetch_one(&dst)
        .await?;
        if used {
            return Err(StoreError::Invalid(
                "store copy: the PostgreSQL database already holds an installation; \
                 copy into an empty database"
                    .into(),
            ));
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {PROGRESS} (tbl TEXT PRIMARY KEY, copied BIGINT NOT NULL, \
             last_key BIGINT, done BOOLEAN NOT NULL DEFAULT FALSE)"
        )))
        .execute(&dst)
        .await?;
    }
    Ok(dst)
}

/// The tables to copy, parents before children, with the columns both
/// sides have.
async fn tables(src: &SqlitePool, dst: &PgPool, opts: &CopyOptions) -> Result<Vec<Table>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(dst)
    .await?;
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| !LEFT_OUT.contains(&n.as_str()))
        .filter(|n| opts.sessions || !SESSIONS.contains(&n.as_str()))
        .collect();
    // foreign keys: child -> parents
    let fks: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c \
         JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE c.contype = 'f' AND n.nspname = current_schema()",
    )
    .fetch_all(dst)
    .await?;
    let mut ordered: Vec<String> = Vec::new();
    let mut left: BTreeSet<String> = names.iter().cloned().collect();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|t| {
                fks.iter()
                    .all(|(child, parent)| child != *t || parent == *t || !left.contains(parent))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            return Err(StoreError::Invalid(format!(
                "store copy: foreign keys in a cycle among {left:?}"
            )));
        }
        for t in ready {
            left.remove(&t);
            ordered.push(t);
        }
    }
    let mut out = Vec::new();
    for name in ordered {
        let pg_cols: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&name)
        .fetch_all(dst)
        .await?;
        let sqlite_cols: BTreeSet<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
                .bind(&name)
                .fetch_all(src)
                .await?
                .into_iter()
                .collect();
        if sqlite_cols.is_empty() {
            continue; // a table this SQLite store does not have
        }
        let mut columns = Vec::new();
        for (c, ty) in pg_cols {
            if sqlite_cols.contains(&c) {
                columns.push((c, Kind::of(&ty)?));
            }
        }
        let key: Vec<(String, String)> = sqlx::query_as(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = $1::regclass AND i.indisprimary",
        )
        .bind(&name)
        .fetch_all(dst)
        .await?;
        let int_key = match key.as_slice() {
            [(k, ty)] if ty == "bigint" || ty == "integer" => Some(k.clone()),
            _ => None,
        };
        let without_rowid: bool = sqlx::query_scalar(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = ? AND sql LIKE '%WITHOUT ROWID%'",
        )
        .bind(&name)
        .fetch_one(src)
        .await?;
        let order = if without_rowid && !key.is_empty() {
            key.iter()
                .map(|(k, _)| quoted(k))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            "rowid".to_string()
        };
        out.push(Table {
            name,
            columns,
            int_key,
            order,
        });
    }
    Ok(out)
}

/// The next chunk of `t`: rows copied so far, and whether the table is done.
async fn copy_chunk(
    src: &SqlitePool,
    dst: &PgPool,
    t: &Table,
    chunk: usize,
) -> Result<(u64, bool)> {
    let (copied, last_key): (i64, Option<i64>) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT copied, last_key FROM {PROGRESS} WHERE tbl = $1"
    )))
    .bind(&t.name)
    .fetch_optional(dst)
    .await?
    .unwrap_or((0, None));
    let cols: Vec<String> = t.columns.iter().map(|(c, _)| quoted(c)).collect();
    let list = cols.join(", ");
    let rows = match &t.int_key {
        Some(k) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {list} FROM {} WHERE {k} > ? ORDER BY {k} LIMIT ?",
                quoted(&t.name),
                k = quoted(k)
            )))
            .bind(last_key.unwrap_or(i64::MIN))
            .bind(chunk as i64)
            .fetch_all(src)
            .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {list} FROM {} ORDER BY {} LIMIT ? OFFSET ?",
                quoted(&t.name),
                t.order
            )))
            .bind(chunk as i64)
            .bind(copied)
            .fetch_all(src)
            .await?
        }
    };
    let mut tx = dst.begin().await?;
    let mut key = last_key;
    if !rows.is_empty() {
        let mut sql = format!("INSERT INTO {} ({list}) VALUES ", quoted(&t.name));
        let mut args = PgArguments::default();
        let mut n = 0;
        for (r, row) in rows.iter().enumerate() {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for (i, (c, kind)) in t.columns.iter().enumerate() {
                n += 1;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${n}"));
                let v = Value::from_sqlite(row, i, *kind)?;
                if t.int_key.as_deref() == Some(c.as_str()) {
                    if let Value::Int(Some(k)) = v {
                        key = Some(k);
                    }
                }
                v.bind(&mut args)?;
            }
            sql.push(')');
        }
        sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .execute(&mut *tx)
            .await?;
    }
    let copied = copied + rows.len() as i64;
    let finished = rows.len() < chunk;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {PROGRESS} (tbl, copied, last_key, done) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tbl) DO UPDATE SET copied = $2, last_key = $3, done = $4"
    )))
    .bind(&t.name)
    .bind(copied)
    .bind(key)
    .bind(finished)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((copied as u64, finished))
}

async fn set_triggers(dst: &PgPool, on: bool) -> Result<()> {
    for t in TRIGGERED {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {t} {} TRIGGER USER",
            if on { "ENABLE" } else { "DISABLE" }
        )))
        .execute(dst)
        .await?;
    }
    Ok(())
}

/// Identity sequences past the copied ids, and the mailbox's UIDs.
async fn sequences(dst: &PgPool) -> Result<()> {
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(dst)
    .await?;
    for (t, c) in identities {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), \
             GREATEST((SELECT max({c}) FROM {t}), 1))"
        )))
        .execute(dst)
        .await?;
    }
    sqlx::query(
        "SELECT setval('mailbox_uid_seq', GREATEST((SELECT max(id) FROM mailbox), \
         (SELECT max(uid_high) FROM mailbox_counts), 1))",
    )
    .execute(dst)
    .await?;
    Ok(())
}

/// PostgreSQL's search documents, built from the copied messages.
async fn search_documents(
    dst: &PgPool,
    opts: &CopyOptions,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<()> {
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages m \
         WHERE NOT EXISTS (SELECT 1 FROM messages_fts f WHERE f.message_id = m.id)",
    )
    .fetch_one(dst)
    .await?;
    let mut done = 0u64;
    loop {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT m.id, b.raw FROM messages m JOIN message_blobs b ON b.message_id = m.id \
             WHERE NOT EXISTS (SELECT 1 FROM messages_fts f WHERE f.message_id = m.id) \
             ORDER BY m.id LIMIT $1",
        )
        .bind(opts.chunk.min(200) as i64)
        .fetch_all(dst)
        .await?;
        if rows.is_empty() {
            return Ok(());
        }
        let pool = db::Pool::Postgres(dst.clone());
        let mut tx = pool.begin().await?;
        for (id, raw) in &rows {
            let s = Summary::parse(raw);
            super::fts::index(&mut tx, MessageId(*id), &s, raw, None).await?;
        }
        tx.commit().await?;
        done += rows.len() as u64;
        progress("search index", done, total as u64);
    }
}

/// Both sides hold the same rows: counts and checksums, table by table.
async fn verify(src: &SqlitePool, dst: &PgPool, tables: &[Table]) -> Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    for t in tables {
        let list = t
            .columns
            .iter()
            .map(|(c, _)| quoted(c))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT {list} FROM {}", quoted(&t.name));
        let mut a = Checksum::default();
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).fetch(src);
        while let Some(row) = rows.try_next().await? {
            let vals: Vec<Value> = t
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, k))| Value::from_sqlite(&row, i, *k))
                .collect::<Result<_>>()?;
            a.add(&vals);
        }
        drop(rows);
        let mut b = Checksum::default();
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).fetch(dst);
        while let Some(row) = rows.try_next().await? {
            let vals: Vec<Value> = t
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, k))| Value::from_pg(&row, i, *k))
                .collect::<Result<_>>()?;
            b.add(&vals);
        }
        if a != b {
            return Err(StoreError::Invalid(format!(
                "store copy: {} differs after the copy ({} rows here, {} there)",
                t.name, a.rows, b.rows
            )));
        }
        counts.insert(t.name.clone(), a.rows);
    }
    Ok(counts)
}

/// Is a copy into this database unfinished? (A node refuses it.)
pub(super) async fn unfinished(dst: &PgPool) -> Result<bool> {
    Ok(sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(PROGRESS)
        .fetch_one(dst)
        .await?)
}
