//! The trash: one folder for the webmail and IMAP (`\Trash`). Moving an
//! entry there (or back) makes a new mailbox row — a new IMAP UID, as a
//! move must — with the same message and flags, and removes the old one,
//! in one transaction. The trash remembers where each entry came from.
//! Deleting from the trash removes the mailbox row only: the archive, the
//! search index and deliveries to the primary are untouched.

use super::mailbox::Folder;
use super::{Result, Store, UserId};
use crate::store::db;

impl Store {
    /// Move one of the user's entries to `to`; returns the new entry id
    /// (the one already there when the message is in `to` already), or
    /// None when the entry is not the user's. Into the trash, the entry
    /// remembers its folder; out of it, it forgets.
    pub async fn move_entry(&self, user: UserId, entry: i64, to: Folder) -> Result<Option<i64>> {
        let mut tx = self.read.begin().await?;
        let row: Option<(i64, String)> =
            db::query_as("SELECT message_id, folder FROM mailbox WHERE user_id = ? AND id = ?")
                .bind(user.0)
                .bind(entry)
                .fetch_optional(&mut tx)
                .await?;
        let Some((message, from)) = row else {
            return Ok(None);
        };
        if from == to.key() {
            return Ok(Some(entry));
        }
        db::query(
            "INSERT INTO mailbox (user_id, message_id, folder, received_at, seen, \
             during_outage, flagged, answered, deleted, draft, trashed_from) \
             SELECT user_id, message_id, ?, received_at, seen, during_outage, flagged, answered, \
             FALSE, draft, CASE WHEN ? = 'trash' THEN folder END \
             FROM mailbox WHERE user_id = ? AND id = ? ON CONFLICT DO NOTHING",
        )
        .bind(to)
        .bind(to)
        .bind(user.0)
        .bind(entry)
        .execute(&mut tx)
        .await?;
        let new: i64 = db::query_scalar(
            "SELECT id FROM mailbox WHERE user_id = ? AND message_id = ? AND folder = ?",
        )
        .bind(user.0)
        .bind(message)
        .bind(to)
        .fetch_one(&mut tx)
        .await?;
        db::query("DELETE FROM mailbox WHERE user_id = ? AND id = ?")
            .bind(user.0)
            .bind(entry)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        self.mailbox_changed(user);
        Ok(Some(new))
    }

    /// Where an entry of the trash goes back to (Inbox when unknown), or
    /// None when it is not one of the user's trash entries.
    pub async fn trashed_from(&self, user: UserId, entry: i64) -> Result<Option<Folder>> {
        let row: Option<Option<String>> = db::query_scalar(
            "SELECT trashed_from FROM mailbox WHERE user_id = ? AND id = ? AND folder = 'trash'",
        )
        .bind(user.0)
        .bind(entry)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|f| {
            f.as_deref()
                .and_then(Folder::parse)
                .unwrap_or(Folder::Inbox)
        }))
    }

    /// Put an entry of the trash back where it was; returns its new id.
    pub async fn restore_entry(&self, user: UserId, entry: i64) -> Result<Option<i64>> {
        match self.trashed_from(user, entry).await? {
            Some(to) => self.move_entry(user, entry, to).await,
            None => Ok(None),
        }
    }

    /// Delete an entry of the trash for good (its mailbox row; the archive
    /// keeps the message for its retention). False when it is not one of
    /// the user's trash entries.
    pub async fn delete_trashed(&self, user: UserId, entry: i64) -> Result<bool> {
        let n = db::query("DELETE FROM mailbox WHERE user_id = ? AND id = ? AND folder = 'trash'")
            .bind(user.0)
            .bind(entry)
            .execute(&self.read)
            .await?
            .rows_affected();
        if n > 0 {
            self.mailbox_changed(user);
        }
        Ok(n > 0)
    }

    /// Empty the user's trash; returns how many entries went.
    pub async fn empty_trash(&self, user: UserId) -> Result<u64> {
        let n = db::query("DELETE FROM mailbox WHERE user_id = ? AND folder = 'trash'")
            .bind(user.0)
            .execute(&self.read)
            .await?
            .rows_affected();
        if n > 0 {
            self.mailbox_changed(user);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{Connection, Executor};

    /// A database made before the trash: its rows, ids and UID sequence
    /// come through the table rebuild (an expunged top UID is not reused),
    /// and sent messages learn who sent them.
    #[tokio::test]
    async fn the_trash_migration_keeps_rows_and_the_uid_sequence() {
        let mut db = sqlx::SqliteConnection::connect_with(
            &SqliteConnectOptions::new()
                .in_memory(true)
                .foreign_keys(true),
        )
        .await
        .expect("db");
        let migrator = sqlx::migrate!("../migrations/sqlite");
        let trash = 20261202000004;
        for m in migrator.iter().filter(|m| m.version < trash) {
            db.execute(sqlx::raw_sql(m.sql.clone()))
                .await
                .expect("earlier migration");
        }
        db.execute(sqlx::raw_sql(
            "INSERT INTO domains (id, name, primary_host, primary_port, created_at) \
             VALUES (1, 'example.test', '127.0.0.1', 25, 1); \
             INSERT INTO users (id, domain_id, address, created_at) VALUES (1, 1, 'a@example.test', 1); \
             INSERT INTO messages (id, received_at, origin, mail_from, size) VALUES \
               (1, 1, 'smtp', 'x@remote.test', 10), (2, 1, 'webmail', 'a@example.test', 10); \
             INSERT INTO mailbox (user_id, message_id, folder, received_at, flagged) VALUES \
               (1, 1, 'inbox', 1, 1), (1, 2, 'sent', 1, 0), (1, 1, 'sent', 1, 0); \
             DELETE FROM mailbox WHERE id = 3;",
        ))
        .await
        .expect("rows");
        let before: Vec<(i64, String, bool)> =
            sqlx::query_as("SELECT id, folder, flagged FROM mailbox ORDER BY id")
                .fetch_all(&mut db)
                .await
                .expect("before");
        let m = migrator
            .iter()
            .find(|m| m.version == trash)
            .expect("the trash migration");
        db.execute(sqlx::raw_sql(m.sql.clone()))
            .await
            .expect("trash migration");
        let after: Vec<(i64, String, bool)> =
            sqlx::query_as("SELECT id, folder, flagged FROM mailbox ORDER BY id")
                .fetch_all(&mut db)
                .await
                .expect("after");
        assert_eq!(before, after);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO mailbox (user_id, message_id, folder, received_at, trashed_from) \
             VALUES (1, 1, 'trash', 1, 'inbox') RETURNING id",
        )
        .fetch_one(&mut db)
        .await
        .expect("a trash row");
        assert_eq!(id, 4, "UID 3 was expunged: never again");
        let sent_by: Vec<Option<i64>> =
            sqlx::query_scalar("SELECT sent_by FROM messages ORDER BY id")
                .fetch_all(&mut db)
                .await
                .expect("sent_by");
        assert_eq!(sent_by, [None, Some(1)]);
        let bad = sqlx::query("INSERT INTO mailbox (user_id, message_id, folder, received_at) VALUES (1, 2, 'spam', 1)")
            .execute(&mut db)
            .await;
        assert!(bad.is_err(), "folders are still checked");
    }
}
