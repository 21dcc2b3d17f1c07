-- The webmail finds words by their beginning as the user types ("ra"
-- finds "rapport"): a prefix of two or three letters used to merge the
-- lists of every word starting with it (hundreds of thousands of entries
-- in a big mailbox) before the newest match could be returned. FTS5's
-- prefix indexes keep those short prefixes as terms of their own, so a
-- search reads its matches newest first and stops at the page's end.
CREATE VIRTUAL TABLE messages_fts_prefixed USING fts5(
    sender, recipients, subject, body,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
INSERT INTO messages_fts_prefixed (rowid, sender, recipients, subject, body)
    SELECT rowid, sender, recipients, subject, body FROM messages_fts;
DROP TABLE messages_fts;
ALTER TABLE messages_fts_prefixed RENAME TO messages_fts;
