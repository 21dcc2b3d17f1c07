-- Email Live Tracking: every delivery row carries the time its message
-- arrived (copied at ingest), so that each filter has an index already in
-- time order and a page of results never sorts the whole table.
ALTER TABLE deliveries ADD COLUMN received_at INTEGER NOT NULL DEFAULT 0;
UPDATE deliveries SET received_at =
    (SELECT m.received_at FROM messages m WHERE m.id = deliveries.message_id);
CREATE INDEX tracking_time   ON deliveries(received_at, id);
CREATE INDEX tracking_domain ON deliveries(domain_id, received_at, id);
CREATE INDEX tracking_status ON deliveries(status, received_at, id);
CREATE INDEX tracking_rcpt   ON deliveries(lower(rcpt), received_at, id);
CREATE INDEX tracking_user   ON deliveries(user_id, received_at, id);
CREATE INDEX messages_sender ON messages(lower(mail_from), received_at);
-- refused SMTP transactions, newest first: all, by recipient, by sender,
-- by the recipient's domain
CREATE INDEX events_rejected ON events(at, id) WHERE kind = 'rejected';
CREATE INDEX events_rejected_rcpt ON events(lower(json_extract(detail, '$.rcpt')), at, id)
    WHERE kind = 'rejected';
CREATE INDEX events_rejected_sender ON events(lower(json_extract(detail, '$.mail_from')), at, id)
    WHERE kind = 'rejected';
CREATE INDEX events_rejected_domain ON events(lower(substr(json_extract(detail, '$.rcpt'),
    instr(json_extract(detail, '$.rcpt'), '@') + 1)), at, id) WHERE kind = 'rejected';
