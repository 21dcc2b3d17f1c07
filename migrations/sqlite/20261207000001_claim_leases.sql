-- A delivery being attempted belongs to the node that claimed it, for a
-- lease that node renews while the attempt runs (Unix milliseconds). When
-- the node dies, any node takes the delivery back once the lease ran out.
-- claimed_by stays as the node that attempted the delivery last.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE deliveries ADD COLUMN lease_until BIGINT;
-- attempts interrupted before this version: any node may take them back
UPDATE deliveries SET lease_until = 0 WHERE status = 'delivering';
CREATE INDEX deliveries_claimed ON deliveries (lease_until) WHERE status = 'delivering';
