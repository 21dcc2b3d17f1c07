-- Failover: each domain's monitoring settings and the timeline of its
-- continuity state (normal / outage / recovering / drill, in domains.state).

ALTER TABLE domains ADD COLUMN probe_interval_ms INTEGER NOT NULL DEFAULT 15000
    CHECK (probe_interval_ms >= 1000);
ALTER TABLE domains ADD COLUMN probe_timeout_ms INTEGER NOT NULL DEFAULT 10000
    CHECK (probe_timeout_ms >= 500);
ALTER TABLE domains ADD COLUMN fail_after INTEGER NOT NULL DEFAULT 2 CHECK (fail_after >= 1);
ALTER TABLE domains ADD COLUMN recover_after INTEGER NOT NULL DEFAULT 2 CHECK (recover_after >= 1);
-- NULL: postmaster@<domain>
ALTER TABLE domains ADD COLUMN probe_rcpt TEXT;
-- the outage was started by an admin: probes do not end it
ALTER TABLE domains ADD COLUMN manual_outage INTEGER NOT NULL DEFAULT 0;
ALTER TABLE domains ADD COLUMN drill_until INTEGER;

CREATE TABLE domain_timeline (
    id         INTEGER PRIMARY KEY,
    domain_id  INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    reason     TEXT    NOT NULL
);
CREATE INDEX domain_timeline_domain ON domain_timeline(domain_id, at);
