-- A second factor required: of a domain's users (set by its admins), and
-- a login whose second step is to set one up (enrol) rather than type a
-- code.
ALTER TABLE domains ADD COLUMN users_second_factor BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE login_challenges ADD COLUMN enrol BOOLEAN NOT NULL DEFAULT FALSE;
