-- The continuity relay: DKIM keys per domain, and how a domain's own server
-- may relay its outbound mail through us (submission).

-- DKIM keys. One active key per domain signs what we send for it; older
-- ones stay (inactive) so a rotation can be checked and undone.
CREATE TABLE dkim_keys (
    id          INTEGER PRIMARY KEY,
    domain_id   INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    selector    TEXT    NOT NULL,
    algorithm   TEXT    NOT NULL CHECK (algorithm IN ('rsa-sha256', 'ed25519-sha256')),
    -- PKCS#1 DER (RSA) or PKCS#8 DER (Ed25519)
    private_der BLOB    NOT NULL,
    -- the DNS record's p= (base64)
    public_b64  TEXT    NOT NULL,
    active      INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    UNIQUE (domain_id, selector)
);
CREATE UNIQUE INDEX dkim_keys_active ON dkim_keys(domain_id) WHERE active = 1;

-- The domain's own server may relay its outbound mail through the
-- submission listener: authenticated with the domain's relay secret (only
-- its SHA-256 is kept), or from one of its networks.
ALTER TABLE domains ADD COLUMN relay_secret_hash BLOB;
CREATE TABLE relay_networks (
    domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    -- "192.0.2.10/32", "2001:db8::/64"
    network   TEXT    NOT NULL,
    PRIMARY KEY (domain_id, network)
);
