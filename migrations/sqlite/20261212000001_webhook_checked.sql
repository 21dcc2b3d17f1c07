-- A webhook a domain admin set in the Control Panel is posted only to
-- public addresses (or the networks an operator allowed for the domain's
-- primary), checked again at each post: the host may resolve elsewhere
-- later. Webhooks an operator set (CLI or Control Panel) are not checked.
ALTER TABLE domains ADD COLUMN webhook_checked BOOLEAN NOT NULL DEFAULT FALSE;
