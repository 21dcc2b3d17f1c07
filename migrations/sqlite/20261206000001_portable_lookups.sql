-- Addresses and domain names are looked up as lower(x) = lower(?) on both
-- backends (SQLite's NOCASE columns compared the same way; PostgreSQL has
-- no NOCASE): these indexes answer that form.
CREATE INDEX users_address_lower ON users(lower(address));
CREATE INDEX user_aliases_address_lower ON user_aliases(lower(address));
CREATE INDEX admins_address_lower ON admins(lower(address));
CREATE INDEX domains_name_lower ON domains(lower(name));

-- Flags are written TRUE/FALSE in the SQL both backends share: the partial
-- index on deleted messages says it the same way (SQLite matches a partial
-- index's condition by its form).
DROP INDEX mailbox_deleted;
CREATE INDEX mailbox_deleted ON mailbox(user_id, folder) WHERE deleted = TRUE;
