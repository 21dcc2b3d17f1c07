-- The webmail's drafts are the IMAP Drafts folder's: each draft is shown
-- to mail apps as a message there (its mirror), and a mail app's draft
-- there is one of the webmail's. A mirror expunged or moved away over
-- IMAP takes its draft along (ON DELETE CASCADE: every move is a delete
-- and an insert). mirror_own: the mirror's message was written for the
-- draft (each save replaces it; the archive keeps no revisions), not
-- appended by a mail app (kept in the archive as any APPEND).
-- mirror_key: what the mirror was built from, so that a save changing
-- nothing writes nothing.
ALTER TABLE drafts ADD COLUMN mirror BIGINT REFERENCES mailbox(id) ON DELETE CASCADE;
ALTER TABLE drafts ADD COLUMN mirror_own BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE drafts ADD COLUMN mirror_key BYTEA;
CREATE UNIQUE INDEX drafts_mirror ON drafts(mirror);
