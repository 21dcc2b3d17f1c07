-- IMAP flags beside \Seen (one model for the webmail and IMAP). A message
-- expunged over IMAP loses its mailbox row only: its deliveries go on.
ALTER TABLE mailbox ADD COLUMN flagged  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailbox ADD COLUMN answered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailbox ADD COLUMN deleted  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailbox ADD COLUMN draft    INTEGER NOT NULL DEFAULT 0;
-- the IMAP view of a folder: UIDs ascending
CREATE INDEX mailbox_uids ON mailbox(user_id, folder, id);
