-- Messages whose search document (messages_fts) is not written yet: filed
-- in the ingest's commit, deleted in the commit that writes the document
-- (store/indexer.rs). A crash in between leaves the row: it is done again.
CREATE TABLE index_pending (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE
);
