-- Search at ten million sessions (docs/SCALE.md).
--
-- The ISP becomes a column of its own, generated from the location JSON,
-- so PostgreSQL keeps it in sync on every insert and update and no writer
-- changes. The search text and its trigram index read the column instead
-- of casting every row's location to jsonb (a scan of 10 M rows spent most
-- of its time in that cast).
--
-- sessions_created_idx gains user_id in its INCLUDE list, and
-- sessions_country_idx the id (as in the other sort indexes), status and
-- user_id: the search's user arm walks the sessions by creation time (in
-- a country, when the list is filtered by one) and needs each one's user
-- and status; from the index alone, it reads no session rows. Each of
-- those sessions' users is then checked against the search: the new
-- users_search_names index holds the email and username by id, so that
-- check reads a small index instead of the users table.
--
-- The search's estimates: at the default statistics target, a substring
-- of the email or username that 1 user in 100 has was estimated like one
-- that 1 in a million has (the histogram's floor), so a common name was
-- looked up user by user. A finer histogram tells them apart.
--
-- Adding a stored generated column rewrites the table (and rebuilds its
-- indexes) under an exclusive lock: the three changed indexes are dropped
-- first so that they are built once, after the rewrite. The rewritten table
-- has no visibility map until it is vacuumed (index-only scans would read
-- the table): the store vacuums it once the migration commits.
-- vacuum after: sessions, users
SET LOCAL maintenance_work_mem = '256MB';

DROP INDEX IF EXISTS sessions_search_trgm;
DROP INDEX sessions_created_idx;
DROP INDEX sessions_country_idx;

ALTER TABLE sessions ADD COLUMN isp text NOT NULL
    GENERATED ALWAYS AS (coalesce(location::jsonb ->> 'isp', '')) STORED;

CREATE INDEX sessions_created_idx ON sessions (created_at, id) INCLUDE (status, last_seen, ended_at, user_id);
CREATE INDEX sessions_country_idx ON sessions (country_code, created_at, id) INCLUDE (status, user_id);

DO $$
DECLARE
    ext_schema text;
BEGIN
    SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF ext_schema IS NULL THEN
        RAISE NOTICE 'pg_trgm is not available: search runs without trigram indexes';
        RETURN;
    END IF;
    EXECUTE format($f$CREATE INDEX sessions_search_trgm ON sessions USING gin
        ((ip || E'\x1f' || browser || E'\x1f' || os || E'\x1f' || city || E'\x1f' || isp) %I.gin_trgm_ops)$f$, ext_schema);
END $$;

CREATE INDEX users_search_names ON users (id) INCLUDE (email, username);

ALTER TABLE users ALTER COLUMN email SET STATISTICS 1000, ALTER COLUMN username SET STATISTICS 1000;
ANALYZE users;
ANALYZE sessions;
