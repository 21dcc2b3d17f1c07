-- IMAP keywords ($Forwarded, $Junk, a mail app's tags) and \Recent.
--
-- A user's keywords are named once (case-insensitively, the first spelling
-- kept) and each is a bit of mailbox.keywords: at most 64 per user. Names
-- are never reused for another bit, so a session's table of names only
-- grows.
ALTER TABLE mailbox ADD COLUMN keywords INTEGER NOT NULL DEFAULT 0;
CREATE TABLE user_keywords (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    bit     INTEGER NOT NULL CHECK (bit BETWEEN 0 AND 63),
    name    TEXT    NOT NULL,
    -- the name in ASCII lower case: keywords compare case-insensitively
    folded  TEXT    NOT NULL,
    PRIMARY KEY (user_id, bit),
    UNIQUE (user_id, folded)
);

-- RFC 3501 \Recent: the UIDs of a folder at or below recent_uid have been
-- shown to a read-write session; the ones above are recent to the next
-- session that selects the folder (or notices them while selected). What
-- is there today is not recent.
ALTER TABLE mailbox_counts ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0;
UPDATE mailbox_counts SET recent_uid = uid_high;

-- a keyword change is a flag change: the row takes a new modification
-- sequence
DROP TRIGGER mailbox_counted_flags;
CREATE TRIGGER mailbox_counted_flags AFTER UPDATE OF seen, answered, flagged, deleted, draft, keywords ON mailbox
WHEN OLD.seen IS NOT NEW.seen OR OLD.answered IS NOT NEW.answered
  OR OLD.flagged IS NOT NEW.flagged OR OLD.deleted IS NOT NEW.deleted OR OLD.draft IS NOT NEW.draft
  OR OLD.keywords IS NOT NEW.keywords
BEGIN
    UPDATE mailbox_counts
        SET unseen = unseen + (NEW.seen = 0) - (OLD.seen = 0),
            deleted = deleted + (NEW.deleted = 1) - (OLD.deleted = 1), modseq = modseq + 1
        WHERE user_id = NEW.user_id AND folder = NEW.folder;
    UPDATE mailbox SET modseq = (SELECT modseq FROM mailbox_counts
                                 WHERE user_id = NEW.user_id AND folder = NEW.folder)
        WHERE id = NEW.id;
END;
