-- The mail spine: protected domains, their users, the durable archive of
-- received messages, one delivery row per recipient, and the tracking events
-- that record every state change. Times are Unix milliseconds (UTC).

CREATE TABLE domains (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    -- the domain's own mail server ("primary")
    primary_host      TEXT    NOT NULL,
    primary_port      INTEGER NOT NULL DEFAULT 25 CHECK (primary_port BETWEEN 1 AND 65535),
    primary_tls       TEXT    NOT NULL DEFAULT 'opportunistic'
                      CHECK (primary_tls IN ('none', 'opportunistic', 'required', 'implicit')),
    -- 1: only known users and aliases are accepted (550 5.1.1 otherwise)
    verify_recipients INTEGER NOT NULL DEFAULT 1,
    continuity_enabled INTEGER NOT NULL DEFAULT 1,
    created_at        INTEGER NOT NULL
);

CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    domain_id    INTEGER NOT NULL REFERENCES domains(id),
    address      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT    NOT NULL DEFAULT '',
    source       TEXT    NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'ldap')),
    disabled     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE INDEX users_domain ON users(domain_id);

CREATE TABLE user_aliases (
    address TEXT    PRIMARY KEY COLLATE NOCASE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE
);
CREATE INDEX user_aliases_user ON user_aliases(user_id);

-- One row per accepted SMTP transaction (or generated message, e.g. a DSN).
CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    received_at   INTEGER NOT NULL,
    origin        TEXT    NOT NULL DEFAULT 'smtp' CHECK (origin IN ('smtp', 'dsn', 'demo', 'import')),
    mail_from     TEXT    NOT NULL,          -- envelope sender, '' for the null sender
    client_ip     TEXT,
    helo          TEXT,
    tls           INTEGER NOT NULL DEFAULT 0,
    size          INTEGER NOT NULL,
    -- parsed summary (mail-parser)
    header_from   TEXT    NOT NULL DEFAULT '',
    header_to     TEXT    NOT NULL DEFAULT '',
    subject       TEXT    NOT NULL DEFAULT '',
    sent_date     INTEGER,
    message_id_hdr TEXT,
    attachments   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_received ON messages(received_at);

-- The raw message, byte for byte as received (after dot-unstuffing).
CREATE TABLE message_blobs (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    raw        BLOB    NOT NULL
);

-- One row per (message, recipient). domain_id is NULL for a recipient outside
-- the protected domains (only system mail such as DSNs goes there).
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    rcpt            TEXT    NOT NULL,
    domain_id       INTEGER REFERENCES domains(id),
    user_id         INTEGER REFERENCES users(id),
    status          TEXT    NOT NULL
                    CHECK (status IN ('queued', 'delayed', 'delivering', 'delivered', 'bounced', 'expired')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_reply      TEXT,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX deliveries_message ON deliveries(message_id);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status IN ('queued', 'delayed');
CREATE INDEX deliveries_status ON deliveries(domain_id, status);

-- Every state change is a tracking event. detail is a JSON object.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    message_id  INTEGER REFERENCES messages(id) ON DELETE CASCADE,
    delivery_id INTEGER REFERENCES deliveries(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL
                CHECK (kind IN ('received', 'queued', 'attempt', 'delivered', 'delayed', 'bounced',
                                'expired', 'requeued', 'rejected', 'dsn')),
    detail      TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX events_message ON events(message_id);
CREATE INDEX events_at ON events(at);
