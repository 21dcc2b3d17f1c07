-- Directory sync: a domain's users come from its LDAP / Active Directory.
-- The bind password is never stored: it is read from bind_password_file at
-- each sync. Each run's outcome and its changes are kept for the Control
-- Panel and the CLI.
CREATE TABLE directories (
    domain_id          INTEGER PRIMARY KEY REFERENCES domains(id) ON DELETE CASCADE,
    url                TEXT    NOT NULL,
    starttls           INTEGER NOT NULL DEFAULT 0,
    ca_file            TEXT,
    bind_dn            TEXT    NOT NULL DEFAULT '',
    bind_password_file TEXT,
    base_dn            TEXT    NOT NULL,
    user_filter        TEXT    NOT NULL DEFAULT '(mail=*)',
    group_dn           TEXT,
    flavor             TEXT    NOT NULL DEFAULT 'openldap' CHECK (flavor IN ('openldap', 'ad')),
    interval_s         INTEGER NOT NULL DEFAULT 3600,
    max_disable_pct    INTEGER NOT NULL DEFAULT 20,
    last_sync_at       INTEGER,
    last_ok            INTEGER,
    last_result        TEXT,
    last_diff          TEXT
);
