//! The user's own folders, beside INBOX, Sent and Trash: made over IMAP
//! (CREATE, RENAME) or in the webmail. They are the user's view of the
//! continuity mailbox only: moving or deleting mail in them never changes
//! what is delivered to the primary, and the archive keeps every message.
//!
//! A folder's mailbox rows carry its key (`f<id>`, see
//! [`Folder::User`]), so a rename changes the folders row only — the
//! messages keep their UIDs and the folder its UIDVALIDITY, as in Dovecot.
//! Names are whole paths with `/` between levels, in UTF-8 (IMAP's
//! modified UTF-7 is the protocol's business). Every folder's parent
//! exists: CREATE makes the missing ones, RENAME takes the children along
//! and DELETE refuses a folder that has any.

use super::mailbox::{Folder, FolderId};
use super::{now_ms, Result, Store, StoreError, UserId};
use crate::store::db;

/// The level separator of folder names.
pub const SEPARATOR: char = '/';
/// Most folders a user may have.
pub const MAX_FOLDERS: i64 = 1_000;
/// Longest name, in characters (a level: 255).
const MAX_NAME: usize = 1_000;
const MAX_LEVEL: usize = 255;

/// RFC 6154 special uses a user's folder may have (Sent and Trash are
/// the service's own folders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpecialUse {
    Drafts,
    Junk,
    Archive,
}

impl SpecialUse {
    pub const ALL: [SpecialUse; 3] = [SpecialUse::Drafts, SpecialUse::Junk, SpecialUse::Archive];

    pub fn key(self) -> &'static str {
        match self {
            SpecialUse::Drafts => "drafts",
            SpecialUse::Junk => "junk",
            SpecialUse::Archive => "archive",
        }
    }
    pub fn parse(s: &str) -> Option<SpecialUse> {
        SpecialUse::ALL.into_iter().find(|u| u.key() == s)
    }
    /// The name the folder gets when it is made on demand.
    pub fn default_name(self) -> &'static str {
        match self {
            SpecialUse::Drafts => "Drafts",
            SpecialUse::Junk => "Junk",
            SpecialUse::Archive => "Archive",
        }
    }
}

/// One of the user's folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFolder {
    pub id: FolderId,
    pub name: String,
    pub special: Option<SpecialUse>,
    pub uid_validity: u32,
}

impl UserFolder {
    pub fn folder(&self) -> Folder {
        Folder::User(self.id)
    }
    /// Its parent's name, if it is below the top.
    pub fn parent(&self) -> Option<&str> {
        self.name.rsplit_once(SEPARATOR).map(|(p, _)| p)
    }
}

/// Why a folder operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FolderRefusal {
    #[error(
        "a folder name cannot be empty, nor have an empty level (\"a//b\", a '/' at either end)"
    )]
    Empty,
    #[error("the folder name is too long")]
    TooLong,
    #[error("a folder name cannot hold control characters, '*' or '%'")]
    BadCharacter,
    #[error("INBOX, Sent and Trash are the service's own folders")]
    Reserved,
    #[error("a folder of that name exists already")]
    Exists,
    #[error("no such folder")]
    NotFound,
    #[error("the folder has subfolders: delete them first")]
    HasChildren,
    #[error("a folder cannot move below itself")]
    BelowItself,
    #[error("too many folders (at most {MAX_FOLDERS})")]
    TooMany,
}

/// A folder operation's failure: refused, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{0}")]
    Refused(#[from] FolderRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for FolderError {
    fn from(e: sqlx::Error) -> Self {
        FolderError::Store(e.into())
    }
}

