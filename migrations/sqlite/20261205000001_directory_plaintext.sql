-- A plain ldap:// directory without StartTLS would carry the bind password
-- in clear: refused unless an operator allows it for this domain.
ALTER TABLE directories ADD COLUMN allow_plaintext INTEGER NOT NULL DEFAULT 0;
