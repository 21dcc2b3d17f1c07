//! Each user's mailbox: listing (keyset paging, never OFFSET), counts, one
//! entry with its raw message, read/unread, and full-text search (FTS5).
//!
//! Every query takes the user id and filters on it: an entry id that is not
//! the caller's is simply not found. That is the authorization rule for mail.

use std::borrow::Cow;

use super::{MessageId, Result, Store, UserId};
use crate::store::db;

/// A folder of the user's own making (the `folders` table's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FolderId(pub i64);

/// A mailbox folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Folder {
    Inbox,
    Sent,
    /// What the user deleted, until they restore it or empty the trash.
    Trash,
    /// One of the user's own folders (see [`super::folders`]).
    User(FolderId),
}

impl Folder {
    /// The key its mailbox rows carry: `inbox`, `sent`, `trash`, or `f`
    /// and the id of a user's folder.
    pub fn key(self) -> Cow<'static, str> {
        match self {
            Folder::Inbox => Cow::Borrowed("inbox"),
            Folder::Sent => Cow::Borrowed("sent"),
            Folder::Trash => Cow::Borrowed("trash"),
            Folder::User(id) => Cow::Owned(format!("f{}", id.0)),
        }
    }
    pub fn parse(s: &str) -> Option<Folder> {
        match s {
            "inbox" => Some(Folder::Inbox),
            "sent" => Some(Folder::Sent),
            "trash" => Some(Folder::Trash),
            _ => s
                .strip_prefix('f')
                .filter(|n| !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<i64>().ok())
                .map(|n| Folder::User(FolderId(n))),
        }
    }
}

impl<'q> db::Bind<'q> for Folder {
    fn arg(self) -> db::Arg<'q> {
        db::Arg::Text(Some(self.key()))
    }
    fn null() -> db::Arg<'q> {
        db::Arg::Text(None)
    }
}

/// One line of a mailbox list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    pub id: i64,
    pub message: MessageId,
    pub folder: Folder,
    pub received_at: i64,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub size: i64,
    pub attachments: i64,
    pub seen: bool,
    pub during_outage: bool,
}

/// Counts shown beside the folders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FolderCounts {
    pub inbox: i64,
    pub inbox_unseen: i64,
    pub sent: i64,
    pub trash: i64,
}

/// What a search asks for. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Words anywhere (sender, recipients, subject, body, attachment names).
    pub text: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    /// Received at or after (Unix ms).
    pub since: Option<i64>,
    /// Received before (Unix ms).
    pub until: Option<i64>,
    pub has_attachment: bool,
    pub folder: Option<Folder>,
}

impl SearchQuery {
    /// The full-text terms of the search: every typed word a prefix term
    /// (see [`super::fts`]), so nothing the user types is query syntax.
    pub fn terms(&self) -> super::fts::Terms {
        use super::fts::Part;
        let mut t = super::fts::Terms::default();
        t.add(None, &self.text);
        t.add(Some(Part::Sender), &self.from);
        t.add(Some(Part::Recipients), &self.to);
        t.add(Some(Part::Subject), &self.subject);
        t
    }
}

const ENTRY_COLUMNS: &str = "mb.id, mb.message_id, mb.folder, mb.received_at, m.header_from, \
     m.header_to, m.subject, m.size, m.attachments, mb.seen, mb.during_outage";

impl EntryRow {
    /// The cursor that continues a folder listing after this entry.
    pub fn list_cursor(&self) -> (i64, i64) {
        (self.received_at, self.id)
    }
    /// The cursor that continues a word search after this entry's message.
    pub fn search_cursor(&self) -> (i64, i64) {
        (self.message.0, 0)
    }
}

fn entry_from_row(r: &db::Row) -> Result<EntryRow> {
    let folder: String = r.try_get(2)?;
    Ok(EntryRow {
        id: r.try_get(0)?,
        message: MessageId(r.try_get(1)?),
        folder: Folder::parse(&folder).unwrap_or(Folder::Inbox),
        received_at: r.try_get(3)?,
        from: r.try_get(4)?,
        to: r.try_get(5)?,
        subject: r.try_get(6)?,
        size: r.try_get(7)?,
        attachments: r.try_get(8)?,
        seen: r.try_get(9)?,
        during_outage: r.try_get(10)?,
    })
}