/// Whether `name` may name a user's folder.
pub fn check_name(name: &str) -> Result<(), FolderRefusal> {
    if name.is_empty() || name.split(SEPARATOR).any(str::is_empty) {
        return Err(FolderRefusal::Empty);
    }
    if name.chars().count() > MAX_NAME
        || name.split(SEPARATOR).any(|l| l.chars().count() > MAX_LEVEL)
    {
        return Err(FolderRefusal::TooLong);
    }
    if name.chars().any(|c| c.is_control() || c == '*' || c == '%') {
        return Err(FolderRefusal::BadCharacter);
    }
    let top = name.split(SEPARATOR).next().unwrap_or(name);
    if top.eq_ignore_ascii_case("INBOX") || top == "Sent" || top == "Trash" {
        return Err(FolderRefusal::Reserved);
    }
    Ok(())
}

/// `name` and every level above it, the top first.
fn with_parents(name: &str) -> Vec<&str> {
    let mut out: Vec<&str> = name
        .match_indices(SEPARATOR)
        .map(|(i, _)| &name[..i])
        .collect();
    out.push(name);
    out
}

/// A folders row: id, name, special use, UIDVALIDITY.
type FolderRow = (i64, String, Option<String>, i64);

fn folder_from(r: FolderRow) -> UserFolder {
    UserFolder {
        id: FolderId(r.0),
        name: r.1,
        special: r.2.as_deref().and_then(SpecialUse::parse),
        uid_validity: u32::try_from(r.3).unwrap_or(u32::MAX).max(1),
    }
}

const FOLDER_COLUMNS: &str = "id, name, special_use, uid_validity";

