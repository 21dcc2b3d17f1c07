-- A mailbox costs what is shown, not what it holds: each folder's counts
-- are kept as its rows change, and every change gets a modification
-- sequence (RFC 7162), so a session learns what changed since it last
-- looked without reading the whole folder. Triggers keep them, whichever
-- code path (ingest, the webmail, IMAP, the trash, retention, a user
-- deleted) touches the rows.

-- (no foreign keys: a user's rows removed with the user would add
-- vanished rows for a user no longer there; the purge prunes old ones)

-- per (user, folder): how many, how many unseen and \Deleted, and the
-- highest modification sequence given in it so far
CREATE TABLE mailbox_counts (
    user_id INTEGER NOT NULL,
    folder  TEXT    NOT NULL,
    total   INTEGER NOT NULL DEFAULT 0,
    unseen  INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    modseq  INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (user_id, folder)
) WITHOUT ROWID;

-- the modification sequence of the row's last change (its arrival, a flag)
ALTER TABLE mailbox ADD COLUMN modseq INTEGER NOT NULL DEFAULT 1;
CREATE INDEX mailbox_modseq ON mailbox(user_id, folder, modseq);

-- rows removed (expunged, moved away, purged), with the modification
-- sequence of their removal: what other sessions learn as EXPUNGE/VANISHED
CREATE TABLE mailbox_vanished (
    user_id INTEGER NOT NULL,
    folder  TEXT    NOT NULL,
    modseq  INTEGER NOT NULL,
    uid     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (user_id, folder, modseq, uid)
) WITHOUT ROWID;
CREATE INDEX mailbox_vanished_at ON mailbox_vanished(at);

INSERT INTO mailbox_counts (user_id, folder, total, unseen, deleted, modseq)
    SELECT user_id, folder, COUNT(*), SUM(seen = 0), SUM(deleted = 1), 1
    FROM mailbox GROUP BY user_id, folder;

CREATE TRIGGER mailbox_counted_in AFTER INSERT ON mailbox
BEGIN
    INSERT OR IGNORE INTO mailbox_counts (user_id, folder) VALUES (NEW.user_id, NEW.folder);
    UPDATE mailbox_counts
        SET total = total + 1, unseen = unseen + (NEW.seen = 0),
            deleted = deleted + (NEW.deleted = 1), modseq = modseq + 1
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

-- a row never changes folder or owner (a move is a new row: a new UID)
CREATE TRIGGER mailbox_stays_put BEFORE UPDATE OF user_id, folder ON mailbox
WHEN OLD.user_id IS NOT NEW.user_id OR OLD.folder IS NOT NEW.folder
BEGIN
    SELECT RAISE(ABORT, 'a mailbox row never changes folder or owner: move it as a new row');
END;

-- IMAP SEARCH FROM / TO / SUBJECT look for a substring (RFC 3501): a
-- trigram index over those header columns finds the messages holding it
-- without reading every message (the text itself stays in messages: an
-- external-content table). Kept by triggers whatever path writes mail.
CREATE VIRTUAL TABLE messages_hdr USING fts5(
    header_from, header_to, subject,
    content = 'messages', content_rowid = 'id',
    tokenize = 'trigram'
);
INSERT INTO messages_hdr (messages_hdr) VALUES ('rebuild');

CREATE TRIGGER messages_hdr_in AFTER INSERT ON messages
BEGIN
    INSERT INTO messages_hdr (rowid, header_from, header_to, subject)
        VALUES (NEW.id, NEW.header_from, NEW.header_to, NEW.subject);
END;

CREATE TRIGGER messages_hdr_out AFTER DELETE ON messages
BEGIN
    INSERT INTO messages_hdr (messages_hdr, rowid, header_from, header_to, subject)
        VALUES ('delete', OLD.id, OLD.header_from, OLD.header_to, OLD.subject);
END;

CREATE TRIGGER messages_hdr_changed AFTER UPDATE OF header_from, header_to, subject ON messages
BEGIN
    INSERT INTO messages_hdr (messages_hdr, rowid, header_from, header_to, subject)
        VALUES ('delete', OLD.id, OLD.header_from, OLD.header_to, OLD.subject);
    INSERT INTO messages_hdr (rowid, header_from, header_to, subject)
        VALUES (NEW.id, NEW.header_from, NEW.header_to, NEW.subject);
END;

-- Removals are remembered for a while (see the purge); a session or a
-- snapshot older than what was forgotten reads the folder afresh.
ALTER TABLE mailbox_counts ADD COLUMN vanished_floor INTEGER NOT NULL DEFAULT 0;

-- A folder's IMAP view as it stood at a modification sequence, packed
-- (UID, flags, size, times, message): SELECT reads it and the changes
-- made since, instead of every row of the folder — Dovecot's index file
-- and its log, in the database so every node shares them.
CREATE TABLE folder_snapshots (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    folder  TEXT    NOT NULL,
    modseq  INTEGER NOT NULL,
    entries BLOB    NOT NULL,
    PRIMARY KEY (user_id, folder)
);

-- EXPUNGE finds the rows marked \Deleted without walking the folder
CREATE INDEX mailbox_deleted ON mailbox(user_id, folder) WHERE deleted = 1;
