-- no-transaction
-- Messages written in the webmail (and, later, submitted by the customer's
-- own server) need their own origin. SQLite cannot change a CHECK
-- constraint: the table is rebuilt (the 12-step procedure: foreign keys
-- off around one transaction, the other tables' references resolve to the
-- new table by name, indexes recreated, foreign keys checked).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE messages_new (
    id             INTEGER PRIMARY KEY,
    received_at    INTEGER NOT NULL,
    origin         TEXT    NOT NULL DEFAULT 'smtp'
                   CHECK (origin IN ('smtp', 'dsn', 'demo', 'import', 'webmail', 'submission')),
    mail_from      TEXT    NOT NULL,
    client_ip      TEXT,
    helo           TEXT,
    tls            INTEGER NOT NULL DEFAULT 0,
    size           INTEGER NOT NULL,
    header_from    TEXT    NOT NULL DEFAULT '',
    header_to      TEXT    NOT NULL DEFAULT '',
    subject        TEXT    NOT NULL DEFAULT '',
    sent_date      INTEGER,
    message_id_hdr TEXT,
    attachments    INTEGER NOT NULL DEFAULT 0,
    content_sha256 BLOB
);
INSERT INTO messages_new (id, received_at, origin, mail_from, client_ip, helo, tls, size,
                          header_from, header_to, subject, sent_date, message_id_hdr,
                          attachments, content_sha256)
    SELECT id, received_at, origin, mail_from, client_ip, helo, tls, size, header_from,
           header_to, subject, sent_date, message_id_hdr, attachments, content_sha256
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_received ON messages(received_at);
CREATE INDEX messages_sender ON messages(lower(mail_from), received_at);
CREATE INDEX messages_sha256 ON messages(content_sha256) WHERE content_sha256 IS NOT NULL;
CREATE INDEX messages_msgid ON messages(message_id_hdr) WHERE message_id_hdr IS NOT NULL;
COMMIT;
PRAGMA foreign_keys = ON;
