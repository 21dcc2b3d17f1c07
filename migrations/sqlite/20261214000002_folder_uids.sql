-- IMAP UIDs per folder (RFC 3501 §2.3.1.1), as every IMAP server gives
-- them: each folder counts its own from 1, the next one is exactly the
-- UIDNEXT told, and UIDNEXT changes only when mail is added to that
-- folder. Row ids stay what the webmail and the rest of the store use.
--
-- The rows there today keep their UIDs (uid = id: what mail apps have
-- cached stays true, no new UIDVALIDITY); uid_high is already at or above
-- them, and each new row takes uid_high + 1 in the insert trigger.
ALTER TABLE mailbox ADD COLUMN uid INTEGER;
UPDATE mailbox SET uid = id;
DROP INDEX mailbox_uids;
CREATE UNIQUE INDEX mailbox_uids ON mailbox(user_id, folder, uid);

DROP TRIGGER mailbox_counted_in;
CREATE TRIGGER mailbox_counted_in AFTER INSERT ON mailbox
BEGIN
    INSERT OR IGNORE INTO mailbox_counts (user_id, folder) VALUES (NEW.user_id, NEW.folder);
    UPDATE mailbox_counts
        SET total = total + 1, unseen = unseen + (NEW.seen = 0),
            deleted = deleted + (NEW.deleted = 1), modseq = modseq + 1,
            uid_high = uid_high + 1
        WHERE user_id = NEW.user_id AND folder = NEW.folder;
    UPDATE mailbox SET (modseq, uid) = (SELECT modseq, uid_high FROM mailbox_counts
                                        WHERE user_id = NEW.user_id AND folder = NEW.folder)
        WHERE id = NEW.id;
END;

DROP TRIGGER mailbox_counted_out;
CREATE TRIGGER mailbox_counted_out AFTER DELETE ON mailbox
BEGIN
    UPDATE mailbox_counts
        SET total = total - 1, unseen = unseen - (OLD.seen = 0),
            deleted = deleted - (OLD.deleted = 1), modseq = modseq + 1
        WHERE user_id = OLD.user_id AND folder = OLD.folder;
    INSERT OR IGNORE INTO mailbox_vanished (user_id, folder, modseq, uid, at)
        SELECT OLD.user_id, OLD.folder, modseq, OLD.uid, CAST(unixepoch('subsec') * 1000 AS INTEGER)
        FROM mailbox_counts WHERE user_id = OLD.user_id AND folder = OLD.folder;
END;

-- the highest UIDVALIDITY the user's folders were ever given: a folder
-- deleted and made again gets a higher one even within the same second
ALTER TABLE users ADD COLUMN folder_validity INTEGER NOT NULL DEFAULT 0;
