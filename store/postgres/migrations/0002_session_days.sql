-- Daily rollup of sessions by UTC day of login, kept by statement triggers,
-- so the dashboard's login counts and average session length read a few
-- rows per day instead of every session of the last 30 days.
--
-- Per (day, shard): logins = sessions created that day; ended and
-- ended_seconds = how many of them are ended and the sum of their lengths
-- (coalesce(ended_at, last_seen) - created_at). A day is the sum of its
-- shards; a statement adds its delta to a random shard, so concurrent logins
-- do not all queue on one row lock.
CREATE TABLE session_days (
    day           date NOT NULL,
    shard         smallint NOT NULL,
    logins        bigint NOT NULL DEFAULT 0,
    ended         bigint NOT NULL DEFAULT 0,
    ended_seconds numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (day, shard)
);

-- session_seconds is a session's part of ended_seconds: its length when it
-- is ended, else 0 (Stats sums live sessions from the live index).
CREATE FUNCTION session_seconds(status text, created_at timestamptz, ended_at timestamptz, last_seen timestamptz)
RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN status = 'ended'
                THEN extract(epoch FROM coalesce(ended_at, last_seen) - created_at) ELSE 0 END
$$;

-- session_days_delta adds a statement's change to session_days: plus each
-- inserted row, minus each deleted row, and for an update minus the old and
-- plus the new version of the rows whose part changed (last-seen touches of
-- live sessions write nothing). Days are upserted in order, so concurrent
-- statements lock them in one order. The three branches differ only in
-- their source rows: a transition table exists only for its own operation,
-- so one statement cannot name them all.
CREATE FUNCTION session_days_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO session_days AS d (day, shard, logins, ended, ended_seconds)
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, floor(random() * 8)::smallint,
               count(*), count(*) FILTER (WHERE status = 'ended'),
               sum(session_seconds(status, created_at, ended_at, last_seen))
        FROM new_rows
        GROUP BY day ORDER BY day
        ON CONFLICT (day, shard) DO UPDATE SET logins = d.logins + excluded.logins,
            ended = d.ended + excluded.ended, ended_seconds = d.ended_seconds + excluded.ended_seconds;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO session_days AS d (day, shard, logins, ended, ended_seconds)
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, floor(random() * 8)::smallint,
               -count(*), -count(*) FILTER (WHERE status = 'ended'),
               -sum(session_seconds(status, created_at, ended_at, last_seen))
        FROM old_rows
        GROUP BY day ORDER BY day
        ON CONFLICT (day, shard) DO UPDATE SET logins = d.logins + excluded.logins,
            ended = d.ended + excluded.ended, ended_seconds = d.ended_seconds + excluded.ended_seconds;
    ELSE
        INSERT INTO session_days AS d (day, shard, logins, ended, ended_seconds)
        SELECT day, floor(random() * 8)::smallint, sum(sign), sum(sign * is_ended), sum(sign * seconds)
        FROM (
            SELECT side.sign, (side.created_at AT TIME ZONE 'UTC')::date AS day,
                   (side.status = 'ended')::int AS is_ended,
                   session_seconds(side.status, side.created_at, side.ended_at, side.last_seen) AS seconds
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            CROSS JOIN LATERAL (VALUES (-1, o.created_at, o.status, o.ended_at, o.last_seen),
                                       (1, n.created_at, n.status, n.ended_at, n.last_seen))
                AS side(sign, created_at, status, ended_at, last_seen)
            WHERE o.created_at IS DISTINCT FROM n.created_at
               OR (o.status = 'ended') IS DISTINCT FROM (n.status = 'ended')
               OR session_seconds(o.status, o.created_at, o.ended_at, o.last_seen)
                  IS DISTINCT FROM session_seconds(n.status, n.created_at, n.ended_at, n.last_seen)
        ) changed
        GROUP BY day
        HAVING sum(sign) <> 0 OR sum(sign * is_ended) <> 0 OR sum(sign * seconds) <> 0
        ORDER BY day
        ON CONFLICT (day, shard) DO UPDATE SET logins = d.logins + excluded.logins,
            ended = d.ended + excluded.ended, ended_seconds = d.ended_seconds + excluded.ended_seconds;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_days_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_days_delta();
CREATE TRIGGER sessions_days_update AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_days_delta();
CREATE TRIGGER sessions_days_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION session_days_delta();

-- Sessions written before this migration.
INSERT INTO session_days (day, shard, logins, ended, ended_seconds)
SELECT (created_at AT TIME ZONE 'UTC')::date, 0, count(*), count(*) FILTER (WHERE status = 'ended'),
       coalesce(sum(session_seconds(status, created_at, ended_at, last_seen)), 0)
FROM sessions GROUP BY 1;
