-- no-transaction
-- A draft's id is never given again (AUTOINCREMENT): a compose page still
-- open on a draft that was discarded, sent, or deleted by a mail app must
-- not save over a newer draft that took its id. SQLite cannot add
-- AUTOINCREMENT to a table: it is rebuilt (the 12-step procedure, as in
-- 20261130000006: foreign keys off around one transaction; the files'
-- references resolve to the new table by name; foreign keys checked).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE drafts_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    from_addr    TEXT    NOT NULL DEFAULT '',
    to_addrs     TEXT    NOT NULL DEFAULT '',
    cc_addrs     TEXT    NOT NULL DEFAULT '',
    bcc_addrs    TEXT    NOT NULL DEFAULT '',
    subject      TEXT    NOT NULL DEFAULT '',
    body         TEXT    NOT NULL DEFAULT '',
    -- the mailbox entry replied to or forwarded, and how
    ref_entry    INTEGER,
    mode         TEXT    NOT NULL DEFAULT 'new' CHECK (mode IN ('new', 'reply', 'replyall', 'forward')),
    updated_at   INTEGER NOT NULL,
    forward_done INTEGER NOT NULL DEFAULT 0,
    mirror       INTEGER REFERENCES mailbox(id) ON DELETE CASCADE,
    mirror_own   BOOLEAN NOT NULL DEFAULT FALSE,
    mirror_key   BLOB
);
INSERT INTO drafts_new (id, user_id, from_addr, to_addrs, cc_addrs, bcc_addrs, subject, body,
                        ref_entry, mode, updated_at, forward_done, mirror, mirror_own, mirror_key)
    SELECT id, user_id, from_addr, to_addrs, cc_addrs, bcc_addrs, subject, body,
           ref_entry, mode, updated_at, forward_done, mirror, mirror_own, mirror_key
    FROM drafts;
DROP TABLE drafts;
ALTER TABLE drafts_new RENAME TO drafts;
CREATE INDEX drafts_user ON drafts(user_id, updated_at);
CREATE UNIQUE INDEX drafts_mirror ON drafts(mirror);
COMMIT;
PRAGMA foreign_keys = ON;
