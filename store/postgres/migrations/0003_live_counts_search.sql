-- Counters for the dashboard and trigram indexes for free-text search.

-- No session or user write may slip between a trigger created here and the
-- backfill of its counters.
LOCK TABLE sessions, users IN SHARE ROW EXCLUSIVE MODE;

-- session_days.seconds: the summed length (coalesce(ended_at, last_seen) -
-- created_at) of all the day's sessions, live ones included, so the average
-- session length reads the rollup alone. A touch of a live session changes
-- its length: the update trigger now writes for touches too, one row per
-- login day of the touched sessions per statement (touches come in batches).
ALTER TABLE session_days ADD COLUMN seconds numeric NOT NULL DEFAULT 0;

-- session_length is a session's part of session_days.seconds.
CREATE FUNCTION session_length(created_at timestamptz, ended_at timestamptz, last_seen timestamptz)
RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT extract(epoch FROM coalesce(ended_at, last_seen) - created_at)
$$;

-- session_days_delta as in 0002, plus seconds.
CREATE OR REPLACE FUNCTION session_days_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO session_days AS d (day, shard, logins, ended, ended_seconds, seconds)
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, floor(random() * 8)::smallint,
               count(*), count(*) FILTER (WHERE status = 'ended'),
               sum(session_seconds(status, created_at, ended_at, last_seen)),
               sum(session_length(created_at, ended_at, last_seen))
        FROM new_rows
        GROUP BY day ORDER BY day
        ON CONFLICT (day, shard) DO UPDATE SET logins = d.logins + excluded.logins,
            ended = d.ended + excluded.ended, ended_seconds = d.ended_seconds + excluded.ended_seconds,
            seconds = d.seconds + excluded.seconds;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO session_days AS d (day, shard, logins, ended, ended_seconds, seconds)
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, floor(random() * 8)::smallint,
               -count(*), -count(*) FILTER (WHERE status = 'ended'),
               -sum(session_seconds(status, created_at, ended_at, last_seen)),
               -sum(session_length(created_at, ended_at, last_seen))
        FROM old_rows
        GROUP BY day ORDER BY day
        ON CONFLICT (day, shard) DO UPDATE SET logins = d.logins + excluded.logins,
            ended = d.ended + excluded.ended, ended_seconds = d.ended_seconds + excluded.ended_seconds,
            seconds = d.seconds + excluded.seconds;
    ELSE
        INSERT INTO session_days AS d (day, shard, logins, ended, ended_seconds, seconds)
        SELECT day, floor(random() * 8)::smallint, sum(sign), sum(sign * is_ended), sum(sign * ended_secs),
               sum(sign * secs)
        FROM (
            SELECT side.sign, (side.created_at AT TIME ZONE 'UTC')::date AS day,
                   (side.status = 'ended')::int AS is_ended,
                   session_seconds(side.status, side.created_at, side.ended_at, side.last_seen) AS ended_secs,
                   session_length(side.created_at, side.ended_at, side.last_seen) AS secs
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            CROSS JOIN LATERAL (VALUES (-1, o.created_at, o.status, o.ended_at, o.last_seen),
                                       (1, n.created_at, n.status, n.ended_at, n.last_seen))
                AS side(sign, created_at, status, ended_at, last_seen)
            WHERE o.created_at IS DISTINCT FROM n.created_at
               OR (o.status = 'ended') IS DISTINCT FROM (n.status = 'ended')
               OR o.ended_at IS DISTINCT FROM n.ended_at
               OR o.last_seen IS DISTINCT FROM n.last_seen
        ) changed
        GROUP BY day
        HAVING sum(sign) <> 0 OR sum(sign * is_ended) <> 0 OR sum(sign * ended_secs) <> 0 OR sum(sign * secs) <> 0
        ORDER BY day
        ON CONFLICT (day, shard) DO UPDATE SET logins = d.logins + excluded.logins,
            ended = d.ended + excluded.ended, ended_seconds = d.ended_seconds + excluded.ended_seconds,
            seconds = d.seconds + excluded.seconds;
    END IF;
    RETURN NULL;
