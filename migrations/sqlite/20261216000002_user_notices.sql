-- Users told when their domain's continuity starts and ends (issue 21).
--
-- users.lang: the language the user last used in the webmail ('fr', 'en'),
-- so that what they are told is in it.
ALTER TABLE users ADD COLUMN lang TEXT;

-- Where a user can be reached when their mailbox cannot: an alternate
-- address and a mobile number (E.164). *_source: who set it ('user',
-- 'admin', 'directory'); *_verified_at: a user's own entry counts once
-- they proved it (a link mailed, a code texted); an administrator's or
-- the directory's counts at once.
CREATE TABLE user_contacts (
    user_id             INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    alt_email           TEXT,
    alt_email_source    TEXT,
    alt_email_verified  INTEGER,
    mobile              TEXT,
    mobile_source       TEXT,
    mobile_verified     INTEGER,
    updated_at          INTEGER NOT NULL
);

-- A user's entry waiting for its proof: the link's or the code's hash.
CREATE TABLE contact_checks (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel     TEXT    NOT NULL CHECK (channel IN ('email', 'sms')),
    value       TEXT    NOT NULL,
    secret_hash BLOB    NOT NULL,
    expires_at  INTEGER NOT NULL,
    tries       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, channel)
);

-- Per domain: users told at all, and told of drills too.
ALTER TABLE domains ADD COLUMN notify_users BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE domains ADD COLUMN notify_drills BOOLEAN NOT NULL DEFAULT FALSE;

-- Each user told (or not, and why) of each start and end, on each channel:
-- one row per (event, user, channel), so that an event is told once even
-- when nodes race. event_at: when the domain's state changed.
CREATE TABLE user_notices (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id   INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    event_at    INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('start', 'end')),
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel     TEXT    NOT NULL CHECK (channel IN ('email', 'sms')),
    address     TEXT    NOT NULL,
    lang        TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'skipped')),
    detail      TEXT    NOT NULL DEFAULT '',
    message_id  INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER,
    created_at  INTEGER NOT NULL,
    done_at     INTEGER,
    UNIQUE (domain_id, event_at, kind, user_id, channel)
);
CREATE INDEX user_notices_due ON user_notices(next_at) WHERE status = 'queued';
CREATE INDEX user_notices_recent ON user_notices(user_id, channel, kind, created_at);
CREATE INDEX user_notices_domain ON user_notices(domain_id, event_at);

-- A start or end to tell, written when the state changes; a node's
-- notifier takes it (taken_at, a lease: another node takes it over after
-- a minute) and records each user's notices, then marks it done.
CREATE TABLE notice_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    kind      TEXT    NOT NULL CHECK (kind IN ('start', 'end')),
    drill     BOOLEAN NOT NULL DEFAULT FALSE,
    event_at  INTEGER NOT NULL,
    taken_at  INTEGER,
    done_at   INTEGER
);
CREATE INDEX notice_events_open ON notice_events(id) WHERE done_at IS NULL;
