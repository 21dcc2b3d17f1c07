-- IMAP SEARCH CC (a mail app's "recipients" search is TO or CC) through
-- the trigram index, as FROM, TO and SUBJECT: the Cc header is kept beside
-- them. NULL: not read yet — mail stored before this migration, which the
-- server fills in from the stored bytes in the background (until then a
-- CC search reads the messages, as it did).
ALTER TABLE messages ADD COLUMN header_cc TEXT;
CREATE INDEX messages_cc_unknown ON messages(id) WHERE header_cc IS NULL;

DROP TRIGGER messages_hdr_in;
DROP TRIGGER messages_hdr_out;
DROP TRIGGER messages_hdr_changed;
DROP TABLE messages_hdr;
CREATE VIRTUAL TABLE messages_hdr USING fts5(
    header_from, header_to, subject, header_cc,
    content = 'messages', content_rowid = 'id',
    tokenize = 'trigram'
);
INSERT INTO messages_hdr (messages_hdr) VALUES ('rebuild');

CREATE TRIGGER messages_hdr_in AFTER INSERT ON messages
BEGIN
    INSERT INTO messages_hdr (rowid, header_from, header_to, subject, header_cc)
        VALUES (NEW.id, NEW.header_from, NEW.header_to, NEW.subject, NEW.header_cc);
END;

CREATE TRIGGER messages_hdr_out AFTER DELETE ON messages
BEGIN
    INSERT INTO messages_hdr (messages_hdr, rowid, header_from, header_to, subject, header_cc)
        VALUES ('delete', OLD.id, OLD.header_from, OLD.header_to, OLD.subject, OLD.header_cc);
END;

CREATE TRIGGER messages_hdr_changed
AFTER UPDATE OF header_from, header_to, subject, header_cc ON messages
BEGIN
    INSERT INTO messages_hdr (messages_hdr, rowid, header_from, header_to, subject, header_cc)
        VALUES ('delete', OLD.id, OLD.header_from, OLD.header_to, OLD.subject, OLD.header_cc);
    INSERT INTO messages_hdr (rowid, header_from, header_to, subject, header_cc)
        VALUES (NEW.id, NEW.header_from, NEW.header_to, NEW.subject, NEW.header_cc);
END;
