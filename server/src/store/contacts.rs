//! Where users can be reached when their mail is down: each user's
//! contact points (an alternate address, a mobile) with who set them, the
//! proofs waiting for a user's own entries, and the language a user last
//! used (their notices are written in it). The notices themselves are in
//! [`super::notices`].

use super::{db, now_ms, Result, Store, UserId};

/// Who set a contact point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSource {
    /// The user, in Settings: counts once proved.
    User,
    /// An administrator (CLI, Control Panel): counts at once.
    Admin,
    /// The company directory's attribute: counts at once.
    Directory,
}

impl ContactSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactSource::User => "user",
            ContactSource::Admin => "admin",
            ContactSource::Directory => "directory",
        }
    }
}

/// A way to reach a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
    pub(super) fn column(self) -> &'static str {
        match self {
            Channel::Email => "alt_email",
            Channel::Sms => "mobile",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            _ => None,
        }
    }
}

/// One contact point as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactPoint {
    pub value: String,
    pub source: String,
    /// It counts: proved by the user, or set by an administrator or the
    /// directory.
    pub verified: bool,
}

/// A user's contact points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contacts {
    pub alt_email: Option<ContactPoint>,
    pub mobile: Option<ContactPoint>,
}

impl Contacts {
    pub fn get(&self, channel: Channel) -> Option<&ContactPoint> {
        match channel {
            Channel::Email => self.alt_email.as_ref(),
            Channel::Sms => self.mobile.as_ref(),
        }
    }
}

/// A proof waiting: a link's or a code's hash.
#[derive(Debug, Clone)]
pub struct ContactCheck {
    pub value: String,
    pub secret_hash: Vec<u8>,
    pub expires_at: i64,
    pub tries: i64,
}

pub(super) fn point(
    value: Option<String>,
    source: Option<String>,
    verified: Option<i64>,
) -> Option<ContactPoint> {
    value.map(|value| ContactPoint {
        value,
        source: source.unwrap_or_default(),
        verified: verified.is_some(),
    })
}

impl Store {
    pub async fn contact_points(&self, user: UserId) -> Result<Contacts> {
        let row = db::query(
            "SELECT alt_email, alt_email_source, alt_email_verified, mobile, mobile_source, \
             mobile_verified FROM user_contacts WHERE user_id = ?",
        )
        .bind(user.0)
        .fetch_optional(&self.read)
        .await?;
        let Some(r) = row else {
            return Ok(Contacts::default());
        };
        Ok(Contacts {
            alt_email: point(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?),
            mobile: point(r.try_get(3)?, r.try_get(4)?, r.try_get(5)?),
        })
    }

    /// Set (or with `None` remove) one contact point; counted at once
    /// unless the user set it. A proof waiting for the old value goes.
    pub async fn set_contact(
        &self,
        user: UserId,
        channel: Channel,
        value: Option<&str>,
        source: ContactSource,
    ) -> Result<()> {
        let now = now_ms();
        let verified = (source != ContactSource::User && value.is_some()).then_some(now);
        let col = channel.column();
        let mut tx = self.read.begin().await?;
        db::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO user_contacts (user_id, {col}, {col}_source, {col}_verified, updated_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET {col} = excluded.{col}, \
             {col}_source = excluded.{col}_source, {col}_verified = excluded.{col}_verified, \
             updated_at = excluded.updated_at"
        )))
        .bind(user.0)
        .bind(value)
        .bind(value.map(|_| source.as_str()))
        .bind(verified)
        .bind(now)
        .execute(&mut tx)
        .await?;
        db::query("DELETE FROM contact_checks WHERE user_id = ? AND channel = ?")
            .bind(user.0)
            .bind(channel.as_str())
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user proved `value`: it counts, if it is still their entry.
    pub async fn verify_contact(
        &self,
        user: UserId,
        channel: Channel,
        value: &str,
    ) -> Result<bool> {
        let col = channel.column();
        let mut tx = self.read.begin().await?;
        let n = db::query(sqlx::AssertSqlSafe(format!(
            "UPDATE user_contacts SET {col}_verified = ?, updated_at = ? \
             WHERE user_id = ? AND {col} = ?"
        )))
        .bind(now_ms())
        .bind(now_ms())
        .bind(user.0)
        .bind(value)
        .execute(&mut tx)
        .await?
        .rows_affected();
        db::query("DELETE FROM contact_checks WHERE user_id = ? AND channel = ?")
            .bind(user.0)
            .bind(channel.as_str())
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn put_contact_check(
        &self,
        user: UserId,
        channel: Channel,
        value: &str,
        secret_hash: &[u8],
        expires_at: i64,
    ) -> Result<()> {
        db::query(
            "INSERT INTO contact_checks (user_id, channel, value, secret_hash, expires_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, channel) DO UPDATE SET \
             value = excluded.value, secret_hash = excluded.secret_hash, \
             expires_at = excluded.expires_at, tries = 0",
        )
        .bind(user.0)
        .bind(channel.as_str())
        .bind(value)
        .bind(secret_hash)
        .bind(expires_at)
        .execute(&self.read)
        .await?;
        Ok(())
    }

    /// The proof waiting for a user's entry, its tries counted up first.
    pub async fn contact_check(
        &self,
        user: UserId,
        channel: Channel,
    ) -> Result<Option<ContactCheck>> {
        let row = db::query(
            "UPDATE contact_checks SET tries = tries + 1 WHERE user_id = ? AND channel = ? \
             RETURNING value, secret_hash, expires_at, tries",
        )
        .bind(user.0)
        .bind(channel.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(ContactCheck {
                value: r.try_get(0)?,
                secret_hash: r.try_get(1)?,
                expires_at: r.try_get(2)?,
                tries: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// Whether a proof is waiting (not counting a try).
    pub async fn contact_check_waiting(&self, user: UserId, channel: Channel) -> Result<bool> {
        let n: i64 = db::query_scalar(
            "SELECT count(*) FROM contact_checks WHERE user_id = ? AND channel = ? \
             AND expires_at > ?",
        )
        .bind(user.0)
        .bind(channel.as_str())
        .bind(now_ms())
        .fetch_one(&self.read)
        .await?;
        Ok(n > 0)
    }

    /// The language the user last used in the webmail.
    pub async fn set_user_lang(&self, user: UserId, lang: &str) -> Result<()> {
        db::query("UPDATE users SET lang = ? WHERE id = ? AND (lang IS NULL OR lang <> ?)")
            .bind(lang)
            .bind(user.0)
            .bind(lang)
            .execute(&self.read)
            .await?;
        Ok(())
    }
}
