-- Archive import: imported messages carry the SHA-256 of their content so a
-- second import of the same file (or of a message without a Message-ID)
-- finds them; Message-IDs are looked up when importing too.
ALTER TABLE messages ADD COLUMN content_sha256 BLOB;
CREATE INDEX messages_sha256 ON messages(content_sha256) WHERE content_sha256 IS NOT NULL;
CREATE INDEX messages_msgid ON messages(message_id_hdr) WHERE message_id_hdr IS NOT NULL;
