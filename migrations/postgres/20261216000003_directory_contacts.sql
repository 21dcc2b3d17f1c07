-- Users' contact points from the directory: the attributes that hold a
-- mobile number and a backup address ('' = not read).
ALTER TABLE directories ADD COLUMN mobile_attr TEXT NOT NULL DEFAULT 'mobile';
ALTER TABLE directories ADD COLUMN alt_email_attr TEXT NOT NULL DEFAULT 'otherMailbox';
