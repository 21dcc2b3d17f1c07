-- The Control Panel: administrators (operators manage every domain, domain
-- admins the domains assigned to them), their sessions, the Continuity
-- Service scope of each domain (all users, or the selected users only),
-- and the audit trail of every change.

CREATE TABLE admins (
    id            INTEGER PRIMARY KEY,
    address       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL CHECK (role IN ('operator', 'domain_admin')),
    password_hash TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    -- where outage alerts go (outside the domains they manage, ideally)
    recovery_address TEXT
);

CREATE TABLE admin_domains (
    admin_id  INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    PRIMARY KEY (admin_id, domain_id)
);

-- Like `sessions`, for administrators (only SHA-256 of the cookie kept).
CREATE TABLE admin_sessions (
    id_hash    BLOB    PRIMARY KEY,
    admin_id   INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    client_ip  TEXT
);
CREATE INDEX admin_sessions_admin ON admin_sessions(admin_id);

-- 'all': every user of the domain is covered; 'selected': only the users
-- listed in continuity_users.
ALTER TABLE domains ADD COLUMN continuity_scope TEXT NOT NULL DEFAULT 'all'
    CHECK (continuity_scope IN ('all', 'selected'));

CREATE TABLE continuity_users (
    domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (domain_id, user_id)
);

-- Who changed what, when, with the value before and after (JSON or text).
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    domain_id INTEGER REFERENCES domains(id) ON DELETE SET NULL,
    action    TEXT    NOT NULL,
    before    TEXT,
    after     TEXT
);
CREATE INDEX audit_domain ON audit(domain_id, at);

-- "Activer le mot de passe d'urgence": covered directory users are invited
-- to set an emergency password.
ALTER TABLE domains ADD COLUMN emergency_password INTEGER NOT NULL DEFAULT 0;

-- Tokens of the JSON admin API (/api/admin): only SHA-256 kept.
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    admin_id   INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    token_hash BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used  INTEGER,
    revoked_at INTEGER
);
