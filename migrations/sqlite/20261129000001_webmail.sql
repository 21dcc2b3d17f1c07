-- The webmail: credentials, sessions, single-use password links, each user's
-- mailbox (one model for the webmail and, later, IMAP) and full-text search.

-- argon2id PHC string of the password the user logs in with here: a local
-- user's password, or an LDAP-synced user's emergency password.
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN password_set_at INTEGER;

-- The domain's continuity state (driven by the monitor): the webmail shows a
-- banner while it is not 'normal', and marks mail received meanwhile.
ALTER TABLE domains ADD COLUMN state TEXT NOT NULL DEFAULT 'normal'
    CHECK (state IN ('normal', 'outage', 'recovering', 'drill'));
ALTER TABLE domains ADD COLUMN state_since INTEGER;

-- Secrets the server generates once (e.g. the key that signs password links).
CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- Server-side sessions. Only the SHA-256 of the cookie value is stored, so a
-- copy of the database does not let anyone log in.
CREATE TABLE sessions (
    id_hash    BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,   -- absolute timeout
    client_ip  TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- Single-use links that let a user set their (emergency) password. The link
-- carries the id, a random secret (only its SHA-256 is kept) and an HMAC.
CREATE TABLE password_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_hash BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX password_tokens_user ON password_tokens(user_id);

-- A user's mailbox: one row per (user, message, folder). The id is the IMAP
-- UID (strictly ascending). Deleting a row here never touches deliveries.
CREATE TABLE mailbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    message_id    INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    folder        TEXT    NOT NULL DEFAULT 'inbox' CHECK (folder IN ('inbox', 'sent')),
    received_at   INTEGER NOT NULL,
    seen          INTEGER NOT NULL DEFAULT 0,
    during_outage INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, message_id, folder)
);
CREATE INDEX mailbox_list ON mailbox(user_id, folder, received_at DESC, id DESC);
CREATE INDEX mailbox_message ON mailbox(message_id);
-- searches across folders (dates, attachments) list by time without a sort
CREATE INDEX mailbox_by_time ON mailbox(user_id, received_at DESC, id DESC);

-- Mail already archived before this migration.
INSERT OR IGNORE INTO mailbox (user_id, message_id, folder, received_at)
    SELECT d.user_id, d.message_id, 'inbox', m.received_at
    FROM deliveries d JOIN messages m ON m.id = d.message_id
    WHERE d.user_id IS NOT NULL;

-- Full-text index over each message (rowid = messages.id), kept in step by
-- the writer in the same transaction as the message.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    sender, recipients, subject, body,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (rowid, sender, recipients, subject, body)
    SELECT id, header_from, header_to, subject, '' FROM messages;
