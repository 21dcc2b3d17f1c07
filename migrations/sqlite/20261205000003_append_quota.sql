-- Mail a user put into their own mailbox over IMAP (APPEND): counted
-- against their quota for appended mail (imap.append_quota).
ALTER TABLE messages ADD COLUMN appended_by INTEGER;
CREATE INDEX messages_appended_by ON messages(appended_by) WHERE appended_by IS NOT NULL;
