-- Message bytes compressed with lz4 rather than pglz: pglz took a sixth of
-- a writer's time at ingest. Bytes already stored stay as they are. A
-- server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE message_blobs ALTER COLUMN raw SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available here: message bytes stay pglz-compressed';
END
$$;
