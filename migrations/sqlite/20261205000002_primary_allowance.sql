-- What an operator lets a domain's admins name as the primary beyond
-- public addresses and the mail ports (25, 465, 587, 2525): networks and
-- ports, space-separated.
ALTER TABLE domains ADD COLUMN primary_allow_networks TEXT NOT NULL DEFAULT '';
ALTER TABLE domains ADD COLUMN primary_allow_ports TEXT NOT NULL DEFAULT '';
