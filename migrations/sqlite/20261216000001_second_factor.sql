-- A second factor for webmail users and Control Panel administrators.
-- Each row belongs to exactly one user or one administrator (two columns,
-- so that deleting either takes its rows along).
--
-- second_factors: a TOTP secret (RFC 6238). confirmed_at NULL while the
-- owner is still enrolling (the QR code shown, no code typed yet);
-- last_step: the newest time step a code was accepted for, so that a code
-- is never accepted twice.
CREATE TABLE second_factors (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER REFERENCES users(id) ON DELETE CASCADE,
    admin_id     INTEGER REFERENCES admins(id) ON DELETE CASCADE,
    totp_secret  BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_step    INTEGER NOT NULL DEFAULT 0,
    CHECK ((user_id IS NULL) <> (admin_id IS NULL))
);
CREATE UNIQUE INDEX second_factors_user ON second_factors(user_id);
CREATE UNIQUE INDEX second_factors_admin ON second_factors(admin_id);

-- Recovery codes: shown once, kept as SHA-256 (each is 60 random bits),
-- each good for one login.
CREATE TABLE recovery_codes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id   INTEGER REFERENCES users(id) ON DELETE CASCADE,
    admin_id  INTEGER REFERENCES admins(id) ON DELETE CASCADE,
    code_hash BLOB    NOT NULL,
    used_at   INTEGER,
    CHECK ((user_id IS NULL) <> (admin_id IS NULL))
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);
CREATE INDEX recovery_codes_admin ON recovery_codes(admin_id);

-- A login half done: the password was right, the second factor is asked
-- for. Found by the hash of a short-lived cookie; a few wrong codes and
-- it is gone (the password must be typed again).
CREATE TABLE login_challenges (
    id_hash    BLOB    PRIMARY KEY,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    admin_id   INTEGER REFERENCES admins(id) ON DELETE CASCADE,
    client_ip  TEXT,
    expires_at INTEGER NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0,
    CHECK ((user_id IS NULL) <> (admin_id IS NULL))
);

-- App passwords: per device, for IMAP and submission, once the account
-- has a second factor (its own password then no longer opens them).
-- Random (80 bits), kept as SHA-256; shown once; revoked by deleting.
CREATE TABLE app_passwords (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    secret_hash    BLOB    NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    last_used_ip   TEXT,
    last_used_with TEXT
);
CREATE INDEX app_passwords_user ON app_passwords(user_id);
