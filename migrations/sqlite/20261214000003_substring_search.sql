-- IMAP SEARCH BODY and TEXT by substring (RFC 3501 §6.4.4), from an
-- index: each message's trigrams (hashed, in hex: see store/grams.rs), no
-- content and no positions kept; rows deletable with their message.
CREATE VIRTUAL TABLE messages_grams USING fts5(
    grams,
    tokenize = 'ascii',
    content = '',
    contentless_delete = 1,
    detail = 'none'
);
-- mail stored before: read into the index in the background, oldest
-- first; until then the messages from next_id to last_id are candidates
-- of every substring search
CREATE TABLE grams_backfill (next_id INTEGER NOT NULL, last_id INTEGER NOT NULL);
INSERT INTO grams_backfill (next_id, last_id) SELECT 1, COALESCE(MAX(id), 0) FROM messages;