END $$;

INSERT INTO session_days AS d (day, shard, seconds)
SELECT (created_at AT TIME ZONE 'UTC')::date, 0, coalesce(sum(session_length(created_at, ended_at, last_seen)), 0)
FROM sessions GROUP BY 1
ON CONFLICT (day, shard) DO UPDATE SET seconds = d.seconds + excluded.seconds;

-- user_counts counts users and blocked users, kept by statement triggers
-- (sharded like session_days), so Stats does not scan users.
CREATE TABLE user_counts (
    shard   smallint PRIMARY KEY,
    total   bigint NOT NULL DEFAULT 0,
    blocked bigint NOT NULL DEFAULT 0
);

CREATE FUNCTION user_counts_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d_total bigint := 0;
    d_blocked bigint := 0;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT count(*), count(*) FILTER (WHERE blocked) INTO d_total, d_blocked FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT -count(*), -count(*) FILTER (WHERE blocked) INTO d_total, d_blocked FROM old_rows;
    ELSE
        SELECT coalesce(sum(n.blocked::int - o.blocked::int), 0) INTO d_blocked
        FROM old_rows o JOIN new_rows n ON n.id = o.id;
    END IF;
    IF d_total <> 0 OR d_blocked <> 0 THEN
        INSERT INTO user_counts AS c (shard, total, blocked) VALUES (floor(random() * 8)::smallint, d_total, d_blocked)
        ON CONFLICT (shard) DO UPDATE SET total = c.total + excluded.total, blocked = c.blocked + excluded.blocked;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_counts_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_counts_delta();
CREATE TRIGGER users_counts_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_counts_delta();
CREATE TRIGGER users_counts_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION user_counts_delta();

INSERT INTO user_counts (shard, total, blocked)
SELECT 0, count(*), count(*) FILTER (WHERE blocked) FROM users;

--
-- session_live counts the live sessions (status <> 'ended') per value of
-- each dashboard dimension, kept exact by statement triggers on sessions,
-- so Stats reads a few hundred rows instead of every live session:
-- dim 0 = country_code, 1 = device_type, 2 = browser, 3 = os; live = how
-- many live sessions have that value, online = how many of them are
-- 'active'. A value is the sum of its shards: a statement adds its delta to
-- one random shard, so concurrent logins do not all queue on one row lock.
-- Shards may go negative; only sums mean something.
CREATE TABLE session_live (
    dim    smallint NOT NULL,
    key    text NOT NULL,
    shard  smallint NOT NULL,
    live   bigint NOT NULL DEFAULT 0,
    online bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, key, shard)
);

