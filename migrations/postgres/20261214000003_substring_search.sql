-- IMAP SEARCH BODY and TEXT by substring (see the SQLite migration of the
-- same name): each message's trigram hashes in an array, found by GIN
-- containment, gone with the message.
CREATE TABLE messages_grams (
    message_id BIGINT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    grams      BIGINT[] NOT NULL
);
CREATE INDEX messages_grams_gin ON messages_grams USING gin (grams);
CREATE TABLE grams_backfill (next_id BIGINT NOT NULL, last_id BIGINT NOT NULL);
INSERT INTO grams_backfill (next_id, last_id) SELECT 1, COALESCE(MAX(id), 0) FROM messages;
