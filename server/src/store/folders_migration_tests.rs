//! The folders and folder UIDs migrations, each on a database from before it.

use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Executor, SqliteConnection};

/// A database in memory with every migration before `version` applied.
async fn database_before(version: i64) -> (SqliteConnection, Migrator) {
    let mut db = SqliteConnection::connect_with(
        &SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true),
    )
    .await
    .expect("db");
    let migrator = sqlx::migrate!("../migrations/sqlite");
    for m in migrator.iter().filter(|m| m.version < version) {
        db.execute(sqlx::raw_sql(m.sql.clone()))
            .await
            .expect("earlier migration");
    }
    (db, migrator)
}

/// A database from before user folders: the mailbox table rebuilt
/// keeps its rows, ids, flags and modification sequences, the UID
/// sequence (an expunged top UID is not reused), and its triggers.
#[tokio::test]
async fn the_folders_migration_keeps_rows_sequences_and_triggers() {
    let folders = 20261213000001;
    let (mut db, migrator) = database_before(folders).await;
    db.execute(sqlx::raw_sql(
        "INSERT INTO domains (id, name, primary_host, primary_port, created_at) \
         VALUES (1, 'example.test', '127.0.0.1', 25, 1); \
         INSERT INTO users (id, domain_id, address, created_at) VALUES (1, 1, 'a@example.test', 1); \
         INSERT INTO messages (id, received_at, origin, mail_from, size) VALUES \
           (1, 1, 'smtp', 'x@remote.test', 10), (2, 1, 'webmail', 'a@example.test', 10); \
         INSERT INTO mailbox (user_id, message_id, folder, received_at, flagged) VALUES \
           (1, 1, 'inbox', 1, 1), (1, 2, 'sent', 1, 0), (1, 1, 'trash', 1, 0); \
         UPDATE mailbox SET trashed_from = 'inbox' WHERE id = 3; \
         UPDATE mailbox SET seen = 1 WHERE id = 1; \
         DELETE FROM mailbox WHERE id = 3;",
    ))
    .await
    .expect("rows");
    type Row = (i64, String, bool, bool, i64);
    let read = "SELECT id, folder, flagged, seen, modseq FROM mailbox ORDER BY id";
    let before: Vec<Row> = sqlx::query_as(read)
        .fetch_all(&mut db)
        .await
        .expect("before");
    let counts = "SELECT folder, total, unseen, modseq FROM mailbox_counts ORDER BY folder";
    let counts_before: Vec<(String, i64, i64, i64)> = sqlx::query_as(counts)
        .fetch_all(&mut db)
        .await
        .expect("counts");
    let m = migrator
        .iter()
        .find(|m| m.version == folders)
        .expect("the folders migration");
    db.execute(sqlx::raw_sql(m.sql.clone()))
        .await
        .expect("folders migration");
    let after: Vec<Row> = sqlx::query_as(read)
        .fetch_all(&mut db)
        .await
        .expect("after");
    assert_eq!(before, after);
    let counts_after: Vec<(String, i64, i64, i64)> = sqlx::query_as(counts)
        .fetch_all(&mut db)
        .await
        .expect("counts");
    assert_eq!(counts_before, counts_after, "counts copied, not recounted");
    db.execute(sqlx::raw_sql(
        "INSERT INTO folders (id, user_id, name, uid_validity, created_at) VALUES (7, 1, 'Work', 5, 1)",
    ))
    .await
    .expect("a folder");
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO mailbox (user_id, message_id, folder, received_at) \
         VALUES (1, 2, 'f7', 1) RETURNING id",
    )
    .fetch_one(&mut db)
    .await
    .expect("a row in a user's folder");
    assert_eq!(id, 4, "UID 3 was expunged: never again");
    let total: i64 = sqlx::query_scalar("SELECT total FROM mailbox_counts WHERE folder = 'f7'")
        .fetch_one(&mut db)
        .await
        .expect("counted by the trigger");
    assert_eq!(total, 1);
    let moved = sqlx::query("UPDATE mailbox SET folder = 'inbox' WHERE id = 4")
        .execute(&mut db)
        .await;
    assert!(moved.is_err(), "rows still never change folder");
    for bad in ["spam", "f", "f0", "fx", "f1x", "f12 "] {
        let r = sqlx::query(
            "INSERT INTO mailbox (user_id, message_id, folder, received_at) VALUES (1, 1, ?, 1)",
        )
        .bind(bad)
        .execute(&mut db)
        .await;
        assert!(r.is_err(), "folder keys are still checked: {bad}");
    }
}

