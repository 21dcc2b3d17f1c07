-- Outage detection within seconds by default (issue 18): domains still on
-- the old defaults (a probe every 15 s, a 10 s timeout) move to the new
-- ones (every 5 s, 5 s); new domains get them from the store (the column
-- defaults of SQLite cannot change in place). A value an admin chose stays.
UPDATE domains SET probe_interval_ms = 5000 WHERE probe_interval_ms = 15000;
UPDATE domains SET probe_timeout_ms = 5000 WHERE probe_timeout_ms = 10000;
