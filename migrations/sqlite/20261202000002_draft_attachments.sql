-- Files attached to a draft in the webmail's compose (uploaded, or the
-- original's attachments a forward keeps). They go with the draft: sent,
-- then removed with it.
CREATE TABLE draft_attachments (
    id           INTEGER PRIMARY KEY,
    draft_id     INTEGER NOT NULL REFERENCES drafts(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    data         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX draft_attachments_draft ON draft_attachments(draft_id);

-- A forward's kept attachments have been copied into the draft (from then
-- on the draft's own list is the truth).
ALTER TABLE drafts ADD COLUMN forward_done INTEGER NOT NULL DEFAULT 0;
