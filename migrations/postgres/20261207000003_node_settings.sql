-- The fingerprint of the settings every node must share (config/shared.rs),
-- published with each heartbeat: nodes that disagree are told.
ALTER TABLE nodes ADD COLUMN settings TEXT NOT NULL DEFAULT '';
