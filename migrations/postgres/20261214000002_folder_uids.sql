-- IMAP UIDs per folder (see the SQLite migration of the same name): the
-- rows there today keep their UIDs (uid = id), each new row takes the
-- folder's uid_high + 1 under its counts row's lock, so UIDs are given in
-- commit order within a folder.
ALTER TABLE mailbox ADD COLUMN uid BIGINT;
UPDATE mailbox SET uid = id;
ALTER TABLE mailbox ALTER COLUMN uid SET NOT NULL;
DROP INDEX mailbox_uids;
CREATE UNIQUE INDEX mailbox_uids ON mailbox (user_id, folder, uid);

CREATE OR REPLACE FUNCTION mailbox_uid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mailbox_counts AS c (user_id, folder, modseq, uid_high)
        VALUES (NEW.user_id, NEW.folder, 2, 1)
        ON CONFLICT (user_id, folder) DO UPDATE
        SET modseq = c.modseq + 1, uid_high = c.uid_high + 1
        RETURNING modseq, uid_high INTO NEW.modseq, NEW.uid;
    IF NEW.id IS NULL THEN
        NEW.id := nextval('mailbox_uid_seq');
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION mailbox_counted_out() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE m BIGINT;
BEGIN
    UPDATE mailbox_counts
        SET total = total - 1, unseen = unseen - (CASE WHEN OLD.seen THEN 0 ELSE 1 END),
            deleted = deleted - (CASE WHEN OLD.deleted THEN 1 ELSE 0 END), modseq = modseq + 1
        WHERE user_id = OLD.user_id AND folder = OLD.folder
        RETURNING modseq INTO m;
    IF m IS NOT NULL THEN
        INSERT INTO mailbox_vanished (user_id, folder, modseq, uid, at)
            VALUES (OLD.user_id, OLD.folder, m, OLD.uid,
                    (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT)
            ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

-- the highest UIDVALIDITY the user's folders were ever given: a folder
-- deleted and made again gets a higher one even within the same second
ALTER TABLE users ADD COLUMN folder_validity BIGINT NOT NULL DEFAULT 0;
