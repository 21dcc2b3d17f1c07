-- Outage webhooks: a domain may name a URL that is POSTed a signed JSON
-- document at every change of its continuity state. Each notification is
-- stored first (the outbox) and retried with back-off until the receiver
-- answers 2xx, or given up after a day.

ALTER TABLE domains ADD COLUMN webhook_url TEXT;
-- HMAC-SHA256 key (random, shown once when set)
ALTER TABLE domains ADD COLUMN webhook_secret TEXT;

CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY,
    domain_id       INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    url             TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    last_error      TEXT,
    done_at         INTEGER
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at) WHERE status = 'pending';
