-- What each domain's own server relayed through us, per minute, for
-- nodes sharing one database: the hourly relay limit holds across them
-- (one node on SQLite counts in memory).
CREATE TABLE relay_counts (
    domain_id BIGINT NOT NULL,
    minute    BIGINT NOT NULL,
    n         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (domain_id, minute)
);
