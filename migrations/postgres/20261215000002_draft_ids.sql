-- A draft's id is never given again. PostgreSQL's identity columns never
-- give an id twice already (SQLite's drafts table is rebuilt with
-- AUTOINCREMENT in the migration of this name): nothing to change here.
SELECT 1;
