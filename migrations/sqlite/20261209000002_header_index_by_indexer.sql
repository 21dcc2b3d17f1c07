-- The trigram index of the From, To, Subject and Cc headers (messages_hdr,
-- IMAP SEARCH FROM/TO/SUBJECT/CC) is written by the indexer with the
-- search document, off the commit a sender waits for (store/indexer.rs,
-- fts::write_pending). So a message is in messages_hdr exactly when it is
-- not in index_pending, and the triggers that take a message out of the
-- index or change its entry leave pending messages alone (an external-
-- content FTS5 table must never be told to delete what it does not hold).
DROP TRIGGER messages_hdr_in;
DROP TRIGGER messages_hdr_out;
DROP TRIGGER messages_hdr_changed;

-- pending now, yet indexed by the old trigger: out; the indexer puts them back
INSERT INTO messages_hdr (messages_hdr, rowid, header_from, header_to, subject, header_cc)
    SELECT 'delete', id, header_from, header_to, subject, header_cc FROM messages
    WHERE id IN (SELECT message_id FROM index_pending);

-- BEFORE: the message's index_pending row (deleted with it, by its foreign
-- key) is still there to be seen
CREATE TRIGGER messages_hdr_out BEFORE DELETE ON messages
WHEN NOT EXISTS (SELECT 1 FROM index_pending WHERE message_id = OLD.id)
BEGIN
    INSERT INTO messages_hdr (messages_hdr, rowid, header_from, header_to, subject, header_cc)
        VALUES ('delete', OLD.id, OLD.header_from, OLD.header_to, OLD.subject, OLD.header_cc);
END;

CREATE TRIGGER messages_hdr_changed
AFTER UPDATE OF header_from, header_to, subject, header_cc ON messages
WHEN NOT EXISTS (SELECT 1 FROM index_pending WHERE message_id = OLD.id)
BEGIN
    INSERT INTO messages_hdr (messages_hdr, rowid, header_from, header_to, subject, header_cc)
        VALUES ('delete', OLD.id, OLD.header_from, OLD.header_to, OLD.subject, OLD.header_cc);
    INSERT INTO messages_hdr (rowid, header_from, header_to, subject, header_cc)
        VALUES (NEW.id, NEW.header_from, NEW.header_to, NEW.subject, NEW.header_cc);
END;
