-- Several nodes on one database: each node's heartbeat, and the lease of
-- each job that must run on one node at a time (the outage monitor, the
-- retention purge, the directory sync schedule, the webhook sender).
-- Times are Unix milliseconds.
CREATE TABLE nodes (
    id           TEXT   PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    version      TEXT   NOT NULL
);

CREATE TABLE leases (
    job        TEXT   PRIMARY KEY,
    holder     TEXT   NOT NULL,
    since      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
