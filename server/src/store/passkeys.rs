//! Passkeys' rows: each account's registered passkeys and security keys
//! (webauthn-rs's credential as JSON), a registration under way (one per
//! account), and a login's assertion state on its challenge. The
//! ceremonies and their checks are in [`crate::auth::passkeys`].

use super::second_factor::{q, replace_codes, Owner};
use super::{db, now_ms, Result, Store};

/// A registered passkey.
#[derive(Debug, Clone)]
pub struct PasskeyRow {
    pub id: i64,
    pub name: String,
    pub credential_id: Vec<u8>,
    /// webauthn-rs's `Passkey`, JSON.
    pub passkey: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl Store {
    /// The owner's passkeys, oldest first.
    pub async fn passkeys(&self, owner: Owner) -> Result<Vec<PasskeyRow>> {
        let rows = db::query(q(format!(
            "SELECT id, name, credential_id, passkey, created_at, last_used_at FROM passkeys \
             WHERE {} = ? ORDER BY id",
            owner.column()
        )))
        .bind(owner.id())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PasskeyRow {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    credential_id: r.try_get(2)?,
                    passkey: r.try_get(3)?,
                    created_at: r.try_get(4)?,
                    last_used_at: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Keep a registration's state until `expires_at`, in place of any
    /// earlier one of the owner's.
    pub async fn begin_passkey_registration(
        &self,
        owner: Owner,
        state: &str,
        expires_at: i64,
    ) -> Result<()> {
        let mut tx = self.read.begin().await?;
        db::query(q(format!(
            "DELETE FROM passkey_registrations WHERE {} = ?",
            owner.column()
        )))
        .bind(owner.id())
        .execute(&mut tx)
        .await?;
        db::query(q(format!(
            "INSERT INTO passkey_registrations ({}, state, expires_at) VALUES (?, ?, ?)",
            owner.column()
        )))
        .bind(owner.id())
        .bind(state)
        .bind(expires_at)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Take the owner's registration under way (it is gone after this:
    /// one answer per ceremony), unless expired at `now`.
    pub async fn take_passkey_registration(
        &self,
        owner: Owner,
        now: i64,
    ) -> Result<Option<String>> {
        let row = db::query(q(format!(
            "DELETE FROM passkey_registrations WHERE {} = ? RETURNING state, expires_at",
            owner.column()
        )))
        .bind(owner.id())
        .fetch_optional(&self.read)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let expires_at: i64 = r.try_get(1)?;
        Ok((expires_at > now).then(|| r.try_get(0)).transpose()?)
    }

    /// Keep a new passkey; with `codes`, the owner's first factor, whose
    /// recovery codes are kept in the same transaction. False when the
    /// credential is registered already (to anyone).
    pub async fn insert_passkey(
        &self,
        owner: Owner,
        name: &str,
        credential_id: &[u8],
        passkey: &str,
        codes: Option<&[Vec<u8>]>,
    ) -> Result<bool> {
        let mut tx = self.read.begin().await?;
        let n = db::query(q(format!(
            "INSERT INTO passkeys ({}, name, credential_id, passkey, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (credential_id) DO NOTHING",
            owner.column()
        )))
        .bind(owner.id())
        .bind(name)
        .bind(credential_id)
        .bind(passkey)
        .bind(now_ms())
        .execute(&mut tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        if let Some(codes) = codes {
            replace_codes(&mut tx, owner, codes).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A login used the passkey: its credential as it is now (a moved
    /// counter) and when.
    pub async fn passkey_used(&self, id: i64, passkey: &str) -> Result<()> {
        db::query("UPDATE passkeys SET passkey = ?, last_used_at = ? WHERE id = ?")
            .bind(passkey)
            .bind(now_ms())
            .bind(id)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    /// Remove one of the owner's passkeys while another factor remains
    /// (the last one goes only with the whole second factor, which takes
    /// the password: [`Store::remove_second_factor`]). `None` when it was
    /// not the owner's, `Some(false)` when it is the last factor.
    pub async fn delete_passkey(&self, owner: Owner, id: i64) -> Result<Option<bool>> {
        let c = owner.column();
        let mut tx = self.read.begin().await?;
        let others = db::query(q(format!(
            "SELECT (SELECT count(*) FROM passkeys WHERE {c} = ? AND id <> ?) \
             + (SELECT count(*) FROM second_factors WHERE {c} = ? AND confirmed_at IS NOT NULL), \
             EXISTS (SELECT 1 FROM passkeys WHERE {c} = ? AND id = ?)"
        )))
        .bind(owner.id())
        .bind(id)
        .bind(owner.id())
        .bind(owner.id())
        .bind(id)
        .fetch_one(&mut tx)
        .await?;
        let (others, mine): (i64, bool) = (others.try_get(0)?, others.try_get(1)?);
        if !mine {
            return Ok(None);
        }
        if others == 0 {
            return Ok(Some(false));
        }
        db::query(q(format!("DELETE FROM passkeys WHERE {c} = ? AND id = ?")))
            .bind(owner.id())
            .bind(id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Some(true))
    }

    /// Remove the owner's authenticator app while a passkey remains (the
    /// last factor goes only with the password). `Some(false)`: no passkey
    /// would remain; `None`: no app to remove.
    pub async fn remove_totp_keeping_passkeys(&self, owner: Owner) -> Result<Option<bool>> {
        let c = owner.column();
        let mut tx = self.read.begin().await?;
        let r = db::query(q(format!(
            "SELECT EXISTS (SELECT 1 FROM second_factors WHERE {c} = ? AND confirmed_at IS NOT NULL), \
             EXISTS (SELECT 1 FROM passkeys WHERE {c} = ?)"
        )))
        .bind(owner.id())
        .bind(owner.id())
        .fetch_one(&mut tx)
        .await?;
        let (app, passkeys): (bool, bool) = (r.try_get(0)?, r.try_get(1)?);
        if !app {
            return Ok(None);
        }
        if !passkeys {
            return Ok(Some(false));
        }
        db::query(q(format!("DELETE FROM second_factors WHERE {c} = ?")))
            .bind(owner.id())
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Some(true))
    }

    /// Keep a passkey assertion's state on a login's challenge.
    pub async fn set_challenge_passkey(&self, id_hash: &[u8], state: &str) -> Result<bool> {
        let n = db::query("UPDATE login_challenges SET passkey_state = ? WHERE id_hash = ?")
            .bind(state)
            .bind(id_hash)
            .execute(&self.read)
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}
