-- Passkeys and security keys (WebAuthn) as a second factor, beside TOTP.
-- passkey: webauthn-rs's credential (public key, algorithm, signature
-- counter) as JSON, rewritten when a login moves its counter on;
-- credential_id: the authenticator's id of it, unique across accounts.
CREATE TABLE passkeys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER REFERENCES users(id) ON DELETE CASCADE,
    admin_id      INTEGER REFERENCES admins(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    credential_id BLOB    NOT NULL UNIQUE,
    passkey       TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    CHECK ((user_id IS NULL) <> (admin_id IS NULL))
);
CREATE INDEX passkeys_user ON passkeys(user_id);
CREATE INDEX passkeys_admin ON passkeys(admin_id);

-- A passkey being registered: the ceremony's state (its challenge) until
-- the browser answers, one per account, five minutes.
CREATE TABLE passkey_registrations (
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    admin_id   INTEGER REFERENCES admins(id) ON DELETE CASCADE,
    state      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (admin_id IS NULL))
);
CREATE UNIQUE INDEX passkey_registrations_user ON passkey_registrations(user_id);
CREATE UNIQUE INDEX passkey_registrations_admin ON passkey_registrations(admin_id);

-- A login's second step by passkey: the assertion's state, kept on its
-- challenge so that any node checks the answer.
ALTER TABLE login_challenges ADD COLUMN passkey_state TEXT;
