//! IMAP subscriptions (SUBSCRIBE, UNSUBSCRIBE, LSUB): names the user
//! subscribed to, kept by name — RFC 3501 §6.3.6: a name need not exist.

use super::{Result, Store, UserId};
use crate::store::db;

impl Store {
    /// The names the user subscribed to (IMAP LSUB), by name.
    pub async fn subscriptions(&self, user: UserId) -> Result<Vec<String>> {
        Ok(db::query_scalar(
            "SELECT name FROM folder_subscriptions WHERE user_id = ? ORDER BY name",
        )
        .bind(user.0)
        .fetch_all(&self.read)
        .await?)
    }

    /// Subscribe to a name, or not (RFC 3501 §6.3.6: the name need not
    /// exist).
    pub async fn set_subscribed(&self, user: UserId, name: &str, on: bool) -> Result<()> {
        if on {
            db::query(
                "INSERT INTO folder_subscriptions (user_id, name) VALUES (?, ?) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(user.0)
            .bind(name)
            .execute(&self.read)
            .await?;
        } else {
            db::query("DELETE FROM folder_subscriptions WHERE user_id = ? AND name = ?")
                .bind(user.0)
                .bind(name)
                .execute(&self.read)
                .await?;
        }
        Ok(())
    }
}
