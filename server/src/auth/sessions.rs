//! Sessions: made (a random id whose hash is stored, and a CSRF token),
//! looked up with the idle and absolute timeouts, touched at most once a
//! minute, ended, purged; for webmail users and administrators alike.

use super::{ms, token, Auth, Authed, NewSession, TOUCH_EVERY_MS};
use crate::store::accounts::SessionKind;
use crate::store::{StoreError, UserId};

impl Auth {
    /// The session cookie's name: the `__Host-` prefix (Secure, Path=/, no
    /// Domain, enforced by browsers) whenever the site is served over https.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-continuity"
        } else {
            "continuity"
        }
    }

    /// A new session (random id and CSRF token; only the id's hash is
    /// stored); returns the cookie value.
    pub(super) async fn create(
        &self,
        kind: SessionKind,
        owner: i64,
        ip: &str,
    ) -> Result<String, StoreError> {
        let cookie = token::random_token();
        let csrf = token::random_token();
        self.store
            .insert_session(
                kind,
                &token::sha256(cookie.as_bytes()),
                owner,
                &csrf,
                self.clock.now() + ms(self.session_lifetime),
                Some(ip),
            )
            .await?;
        Ok(cookie)
    }

    /// The live session a cookie names, if any: idle and absolute timeouts
    /// applied (an expired one is deleted), last use recorded at most once
    /// a minute.
    async fn lookup(&self, kind: SessionKind, cookie: &str) -> Option<Authed> {
        if cookie.is_empty() || cookie.len() > 100 {
            return None;
        }
        let id = token::sha256(cookie.as_bytes());
        let row = match self.store.session(kind, &id).await {
            Ok(r) => r?,
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                return None;
            }
        };
        let now = self.clock.now();
        if now >= row.expires_at || now - row.last_seen >= ms(self.session_idle) {
            let _ = self.store.delete_session(kind, &id).await;
            return None;
        }
        if now - row.last_seen >= TOUCH_EVERY_MS {
            let _ = self.store.touch_session(kind, &id, now).await;
        }
        Some(Authed {
            user: row.user,
            csrf: row.csrf,
        })
    }

    /// A mail user's live session.
    pub async fn session(&self, cookie: &str) -> Option<Authed> {
        self.lookup(SessionKind::User, cookie).await
    }

    pub async fn logout(&self, cookie: &str) {
        let _ = self
            .store
            .delete_session(SessionKind::User, &token::sha256(cookie.as_bytes()))
            .await;
    }

    /// Drop expired sessions (run periodically).
    pub async fn purge_sessions(&self) {
        if let Err(e) = self.store.purge_challenges(self.clock.now()).await {
            tracing::warn!(error = %e, "login challenge purge failed");
        }
        match self
            .store
            .purge_sessions(self.clock.now(), ms(self.session_idle))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(sessions = n, "expired sessions removed"),
            Err(e) => tracing::warn!(error = %e, "session purge failed"),
        }
    }

    /// A session for a user without a password check (used right after a
    /// password change, which ended every older session).
    pub async fn start_session(&self, user: UserId, ip: &str) -> Result<NewSession, StoreError> {
        let cookie = self.create(SessionKind::User, user.0, ip).await?;
        Ok(NewSession {
            cookie,
            user,
            admin: false,
        })
    }

    /// The administrator session's cookie name.
    pub fn admin_cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-continuity-admin"
        } else {
            "continuity-admin"
        }
    }

    /// An administrator's live session (same rules as users'); `user` in
    /// the answer is the admin id.
    pub async fn admin_session(&self, cookie: &str) -> Option<Authed> {
        self.lookup(SessionKind::Admin, cookie).await
    }

    pub async fn admin_logout(&self, cookie: &str) {
        let _ = self
            .store
            .delete_session(SessionKind::Admin, &token::sha256(cookie.as_bytes()))
            .await;
    }
}