impl Store {
    /// The user's own folders, by name.
    pub async fn user_folders(&self, user: UserId) -> Result<Vec<UserFolder>> {
        let rows: Vec<FolderRow> = db::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {FOLDER_COLUMNS} FROM folders WHERE user_id = ? ORDER BY name"
        )))
        .bind(user.0)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(folder_from).collect())
    }

    /// The user's own folders with how many messages each holds and how
    /// many are unread, by name (the webmail's folder list).
    pub async fn user_folders_counted(&self, user: UserId) -> Result<Vec<(UserFolder, i64, i64)>> {
        type Counted = (i64, String, Option<String>, i64, Option<i64>, Option<i64>);
        let rows: Vec<Counted> = db::query_as(
            "SELECT f.id, f.name, f.special_use, f.uid_validity, c.total, c.unseen \
                 FROM folders f LEFT JOIN mailbox_counts c \
                   ON c.user_id = f.user_id AND c.folder = 'f' || f.id \
                 WHERE f.user_id = ? ORDER BY f.name",
        )
        .bind(user.0)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, special, validity, total, unseen)| {
                (
                    folder_from((id, name, special, validity)),
                    total.unwrap_or(0),
                    unseen.unwrap_or(0),
                )
            })
            .collect())
    }

    /// One of the user's folders by name (None: not theirs, or none).
    pub async fn user_folder_named(&self, user: UserId, name: &str) -> Result<Option<UserFolder>> {
        let row: Option<FolderRow> = db::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {FOLDER_COLUMNS} FROM folders WHERE user_id = ? AND name = ?"
        )))
        .bind(user.0)
        .bind(name)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(folder_from))
    }

    /// One of the user's folders by id (None: not theirs, or none).
    pub async fn user_folder(&self, user: UserId, id: FolderId) -> Result<Option<UserFolder>> {
        let row: Option<FolderRow> = db::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {FOLDER_COLUMNS} FROM folders WHERE user_id = ? AND id = ?"
        )))
        .bind(user.0)
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(folder_from))
    }

    /// The UIDVALIDITY of one of the user's folders: the service's own
    /// folders share one; each folder of the user's has its own, made
    /// when it was created. None when the folder is not the user's.
    pub async fn folder_uid_validity(&self, user: UserId, folder: Folder) -> Result<Option<u32>> {
        match folder {
            Folder::User(id) => Ok(self.user_folder(user, id).await?.map(|f| f.uid_validity)),
            _ => Ok(Some(self.imap_uid_validity().await?)),
        }
    }

    /// Make a folder (and the levels above it that are missing). Refused
    /// when the name is not allowed or exists already.
    pub async fn create_folder(
        &self,
        user: UserId,
        name: &str,
        special: Option<SpecialUse>,
    ) -> Result<UserFolder, FolderError> {
        check_name(name)?;
        let mut tx = self.read.begin().await?;
        let taken: Option<i64> =
            db::query_scalar("SELECT id FROM folders WHERE user_id = ? AND name = ?")
                .bind(user.0)
                .bind(name)
                .fetch_optional(&mut tx)
                .await?;
        if taken.is_some() {
            return Err(FolderRefusal::Exists.into());
        }
        if let Some(s) = special {
            let has: Option<i64> =
                db::query_scalar("SELECT id FROM folders WHERE user_id = ? AND special_use = ?")
                    .bind(user.0)
                    .bind(s.key())
                    .fetch_optional(&mut tx)
                    .await?;
            if has.is_some() {
                // RFC 6154 §3: one folder per use here; the new one is plain
                return Err(FolderRefusal::Exists.into());
            }
        }
        let levels = with_parents(name);
        let count: i64 = db::query_scalar("SELECT COUNT(*) FROM folders WHERE user_id = ?")
            .bind(user.0)
            .fetch_one(&mut tx)
            .await?;
        if count + levels.len() as i64 > MAX_FOLDERS {
            return Err(FolderRefusal::TooMany.into());
        }
        let validity = next_validity(&mut tx, user).await?;
        let now = now_ms();
        for (i, level) in levels.iter().enumerate() {
            let last = i + 1 == levels.len();
            db::query(
                "INSERT INTO folders (user_id, name, special_use, uid_validity, created_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(user.0)
            .bind(*level)
            .bind(if last {
                special.map(SpecialUse::key)
            } else {
                None
            })
            .bind(validity)
            .bind(now)
            .execute(&mut tx)
            .await?;
        }
        let row: FolderRow = db::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {FOLDER_COLUMNS} FROM folders WHERE user_id = ? AND name = ?"
        )))
        .bind(user.0)
        .bind(name)
        .fetch_one(&mut tx)
        .await?;
        tx.commit().await?;
        self.mailbox_changed(user);
        Ok(folder_from(row))
    }

    /// Rename a folder and everything below it; the levels above the new
    /// name that are missing are made. Its messages, UIDs and UIDVALIDITY
    /// stay.
    pub async fn rename_folder(
        &self,
        user: UserId,
        id: FolderId,
        to: &str,
    ) -> Result<(), FolderError> {
        check_name(to)?;
        let mut tx = self.read.begin().await?;
        let from: Option<String> =
            db::query_scalar("SELECT name FROM folders WHERE user_id = ? AND id = ?")
                .bind(user.0)
                .bind(id.0)
                .fetch_optional(&mut tx)
                .await?;
        let Some(from) = from else {
            return Err(FolderRefusal::NotFound.into());
        };
        if to == from {
            return Err(FolderRefusal::Exists.into());
        }
        if to.starts_with(&format!("{from}{SEPARATOR}")) {
            return Err(FolderRefusal::BelowItself.into());
        }
        let taken: Option<i64> =
            db::query_scalar("SELECT id FROM folders WHERE user_id = ? AND name = ?")
                .bind(user.0)
                .bind(to)
                .fetch_optional(&mut tx)
                .await?;
        if taken.is_some() {
            return Err(FolderRefusal::Exists.into());
        }
        let prefix = format!("{from}{SEPARATOR}");
        let children: Vec<(i64, String)> = db::query_as(
            "SELECT id, name FROM folders WHERE user_id = ? AND name LIKE ? ESCAPE '\\'",
        )
        .bind(user.0)
        .bind(format!("{}%", like_escape(&prefix)))
        .fetch_all(&mut tx)
        .await?;
        db::query("UPDATE folders SET name = ? WHERE user_id = ? AND id = ?")
            .bind(to)
            .bind(user.0)
            .bind(id.0)
            .execute(&mut tx)
            .await?;
        for (child, name) in children {
            // LIKE is case-insensitive for ASCII in SQLite: compare exactly
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            db::query("UPDATE folders SET name = ? WHERE user_id = ? AND id = ?")
                .bind(format!("{to}{SEPARATOR}{rest}"))
                .bind(user.0)
                .bind(child)
                .execute(&mut tx)
                .await?;
        }
        let levels = with_parents(to);
        let validity = next_validity(&mut tx, user).await?;
        let now = now_ms();
        for level in &levels[..levels.len() - 1] {
            db::query(
                "INSERT INTO folders (user_id, name, uid_validity, created_at) \
                 VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(user.0)
            .bind(*level)
            .bind(validity)
            .bind(now)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        self.mailbox_changed(user);
        Ok(())
    }

    /// IMAP's RENAME of INBOX (RFC 3501 §6.3.5): every message of INBOX
    /// moves to a new folder of that name (new UIDs there) and INBOX
    /// stays, empty. Deliveries are untouched.
    pub async fn rename_inbox(&self, user: UserId, to: &str) -> Result<UserFolder, FolderError> {
        let folder = self.create_folder(user, to, None).await?;
        let mut tx = self.read.begin().await?;
        db::query(
            "INSERT INTO mailbox (user_id, message_id, folder, received_at, seen, during_outage, \
             flagged, answered, deleted, draft) \
             SELECT user_id, message_id, ?, received_at, seen, during_outage, flagged, answered, \
             deleted, draft FROM mailbox WHERE user_id = ? AND folder = 'inbox' ORDER BY id \
             ON CONFLICT DO NOTHING",
        )
        .bind(folder.folder())
        .bind(user.0)
        .execute(&mut tx)
        .await?;
        db::query("DELETE FROM mailbox WHERE user_id = ? AND folder = 'inbox'")
            .bind(user.0)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        self.mailbox_changed(user);
        Ok(folder)
    }

    /// Delete a folder with its mailbox rows (the archive keeps the
    /// messages; entries of the trash that came from it would go back to
    /// INBOX). Refused while it has subfolders.
    pub async fn delete_folder(&self, user: UserId, id: FolderId) -> Result<(), FolderError> {
        let mut tx = self.read.begin().await?;
        let name: Option<String> =
            db::query_scalar("SELECT name FROM folders WHERE user_id = ? AND id = ?")
                .bind(user.0)
                .bind(id.0)
                .fetch_optional(&mut tx)
                .await?;
        let Some(name) = name else {
            return Err(FolderRefusal::NotFound.into());
        };
        let below: Vec<String> = db::query_scalar(
            "SELECT name FROM folders WHERE user_id = ? AND name LIKE ? ESCAPE '\\'",
        )
        .bind(user.0)
        .bind(format!("{}%", like_escape(&format!("{name}{SEPARATOR}"))))
        .fetch_all(&mut tx)
        .await?;
        if below
            .iter()
            .any(|b| b.starts_with(&format!("{name}{SEPARATOR}")))
        {
            return Err(FolderRefusal::HasChildren.into());
        }
        let folder = Folder::User(id);
        db::query("DELETE FROM mailbox WHERE user_id = ? AND folder = ?")
            .bind(user.0)
            .bind(folder)
            .execute(&mut tx)
            .await?;
        db::query("UPDATE mailbox SET trashed_from = 'inbox' WHERE user_id = ? AND folder = 'trash' AND trashed_from = ?")
            .bind(user.0)
            .bind(folder)
            .execute(&mut tx)
            .await?;
        for table in ["mailbox_counts", "mailbox_vanished", "folder_snapshots"] {
            db::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE user_id = ? AND folder = ?"
            )))
            .bind(user.0)
            .bind(folder)
            .execute(&mut tx)
            .await?;
        }
        db::query("DELETE FROM folders WHERE user_id = ? AND id = ?")
            .bind(user.0)
            .bind(id.0)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        self.mailbox_changed(user);
        Ok(())
    }

    /// Make the folders mail apps look for (Drafts, Junk, Archive) that
    /// the user has none for. Returns whether anything changed.
    pub async fn ensure_special_folders(&self, user: UserId) -> Result<bool> {
        let have = self.user_folders(user).await?;
        let mut changed = false;
        for special in SpecialUse::ALL {
            if !have.iter().any(|f| f.special == Some(special)) {
                changed |= self.ensure_special(user, special, &have).await?;
            }
        }
        Ok(changed)
    }

    /// Give `special` a folder (the user's folders are `have`): a folder
    /// of the default name without a use takes it, else one is made.
    /// Returns whether anything changed (not at the folder limit, nor
    /// when another session did it meanwhile).
    pub(super) async fn ensure_special(
        &self,
        user: UserId,
        special: SpecialUse,
        have: &[UserFolder],
    ) -> Result<bool> {
        let name = special.default_name();
        if have.iter().any(|f| f.name == name) {
            let n = db::query(
                "UPDATE folders SET special_use = ? WHERE user_id = ? AND name = ? \
                 AND special_use IS NULL AND NOT EXISTS (SELECT 1 FROM folders o \
                     WHERE o.user_id = folders.user_id AND o.special_use = ?)",
            )
            .bind(special.key())
            .bind(user.0)
            .bind(name)
            .bind(special.key())
            .execute(&self.read)
            .await?
            .rows_affected();
            return Ok(n > 0);
        }
        match self.create_folder(user, name, Some(special)).await {
            Ok(_) => {
                self.set_subscribed(user, name, true).await?;
                Ok(true)
            }
            // made meanwhile by another session, or at the limit
            Err(FolderError::Refused(_)) => Ok(false),
            Err(FolderError::Store(e)) => Err(e),
        }
    }
}

