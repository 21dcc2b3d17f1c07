-- Folders of the user's making (IMAP CREATE, the webmail), beside INBOX,
-- Sent and Trash: a user's view of the continuity mailbox only. Moving or
-- deleting in them never changes what is delivered to the primary, and
-- the archive keeps every message as before.
--
-- A folder's mailbox rows carry the key 'f<id>' in mailbox.folder, so a
-- RENAME touches the folders row only (the messages, their UIDs and the
-- UIDVALIDITY stay, as in Dovecot), and a folder deleted and created again
-- is a new key with a new UIDVALIDITY.
CREATE TABLE folders (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- the whole path, '/' between levels, in UTF-8
    name         TEXT    NOT NULL,
    -- RFC 6154: the folder mail apps use for drafts, junk or archive
    special_use  TEXT    CHECK (special_use IN ('drafts', 'junk', 'archive')),
    uid_validity INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (user_id, name)
);
CREATE UNIQUE INDEX folders_special ON folders(user_id, special_use) WHERE special_use IS NOT NULL;

-- IMAP SUBSCRIBE: names, which need not exist (RFC 3501 §6.3.6)
CREATE TABLE folder_subscriptions (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name    TEXT    NOT NULL,
    PRIMARY KEY (user_id, name)
);

-- mailbox.folder and trashed_from may now name a user's folder. SQLite
-- cannot change a CHECK constraint in place: the table is rebuilt with the
-- same rows, ids and modification sequences (the counts are kept as they
-- are: no trigger runs while rows are copied), and the UID sequence is
-- carried over, so an expunged UID never comes back.
CREATE TABLE mailbox_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    message_id    INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    folder        TEXT    NOT NULL DEFAULT 'inbox'
                  CHECK (folder IN ('inbox', 'sent', 'trash') OR (folder GLOB 'f[1-9]*' AND substr(folder, 2) NOT GLOB '*[^0-9]*')),
    received_at   INTEGER NOT NULL,
    seen          INTEGER NOT NULL DEFAULT 0,
    during_outage INTEGER NOT NULL DEFAULT 0,
    flagged       INTEGER NOT NULL DEFAULT 0,
    answered      INTEGER NOT NULL DEFAULT 0,
    deleted       INTEGER NOT NULL DEFAULT 0,
    draft         INTEGER NOT NULL DEFAULT 0,
    -- in the trash: where it was ('inbox', 'sent' or a user's folder)
    trashed_from  TEXT    CHECK (trashed_from IN ('inbox', 'sent') OR (trashed_from GLOB 'f[1-9]*' AND substr(trashed_from, 2) NOT GLOB '*[^0-9]*')),
    modseq        INTEGER NOT NULL DEFAULT 1,
    UNIQUE (user_id, message_id, folder)
);
INSERT INTO mailbox_new (id, user_id, message_id, folder, received_at, seen, during_outage,
                         flagged, answered, deleted, draft, trashed_from, modseq)
    SELECT id, user_id, message_id, folder, received_at, seen, during_outage,
           flagged, answered, deleted, draft, trashed_from, modseq
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
CREATE INDEX mailbox_modseq ON mailbox(user_id, folder, modseq);
CREATE INDEX mailbox_deleted ON mailbox(user_id, folder) WHERE deleted = TRUE;

-- UIDNEXT per folder (RFC 3501 §2.3.1.1: it changes only when mail is
-- added to that folder): the highest UID ever given in it, as the
-- PostgreSQL schema keeps it. UIDs stay one sequence for all folders.
ALTER TABLE mailbox_counts ADD COLUMN uid_high INTEGER NOT NULL DEFAULT 0;
UPDATE mailbox_counts SET uid_high = MAX(
    COALESCE((SELECT MAX(m.id) FROM mailbox m
              WHERE m.user_id = mailbox_counts.user_id AND m.folder = mailbox_counts.folder), 0),
    COALESCE((SELECT MAX(v.uid) FROM mailbox_vanished v
              WHERE v.user_id = mailbox_counts.user_id AND v.folder = mailbox_counts.folder), 0));

CREATE TRIGGER mailbox_counted_in AFTER INSERT ON mailbox
BEGIN
    INSERT OR IGNORE INTO mailbox_counts (user_id, folder) VALUES (NEW.user_id, NEW.folder);
    UPDATE mailbox_counts
        SET total = total + 1, unseen = unseen + (NEW.seen = 0),
            deleted = deleted + (NEW.deleted = 1), modseq = modseq + 1,
            uid_high = MAX(uid_high, NEW.id)
        WHERE user_id = NEW.user_id AND folder = NEW.folder;
    UPDATE mailbox SET modseq = (SELECT modseq FROM mailbox_counts
                                 WHERE user_id = NEW.user_id AND folder = NEW.folder)
        WHERE id = NEW.id;
END;

CREATE TRIGGER mailbox_counted_flags AFTER UPDATE OF seen, answered, flagged, deleted, draft ON mailbox
WHEN OLD.seen IS NOT NEW.seen OR OLD.answered IS NOT NEW.answered
  OR OLD.flagged IS NOT NEW.flagged OR OLD.deleted IS NOT NEW.deleted OR OLD.draft IS NOT NEW.draft
BEGIN
    UPDATE mailbox_counts
        SET unseen = unseen + (NEW.seen = 0) - (OLD.seen = 0),
            deleted = deleted + (NEW.deleted = 1) - (OLD.deleted = 1), modseq = modseq + 1
        WHERE user_id = NEW.user_id AND folder = NEW.folder;
    UPDATE mailbox SET modseq = (SELECT modseq FROM mailbox_counts
                                 WHERE user_id = NEW.user_id AND folder = NEW.folder)
        WHERE id = NEW.id;
END;

CREATE TRIGGER mailbox_counted_out AFTER DELETE ON mailbox
BEGIN
    UPDATE mailbox_counts
        SET total = total - 1, unseen = unseen - (OLD.seen = 0),
            deleted = deleted - (OLD.deleted = 1), modseq = modseq + 1
        WHERE user_id = OLD.user_id AND folder = OLD.folder;
    INSERT OR IGNORE INTO mailbox_vanished (user_id, folder, modseq, uid, at)
        SELECT OLD.user_id, OLD.folder, modseq, OLD.id, CAST(unixepoch('subsec') * 1000 AS INTEGER)
        FROM mailbox_counts WHERE user_id = OLD.user_id AND folder = OLD.folder;
END;

CREATE TRIGGER mailbox_stays_put BEFORE UPDATE OF user_id, folder ON mailbox
WHEN OLD.user_id IS NOT NEW.user_id OR OLD.folder IS NOT NEW.folder
BEGIN
    SELECT RAISE(ABORT, 'a mailbox row never changes folder or owner: move it as a new row');
END;
