-- Failed logins, for nodes sharing one database: each node counts its own
-- in memory and records them here, and counts the others' from here, so
-- that failures spread over several nodes still hold a source or slow an
-- account down (one node on SQLite keeps them in memory only).
-- origin: the recording node's process; at: Unix milliseconds.
CREATE TABLE login_failures (
    origin  TEXT   NOT NULL,
    source  TEXT   NOT NULL,
    account TEXT   NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX login_failures_source ON login_failures (source, at);
CREATE INDEX login_failures_account ON login_failures (account, at);