impl Store {
    /// A page of a folder, newest first. `before` is the (received_at, id) of
    /// the last entry of the previous page.
    pub async fn mailbox_page(
        &self,
        user: UserId,
        folder: Folder,
        before: Option<(i64, i64)>,
        limit: u32,
    ) -> Result<Vec<EntryRow>> {
        let (at, id) = before.unwrap_or((i64::MAX, i64::MAX));
        let rows = db::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM mailbox mb JOIN messages m ON m.id = mb.message_id \
             WHERE mb.user_id = ? AND mb.folder = ? AND (mb.received_at, mb.id) < (?, ?) \
             ORDER BY mb.received_at DESC, mb.id DESC LIMIT ?"
        )))
        .bind(user.0)
        .bind(folder)
        .bind(at)
        .bind(id)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// The counts beside the folders, as the store keeps them while rows
    /// change (never counted at each request).
    pub async fn folder_counts(&self, user: UserId) -> Result<FolderCounts> {
        let rows: Vec<(String, i64, i64)> =
            db::query_as("SELECT folder, total, unseen FROM mailbox_counts WHERE user_id = ?")
                .bind(user.0)
                .fetch_all(&self.read)
                .await?;
        let mut c = FolderCounts::default();
        for (folder, total, unseen) in rows {
            match Folder::parse(&folder) {
                Some(Folder::Inbox) => {
                    c.inbox = total;
                    c.inbox_unseen = unseen;
                }
                Some(Folder::Sent) => c.sent = total,
                Some(Folder::Trash) => c.trash = total,
                Some(Folder::User(_)) | None => {}
            }
        }
        Ok(c)
    }

    /// One of the user's entries (None if it is not theirs or does not exist).
    pub async fn mailbox_entry(&self, user: UserId, entry: i64) -> Result<Option<EntryRow>> {
        let row = db::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM mailbox mb JOIN messages m ON m.id = mb.message_id \
             WHERE mb.user_id = ? AND mb.id = ?"
        )))
        .bind(user.0)
        .bind(entry)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    /// The raw message of one of the user's entries.
    pub async fn entry_raw(&self, user: UserId, entry: i64) -> Result<Option<Vec<u8>>> {
        let row = db::query(
            "SELECT b.raw FROM mailbox mb JOIN message_blobs b ON b.message_id = mb.message_id \
             WHERE mb.user_id = ? AND mb.id = ?",
        )
        .bind(user.0)
        .bind(entry)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Mark an entry read or unread. False if it is not the user's.
    pub async fn set_seen(&self, user: UserId, entry: i64, seen: bool) -> Result<bool> {
        let n = db::query("UPDATE mailbox SET seen = ? WHERE user_id = ? AND id = ? AND seen <> ?")
            .bind(seen)
            .bind(user.0)
            .bind(entry)
            .bind(seen)
            .execute(&self.read)
            .await?
            .rows_affected();
        if n > 0 {
            self.mailbox_changed(user);
            return Ok(true);
        }
        Ok(self.mailbox_entry(user, entry).await?.is_some())
    }

    /// Search the user's mailbox, newest first. With words, the FTS index
    /// drives the query in descending message order and `before` is the
    /// message id of the last result of the previous page
    /// ([`EntryRow::search_cursor`]; a page may hold one more entry than
    /// `limit` so a message's entries stay together); without, it is a
    /// filtered listing
    /// keyed like [`Store::mailbox_page`] (received_at, id).
    pub async fn search(
        &self,
        user: UserId,
        q: &SearchQuery,
        before: Option<(i64, i64)>,
        limit: u32,
    ) -> Result<Vec<EntryRow>> {
        let mut filters = String::new();
        if q.since.is_some() {
            filters.push_str(" AND mb.received_at >= ?");
        }
        if q.until.is_some() {
            filters.push_str(" AND mb.received_at < ?");
        }
        if q.has_attachment {
            filters.push_str(" AND m.attachments > 0");
        }
        if q.folder.is_some() {
            filters.push_str(" AND mb.folder = ?");
        }
        let (at, id) = before.unwrap_or((i64::MAX, i64::MAX));
        let backend = self.backend();
        let fts = q.terms().query(backend);
        if fts.is_some() {
            // what was stored is found: its document is written first
            self.index_before_search().await;
        }
        let sql = match &fts {
            // The FTS index drives, newest message first, and stops at the
            // limit. `f.rowid + 0` keeps SQLite from deriving a range on
            // mailbox.message_id from `f.rowid < ?` (which made it scan the
            // user's whole mailbox for every match); ordering by the FTS
            // rowid alone lets FTS5 return rows already in order.
            Some(m) => {
                let id = super::fts::id_column(backend, "f");
                let matches = m.condition("f");
                format!(
                    "SELECT {ENTRY_COLUMNS} FROM messages_fts f \
                     JOIN mailbox mb ON mb.message_id = {id} + 0 \
                     JOIN messages m ON m.id = {id} + 0 \
                     WHERE mb.user_id = ? AND {matches} AND {id} < ? {filters} \
                     ORDER BY {id} DESC LIMIT ?"
                )
            }
            None => format!(
                "SELECT {ENTRY_COLUMNS} FROM mailbox mb JOIN messages m ON m.id = mb.message_id \
                 WHERE mb.user_id = ? AND (mb.received_at, mb.id) < (?, ?) {filters} \
                 ORDER BY mb.received_at DESC, mb.id DESC LIMIT ?"
            ),
        };
        let mut query = db::query(sqlx::AssertSqlSafe(sql)).bind(user.0);
        query = match &fts {
            Some(m) => {
                for v in m.values() {
                    query = query.bind(v.to_string());
                }
                query.bind(at)
            }
            None => query.bind(at).bind(id),
        };
        if let Some(s) = q.since {
            query = query.bind(s);
        }
        if let Some(u) = q.until {
            query = query.bind(u);
        }
        if let Some(f) = q.folder {
            query = query.bind(f);
        }
        if fts.is_none() {
            let rows = query.bind(limit as i64).fetch_all(&self.read).await?;
            return rows.iter().map(entry_from_row).collect();
        }
        // A message can have two entries for one user (inbox and sent): a
        // page never splits them, so the next page starts at the next
        // message and nothing is skipped or repeated.
        let rows = query.bind(limit as i64 + 2).fetch_all(&self.read).await?;
        let mut out: Vec<EntryRow> = rows.iter().map(entry_from_row).collect::<Result<_>>()?;
        if out.len() > limit as usize {
            let last = out[limit as usize - 1].message;
            let keep = out
                .iter()
                .enumerate()
                .skip(limit as usize)
                .find(|(_, e)| e.message != last)
                .map(|(i, _)| i)
                .unwrap_or(out.len());
            out.truncate(keep);
        }
        Ok(out)
    }
}
