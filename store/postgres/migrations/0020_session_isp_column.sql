-- Search at ten million sessions (docs/SCALE.md).
--
-- The ISP becomes a column of its own, generated from the location JSON,
-- so PostgreSQL keeps it in sync on every insert and update and no writer
-- changes. The search text and its trigram index read the column instead
-- of casting every row's location to jsonb (a scan of 10 M rows spent most
-- of its time in that cast).
--
-- sessions_created_idx gains user_id in its INCLUDE list: the search's
-- user arm walks the sessions by creation time and needs each one's user;
-- from the index alone, it reads no session rows.
--
-- Adding a stored generated column rewrites the table (and rebuilds its
-- indexes) under an exclusive lock: the two rebuilt indexes are dropped
-- first so that they are built once, after the rewrite.
SET LOCAL maintenance_work_mem = '256MB';

DROP INDEX IF EXISTS sessions_search_trgm;
DROP INDEX sessions_created_idx;

ALTER TABLE sessions ADD COLUMN isp text NOT NULL
    GENERATED ALWAYS AS (coalesce(location::jsonb ->> 'isp', '')) STORED;

CREATE INDEX sessions_created_idx ON sessions (created_at, id) INCLUDE (status, last_seen, ended_at, user_id);

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

ANALYZE sessions;