/// A UIDVALIDITY for a folder made now: the time in seconds, and above
/// every one the user's folders were ever given (kept in
/// `users.folder_validity`: a folder deleted and made again in the same
/// second still gets a new one, RFC 3501 §2.3.1.1).
async fn next_validity(tx: &mut db::Tx<'_>, user: UserId) -> Result<i64> {
    let (given, high): (i64, Option<i64>) = db::query_as(
        "SELECT u.folder_validity, (SELECT MAX(uid_validity) FROM folders WHERE user_id = u.id) \
         FROM users u WHERE u.id = ?",
    )
    .bind(user.0)
    .fetch_one(&mut *tx)
    .await?;
    let now = (now_ms() / 1000).clamp(1, i64::from(u32::MAX));
    let next = now
        .max(given.max(high.unwrap_or(0)) + 1)
        .min(i64::from(u32::MAX));
    db::query("UPDATE users SET folder_validity = ? WHERE id = ?")
        .bind(next)
        .bind(user.0)
        .execute(&mut *tx)
        .await?;
    Ok(next)
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(check_name("Projects/2026"), Ok(()));
        assert_eq!(check_name("Été"), Ok(()));
        assert_eq!(check_name(""), Err(FolderRefusal::Empty));
        assert_eq!(check_name("a//b"), Err(FolderRefusal::Empty));
        assert_eq!(check_name("/a"), Err(FolderRefusal::Empty));
        assert_eq!(check_name("a/"), Err(FolderRefusal::Empty));
        assert_eq!(check_name("inbox"), Err(FolderRefusal::Reserved));
        assert_eq!(check_name("INBOX/x"), Err(FolderRefusal::Reserved));
        assert_eq!(check_name("Sent"), Err(FolderRefusal::Reserved));
        assert_eq!(check_name("sent"), Ok(()));
        assert_eq!(check_name("a*"), Err(FolderRefusal::BadCharacter));
        assert_eq!(check_name("a\r\nb"), Err(FolderRefusal::BadCharacter));
        assert_eq!(check_name(&"x".repeat(256)), Err(FolderRefusal::TooLong));
        assert_eq!(with_parents("a/b/c"), ["a", "a/b", "a/b/c"]);
        assert_eq!(with_parents("a"), ["a"]);
    }
}
