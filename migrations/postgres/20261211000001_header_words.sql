-- The sender's, the recipients' and the subject's words of each message in
-- their own tsvector columns, each with its own GIN index, beside the
-- weighted document. A search restricted to a header (the webmail's
-- From/To/Subject fields, Live Tracking's subject filter) asks an index
-- that holds that header's words only, and PostgreSQL's statistics of the
-- column estimate how many messages match. With the document alone the
-- GIN index could not filter by weight ('name':*A) and every weighted term
-- was estimated alike, so a rare sender whose name also occurs in bodies
-- made PostgreSQL walk every message newest first.
ALTER TABLE messages_fts
    ADD COLUMN sender_words    TSVECTOR NOT NULL DEFAULT '',
    ADD COLUMN recipient_words TSVECTOR NOT NULL DEFAULT '',
    ADD COLUMN subject_words   TSVECTOR NOT NULL DEFAULT '';

-- The messages already indexed, from their stored headers (the indexer
-- takes the same From, To and Subject from the message), split into words
-- as the indexer does (runs of letters and digits). A message whose bytes
-- were gone when it was indexed has an empty document and stays empty.
UPDATE messages_fts f SET
    sender_words = to_tsvector('continuity',
        regexp_replace(m.header_from, '[^[:alnum:]]+', ' ', 'g')),
    recipient_words = to_tsvector('continuity',
        regexp_replace(m.header_to, '[^[:alnum:]]+', ' ', 'g')),
    subject_words = to_tsvector('continuity',
        regexp_replace(m.subject, '[^[:alnum:]]+', ' ', 'g'))
FROM messages m
WHERE m.id = f.message_id AND f.doc <> ''::tsvector;

CREATE INDEX messages_fts_sender ON messages_fts USING gin (sender_words);
CREATE INDEX messages_fts_recipients ON messages_fts USING gin (recipient_words);
CREATE INDEX messages_fts_subject ON messages_fts USING gin (subject_words);

ANALYZE messages_fts;
