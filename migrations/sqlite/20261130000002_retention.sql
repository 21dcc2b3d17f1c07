-- Retention: each domain keeps its archive and tracking for retention_days
-- (90 by default: the three-month archive); a daily job purges what is
-- older in small batches, and records what it did.
ALTER TABLE domains ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 90;

CREATE TABLE purge_log (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    messages  INTEGER NOT NULL,   -- archived messages removed, with their tracking
    bodies    INTEGER NOT NULL,   -- bodies dropped for domains without the Continuity Service
    events    INTEGER NOT NULL,   -- tracking of refused transactions removed
    took_ms   INTEGER NOT NULL
);
