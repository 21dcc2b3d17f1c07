-- Trash: a third folder, the same in the webmail and over IMAP (\Trash).
-- A message moved there gets a new row (a new UID, as IMAP requires) that
-- remembers the folder it came from, to be restored there. Emptying the
-- trash removes mailbox rows only: the archive and deliveries are untouched.
--
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt
-- with the same rows and ids. No table references mailbox(id). The UID
-- sequence is carried over, so an expunged UID never comes back.
CREATE TABLE mailbox_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    message_id    INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    folder        TEXT    NOT NULL DEFAULT 'inbox' CHECK (folder IN ('inbox', 'sent', 'trash')),
    received_at   INTEGER NOT NULL,
    seen          INTEGER NOT NULL DEFAULT 0,
    during_outage INTEGER NOT NULL DEFAULT 0,
    flagged       INTEGER NOT NULL DEFAULT 0,
    answered      INTEGER NOT NULL DEFAULT 0,
    deleted       INTEGER NOT NULL DEFAULT 0,
    draft         INTEGER NOT NULL DEFAULT 0,
    -- in the trash: where it was ('inbox' or 'sent')
    trashed_from  TEXT    CHECK (trashed_from IN ('inbox', 'sent')),
    UNIQUE (user_id, message_id, folder)
);
INSERT INTO mailbox_new (id, user_id, message_id, folder, received_at, seen, during_outage,
                         flagged, answered, deleted, draft)
    SELECT id, user_id, message_id, folder, received_at, seen, during_outage,
           flagged, answered, deleted, draft
    FROM mailbox;
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'mailbox_new', 0
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'mailbox_new');
UPDATE sqlite_sequence
    SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'mailbox'), 0))
    WHERE name = 'mailbox_new';
DROP TABLE mailbox;
ALTER TABLE mailbox_new RENAME TO mailbox;
CREATE INDEX mailbox_list ON mailbox(user_id, folder, received_at DESC, id DESC);
CREATE INDEX mailbox_message ON mailbox(message_id);
CREATE INDEX mailbox_by_time ON mailbox(user_id, received_at DESC, id DESC);
CREATE INDEX mailbox_uids ON mailbox(user_id, folder, id);

-- Who sent a message through us (webmail, submission), kept on the message
-- itself: the hourly sending limit counts these, so deleting sent mail from
-- Sent or the trash (or expunging it over IMAP) never frees the quota.
ALTER TABLE messages ADD COLUMN sent_by INTEGER REFERENCES users(id) ON DELETE SET NULL;
UPDATE messages SET sent_by = (
        SELECT mb.user_id FROM mailbox mb
        WHERE mb.message_id = messages.id AND mb.folder = 'sent' LIMIT 1)
    WHERE origin IN ('webmail', 'submission');
CREATE INDEX messages_sent_by ON messages(sent_by, received_at) WHERE sent_by IS NOT NULL;
