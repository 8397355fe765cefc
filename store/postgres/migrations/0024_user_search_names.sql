-- User-name search at ten million sessions (docs/SCALE.md, issue 23).
--
-- A search matches a session when its user's email or username holds the
-- search, case-insensitively (ILIKE). Its user arm walks the sessions
-- newest first and checks each one's user in users_search_names; for a
-- name that 1 user in 100 has, about 4,700 checks for a page of 51. Each
-- check was two ILIKEs, and an ILIKE lower-cases its pattern and its text
-- on every call (four lower() calls per session), most of the check's
-- time. A search that finds its users first read two trigram indexes,
-- one per column, and the frequent trigrams of a name ("use", "ser" in
-- every generated user) cost each of them the same again.
--
-- search_names holds both names lower-cased once, joined by U+001F (as
-- the sessions' search text): `search_names LIKE lower(pattern)` is the
-- same match as `email ILIKE pattern OR username ILIKE pattern` (ILIKE is
-- lower() of both sides and LIKE) for a pattern without U+001F, which
-- cannot span the two names. One LIKE per check, no lower-casing of
-- rows, one trigram index instead of two; users_search_names carries the
-- column instead of the two names. The user list's search uses it too.
--
-- Adding a stored generated column rewrites users under an exclusive
-- lock (1 M users: seconds); the store vacuums it after the commit, so
-- the index-only checks do not read the table.
-- vacuum after: users
SET LOCAL maintenance_work_mem = '256MB';

DROP INDEX users_search_names;
DROP INDEX IF EXISTS users_email_trgm;
DROP INDEX IF EXISTS users_username_trgm;

ALTER TABLE users ADD COLUMN search_names text NOT NULL
    GENERATED ALWAYS AS (lower(email || E'\x1f' || username)) STORED;

CREATE INDEX users_search_names ON users (id) INCLUDE (search_names);

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
    EXECUTE format('CREATE INDEX users_search_trgm ON users USING gin (search_names %I.gin_trgm_ops)', ext_schema);
END $$;

-- Estimates of a name's share of users, as for the two columns (0020).
ALTER TABLE users ALTER COLUMN search_names SET STATISTICS 1000;
ANALYZE users;