-- session_live_delta adds a statement's change to session_live: plus each
-- inserted live row, minus each deleted live row, and for an update minus
-- the old and plus the new version of the rows whose status or dimension
-- values changed (last-seen touches of active sessions write nothing).
-- Keys are upserted in (dim, key) order, so concurrent statements lock them
-- in one order. The branches differ only in their source rows: a transition
-- table exists only for its own operation.
CREATE FUNCTION session_live_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pick smallint := floor(random() * 8)::smallint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO session_live AS l (dim, key, shard, live, online)
        SELECT d.dim, d.key, pick, count(*), count(*) FILTER (WHERE r.status = 'active')
        FROM new_rows r
        CROSS JOIN LATERAL (VALUES (0, r.country_code), (1, r.device_type), (2, r.browser), (3, r.os)) AS d(dim, key)
        WHERE r.status <> 'ended'
        GROUP BY d.dim, d.key ORDER BY d.dim, d.key
        ON CONFLICT (dim, key, shard) DO UPDATE SET live = l.live + excluded.live, online = l.online + excluded.online;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO session_live AS l (dim, key, shard, live, online)
        SELECT d.dim, d.key, pick, -count(*), -count(*) FILTER (WHERE r.status = 'active')
        FROM old_rows r
        CROSS JOIN LATERAL (VALUES (0, r.country_code), (1, r.device_type), (2, r.browser), (3, r.os)) AS d(dim, key)
        WHERE r.status <> 'ended'
        GROUP BY d.dim, d.key ORDER BY d.dim, d.key
        ON CONFLICT (dim, key, shard) DO UPDATE SET live = l.live + excluded.live, online = l.online + excluded.online;
    ELSE
        INSERT INTO session_live AS l (dim, key, shard, live, online)
        SELECT d.dim, d.key, pick, sum(side.sign), coalesce(sum(side.sign) FILTER (WHERE side.status = 'active'), 0)
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES (-1, o.status, o.country_code, o.device_type, o.browser, o.os),
                                   (1, n.status, n.country_code, n.device_type, n.browser, n.os))
            AS side(sign, status, country_code, device_type, browser, os)
        CROSS JOIN LATERAL (VALUES (0, side.country_code), (1, side.device_type), (2, side.browser), (3, side.os)) AS d(dim, key)
        WHERE side.status <> 'ended'
          AND (o.status IS DISTINCT FROM n.status OR o.country_code IS DISTINCT FROM n.country_code
               OR o.device_type IS DISTINCT FROM n.device_type OR o.browser IS DISTINCT FROM n.browser
               OR o.os IS DISTINCT FROM n.os)
        GROUP BY d.dim, d.key
        HAVING sum(side.sign) <> 0 OR coalesce(sum(side.sign) FILTER (WHERE side.status = 'active'), 0) <> 0
        ORDER BY d.dim, d.key
        ON CONFLICT (dim, key, shard) DO UPDATE SET live = l.live + excluded.live, online = l.online + excluded.online;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_live_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_live_delta();
CREATE TRIGGER sessions_live_update AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_live_delta();
CREATE TRIGGER sessions_live_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION session_live_delta();

-- Sessions written before this migration.
INSERT INTO session_live (dim, key, shard, live, online)
SELECT d.dim, d.key, 0, count(*), count(*) FILTER (WHERE s.status = 'active')
FROM sessions s
CROSS JOIN LATERAL (VALUES (0, s.country_code), (1, s.device_type), (2, s.browser), (3, s.os)) AS d(dim, key)
WHERE s.status <> 'ended'
GROUP BY d.dim, d.key;

-- Free-text search: trigram GIN indexes, when pg_trgm can be had. An
-- extension belongs to the database, not to a schema: it goes to schema
-- public (or stays wherever it already is) and the operator class is named
-- with its schema, so it resolves whatever the search_path. Without the
-- privilege to create it the indexes are skipped: search stays correct,
-- only slower. The session columns share one index over their text joined
-- by U+001F, which the store's search condition repeats exactly.
DO $$
DECLARE
    ext_schema text;
BEGIN
    SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF ext_schema IS NULL AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
        EXCEPTION WHEN OTHERS THEN
            -- No privilege, or another schema's migration created it at the
            -- same moment (then the lookup below finds it).
            RAISE NOTICE 'pg_trgm not created here: %', SQLERRM;
        END;
        SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    END IF;
    IF ext_schema IS NULL THEN
        RAISE NOTICE 'pg_trgm is not available: search runs without trigram indexes';
        RETURN;
    END IF;
    EXECUTE format('CREATE INDEX users_email_trgm ON users USING gin (email %I.gin_trgm_ops)', ext_schema);
    EXECUTE format('CREATE INDEX users_username_trgm ON users USING gin (username %I.gin_trgm_ops)', ext_schema);
    EXECUTE format($f$CREATE INDEX sessions_search_trgm ON sessions USING gin
        ((ip || E'\x1f' || browser || E'\x1f' || os || E'\x1f' || city) %I.gin_trgm_ops)$f$, ext_schema);
END $$;

-- Statistics for the new expression index, so that a search that matches
-- many sessions walks the sort index instead of sorting every match.
ANALYZE sessions;
ANALYZE users;
