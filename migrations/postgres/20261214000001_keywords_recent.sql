-- IMAP keywords and \Recent (see the SQLite migration of the same name).
ALTER TABLE mailbox ADD COLUMN keywords BIGINT NOT NULL DEFAULT 0;
CREATE TABLE user_keywords (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    bit     BIGINT NOT NULL CHECK (bit BETWEEN 0 AND 63),
    name    TEXT   NOT NULL,
    folded  TEXT   NOT NULL,
    PRIMARY KEY (user_id, bit),
    UNIQUE (user_id, folded)
);

ALTER TABLE mailbox_counts ADD COLUMN recent_uid BIGINT NOT NULL DEFAULT 0;
UPDATE mailbox_counts SET recent_uid = uid_high;

DROP TRIGGER mailbox_counted_flags ON mailbox;
CREATE TRIGGER mailbox_counted_flags BEFORE UPDATE OF seen, answered, flagged, deleted, draft, keywords ON mailbox
    FOR EACH ROW
    WHEN (OLD.seen IS DISTINCT FROM NEW.seen OR OLD.answered IS DISTINCT FROM NEW.answered
          OR OLD.flagged IS DISTINCT FROM NEW.flagged OR OLD.deleted IS DISTINCT FROM NEW.deleted
          OR OLD.draft IS DISTINCT FROM NEW.draft OR OLD.keywords IS DISTINCT FROM NEW.keywords)
    EXECUTE FUNCTION mailbox_counted_flags();
