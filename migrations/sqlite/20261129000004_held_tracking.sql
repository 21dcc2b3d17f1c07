-- Tracking of mail held during an outage: a delivery held for (or received
-- during) its primary's outage is marked via_continuity, and stays so once
-- delivered ("Delivered (via Continuity)", never a sticky "Delayed").
-- New event kinds: 'held' (kept in the continuity mailbox, delivery to the
-- primary paused) and 'released' (the primary is back: delivery resumes).

ALTER TABLE deliveries ADD COLUMN via_continuity INTEGER NOT NULL DEFAULT 0;

-- SQLite cannot change a CHECK constraint: rebuild the events table (no
-- other table refers to it).
CREATE TABLE events_new (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    message_id  INTEGER REFERENCES messages(id) ON DELETE CASCADE,
    delivery_id INTEGER REFERENCES deliveries(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL
                CHECK (kind IN ('received', 'queued', 'attempt', 'delivered', 'delayed', 'bounced',
                                'expired', 'requeued', 'rejected', 'dsn', 'held', 'released')),
    detail      TEXT    NOT NULL DEFAULT '{}'
);
INSERT INTO events_new (id, at, message_id, delivery_id, kind, detail)
    SELECT id, at, message_id, delivery_id, kind, detail FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_message ON events(message_id);
CREATE INDEX events_at ON events(at);