/// A database from before per-folder UIDs: the rows keep their UIDs (the
/// ids mail apps know), each folder goes on from its high mark, a new
/// folder starts at 1, and a removal is remembered by its UID.
#[tokio::test]
async fn the_folder_uids_migration_keeps_the_uids_mail_apps_know() {
    let uids = 20261214000002;
    let (mut db, migrator) = database_before(uids).await;
    db.execute(sqlx::raw_sql(
        "INSERT INTO domains (id, name, primary_host, primary_port, created_at) \
         VALUES (1, 'example.test', '127.0.0.1', 25, 1); \
         INSERT INTO users (id, domain_id, address, created_at) VALUES (1, 1, 'a@example.test', 1); \
         INSERT INTO messages (id, received_at, origin, mail_from, size) VALUES \
           (1, 1, 'smtp', 'x@remote.test', 10), (2, 1, 'smtp', 'x@remote.test', 10), \
           (3, 1, 'smtp', 'x@remote.test', 10); \
         INSERT INTO mailbox (user_id, message_id, folder, received_at) VALUES \
           (1, 1, 'inbox', 1), (1, 2, 'sent', 1), (1, 2, 'inbox', 1), (1, 3, 'inbox', 1); \
         DELETE FROM mailbox WHERE id = 4;",
    ))
    .await
    .expect("rows");
    for m in migrator.iter().filter(|m| m.version >= uids) {
        db.execute(sqlx::raw_sql(m.sql.clone()))
            .await
            .expect("the migration and those after it");
    }
    let rows: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT id, folder, uid FROM mailbox ORDER BY id")
            .fetch_all(&mut db)
            .await
            .expect("rows");
    assert_eq!(
        rows,
        [
            (1, "inbox".to_string(), 1),
            (2, "sent".to_string(), 2),
            (3, "inbox".to_string(), 3)
        ]
    );
    db.execute(sqlx::raw_sql(
        "INSERT INTO folders (id, user_id, name, uid_validity, created_at) VALUES (7, 1, 'Work', 5, 1); \
         INSERT INTO mailbox (user_id, message_id, folder, received_at) VALUES \
           (1, 1, 'f7', 1), (1, 3, 'f7', 1), (1, 3, 'sent', 1); \
         DELETE FROM mailbox WHERE id = 3;",
    ))
    .await
    .expect("more rows");
    let uid = |folder: &'static str, message: i64| {
        sqlx::query_scalar::<_, i64>("SELECT uid FROM mailbox WHERE folder = ? AND message_id = ?")
            .bind(folder)
            .bind(message)
    };
    assert_eq!(uid("f7", 1).fetch_one(&mut db).await.unwrap(), 1);
    assert_eq!(uid("f7", 3).fetch_one(&mut db).await.unwrap(), 2);
    assert_eq!(
        uid("sent", 3).fetch_one(&mut db).await.unwrap(),
        3,
        "Sent goes on from its own high mark"
    );
    let gone: Vec<(String, i64)> =
        sqlx::query_as("SELECT folder, uid FROM mailbox_vanished ORDER BY modseq")
            .fetch_all(&mut db)
            .await
            .expect("removals");
    assert_eq!(
        gone,
        [("inbox".to_string(), 4), ("inbox".to_string(), 3)],
        "removals remembered by UID"
    );
    let next: i64 = sqlx::query_scalar(
        "SELECT uid_high + 1 FROM mailbox_counts WHERE user_id = 1 AND folder = 'inbox'",
    )
    .fetch_one(&mut db)
    .await
    .expect("counts");
    assert_eq!(next, 5, "an expunged UID is never given again");
}
