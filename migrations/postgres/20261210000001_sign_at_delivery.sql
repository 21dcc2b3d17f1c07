-- DKIM signing moves from acceptance to delivery (as Exim's transports
-- sign): a message records the protected domain whose active key signs it
-- each time it is sent. Messages accepted before this were signed then.
ALTER TABLE messages ADD COLUMN sign_as BIGINT;
