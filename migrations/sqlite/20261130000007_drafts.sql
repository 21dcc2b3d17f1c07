-- Drafts: what a user is writing in the webmail, kept when they save it or
-- when sending is refused (so nothing typed is lost), deleted once sent.
CREATE TABLE drafts (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    from_addr  TEXT    NOT NULL DEFAULT '',
    to_addrs   TEXT    NOT NULL DEFAULT '',
    cc_addrs   TEXT    NOT NULL DEFAULT '',
    bcc_addrs  TEXT    NOT NULL DEFAULT '',
    subject    TEXT    NOT NULL DEFAULT '',
    body       TEXT    NOT NULL DEFAULT '',
    -- the mailbox entry replied to or forwarded, and how
    ref_entry  INTEGER,
    mode       TEXT    NOT NULL DEFAULT 'new' CHECK (mode IN ('new', 'reply', 'replyall', 'forward')),
    updated_at INTEGER NOT NULL
);
CREATE INDEX drafts_user ON drafts(user_id, updated_at);
