-- Counters for Stats' sliding windows at ten million sessions
-- (docs/SCALE.md, "Stats: minute and hour counters").
--
-- Stats counted two things from indexes that grow with the data: the
-- presence counts (live sessions seen in the last 15 and 30 minutes: a
-- million entries of sessions_live_idx at 10 M) and the partial first day
-- of each sliding window (24 h, 7 d, 30 d: up to a day of logins each from
-- sessions_created_idx). Two counter tables, kept by statement triggers
-- like session_days, make both a few rows plus at most one minute or one
-- hour of index entries:
--
-- session_minutes: live sessions (status <> 'ended') per Unix minute of
-- last_seen. A touch that moves a session from minute A to minute B takes
-- one from A and adds one to B (a touch within the same minute writes
-- nothing); ending, purging or deleting a live session takes it from its
-- minute. Stats reads only the minutes of the last half hour: the store
-- deletes minutes older than a day in its stale sweep, so the table holds
-- about a day of minutes (a touch of a session last seen before that
-- writes a row the next sweep deletes again).
--
-- session_hours: logins and summed session lengths per Unix hour of
-- created_at, as session_days per day (seconds change with every touch of
-- a live session, as in session_days).
--
-- Both are sharded like session_days: a statement adds its delta to one
-- random shard of each key, so concurrent touches (which all move sessions
-- into the current minute) do not queue on one row lock. Keys are upserted
-- in order, hours before minutes, and the triggers fire after the
-- session_days and session_live ones (trigger order is by name), so
-- concurrent statements lock counter rows in one order.

-- No session write may slip between the triggers and the backfill.
LOCK TABLE sessions IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE session_minutes (
    minute bigint NOT NULL,
    shard  smallint NOT NULL,
    live   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, shard)
);

CREATE TABLE session_hours (
    hour    bigint NOT NULL,
    shard   smallint NOT NULL,
    logins  bigint NOT NULL DEFAULT 0,
    seconds numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, shard)
);

-- unix_minute and unix_hour number the minute and hour that hold t
-- (minutes and hours since 1970-01-01 UTC), whatever the session's time
-- zone.
CREATE FUNCTION unix_minute(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT floor(extract(epoch FROM t) / 60)::int8
$$;
CREATE FUNCTION unix_hour(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT floor(extract(epoch FROM t) / 3600)::int8
$$;

-- session_windows_delta adds a statement's change to session_hours and
-- session_minutes: plus each inserted row, minus each deleted row, and for
-- an update minus the old and plus the new version of the rows whose
-- creation time, status, end or last-seen time changed (sums that cancel,
-- such as a touch within one minute, write nothing to session_minutes).
CREATE FUNCTION session_windows_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pick smallint := floor(random() * 8)::smallint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO session_hours AS h (hour, shard, logins, seconds)
        SELECT unix_hour(created_at) AS hour, pick, count(*), sum(session_length(created_at, ended_at, last_seen))
        FROM new_rows
        GROUP BY hour ORDER BY hour
        ON CONFLICT (hour, shard) DO UPDATE SET logins = h.logins + excluded.logins, seconds = h.seconds + excluded.seconds;
        INSERT INTO session_minutes AS m (minute, shard, live)
        SELECT unix_minute(last_seen) AS minute, pick, count(*)
        FROM new_rows WHERE status <> 'ended'
        GROUP BY minute ORDER BY minute
        ON CONFLICT (minute, shard) DO UPDATE SET live = m.live + excluded.live;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO session_hours AS h (hour, shard, logins, seconds)
        SELECT unix_hour(created_at) AS hour, pick, -count(*), -sum(session_length(created_at, ended_at, last_seen))
        FROM old_rows
        GROUP BY hour ORDER BY hour
        ON CONFLICT (hour, shard) DO UPDATE SET logins = h.logins + excluded.logins, seconds = h.seconds + excluded.seconds;
        INSERT INTO session_minutes AS m (minute, shard, live)
        SELECT unix_minute(last_seen) AS minute, pick, -count(*)
        FROM old_rows WHERE status <> 'ended'
        GROUP BY minute ORDER BY minute
        ON CONFLICT (minute, shard) DO UPDATE SET live = m.live + excluded.live;
    ELSE
        INSERT INTO session_hours AS h (hour, shard, logins, seconds)
        SELECT hour, pick, sum(sign), sum(sign * secs)
        FROM (
            SELECT side.sign, unix_hour(side.created_at) AS hour,
                   session_length(side.created_at, side.ended_at, side.last_seen) AS secs
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            CROSS JOIN LATERAL (VALUES (-1, o.created_at, o.ended_at, o.last_seen),
                                       (1, n.created_at, n.ended_at, n.last_seen))
                AS side(sign, created_at, ended_at, last_seen)
            WHERE o.created_at IS DISTINCT FROM n.created_at
               OR o.ended_at IS DISTINCT FROM n.ended_at
               OR o.last_seen IS DISTINCT FROM n.last_seen
        ) changed
        GROUP BY hour
        HAVING sum(sign) <> 0 OR sum(sign * secs) <> 0
        ORDER BY hour
        ON CONFLICT (hour, shard) DO UPDATE SET logins = h.logins + excluded.logins, seconds = h.seconds + excluded.seconds;
        INSERT INTO session_minutes AS m (minute, shard, live)
        SELECT minute, pick, sum(sign)
        FROM (
            SELECT side.sign, unix_minute(side.last_seen) AS minute
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            CROSS JOIN LATERAL (VALUES (-1, o.status, o.last_seen), (1, n.status, n.last_seen))
                AS side(sign, status, last_seen)
            WHERE side.status <> 'ended'
              AND ((o.status = 'ended') IS DISTINCT FROM (n.status = 'ended')
                   OR unix_minute(o.last_seen) <> unix_minute(n.last_seen))
        ) changed
        GROUP BY minute
        HAVING sum(sign) <> 0
        ORDER BY minute
        ON CONFLICT (minute, shard) DO UPDATE SET live = m.live + excluded.live;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_windows_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_windows_delta();
CREATE TRIGGER sessions_windows_update AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_windows_delta();
CREATE TRIGGER sessions_windows_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION session_windows_delta();

-- Sessions written before this migration (at 10 M: a scan of the table for
-- the hours, of the live index for the minutes).
INSERT INTO session_hours (hour, shard, logins, seconds)
SELECT unix_hour(created_at), 0, count(*), coalesce(sum(session_length(created_at, ended_at, last_seen)), 0)
FROM sessions GROUP BY 1;
INSERT INTO session_minutes (minute, shard, live)
SELECT unix_minute(last_seen), 0, count(*)
FROM sessions WHERE status <> 'ended' GROUP BY 1;
ANALYZE session_hours, session_minutes;
