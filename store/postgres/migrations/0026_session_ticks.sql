-- Presence counts by ten-second ticks instead of minutes (issue 23, Stats
-- at 10 M; docs/SCALE.md, "Stats: ten-second ticks").
--
-- Stats counts the live sessions seen in the last 15 and 30 minutes from
-- counters of live sessions per unit of last_seen, plus the index entries
-- of the part of a unit the window starts in (the shorter side of it).
-- With minutes that part was up to half a minute of last-seen times: on a
-- fresh 10 M set, 100,000 sessions seen in one minute, ~50,000 entries per
-- window, and more than that in heap reads while the stale sweep changes
-- the same sessions (the visibility map is cleared until the next vacuum).
-- Ticks of ten seconds make the part at most five seconds.
--
-- session_ticks replaces session_minutes: live sessions (status <> 'ended')
-- per ten-second tick of last_seen (unix_tick: seconds since 1970-01-01 UTC
-- divided by ten). The default last-seen interval is 30 s, so a touch
-- moves its session into another tick as it mostly moved it into another
-- minute; a touch statement groups its sessions by tick, so it upserts a
-- few more counter rows, not more per session. The table keeps a day of
-- ticks (the store's stale sweep deletes older ones): at most 8,640 ticks
-- of up to 32 shards, of which Stats sums the last half hour (180 ticks).
--
-- session_windows_delta is 0025's function with session_ticks and
-- unix_tick in place of session_minutes and unix_minute; the hours are
-- unchanged.

-- No session write may slip between the new trigger and the backfill.
LOCK TABLE sessions IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE session_ticks (
    tick  bigint NOT NULL,
    shard smallint NOT NULL,
    live  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tick, shard)
);

CREATE FUNCTION unix_tick(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT floor(extract(epoch FROM t) / 10)::int8
$$;

CREATE OR REPLACE FUNCTION session_windows_delta()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    pick smallint := floor(random() * 32)::smallint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO session_hours AS h (hour, shard, logins, seconds)
        SELECT unix_hour(created_at) AS hour, pick, count(*), sum(session_length(created_at, ended_at, last_seen))
        FROM new_rows
        GROUP BY hour ORDER BY hour
        ON CONFLICT (hour, shard) DO UPDATE SET logins = h.logins + excluded.logins, seconds = h.seconds + excluded.seconds;
        INSERT INTO session_ticks AS m (tick, shard, live)
        SELECT unix_tick(last_seen) AS tick, pick, count(*)
        FROM new_rows WHERE status <> 'ended'
        GROUP BY tick ORDER BY tick
        ON CONFLICT (tick, shard) DO UPDATE SET live = m.live + excluded.live;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO session_hours AS h (hour, shard, logins, seconds)
        SELECT unix_hour(created_at) AS hour, pick, -count(*), -sum(session_length(created_at, ended_at, last_seen))
        FROM old_rows
        GROUP BY hour ORDER BY hour
        ON CONFLICT (hour, shard) DO UPDATE SET logins = h.logins + excluded.logins, seconds = h.seconds + excluded.seconds;
        INSERT INTO session_ticks AS m (tick, shard, live)
        SELECT unix_tick(last_seen) AS tick, pick, -count(*)
        FROM old_rows WHERE status <> 'ended'
        GROUP BY tick ORDER BY tick
        ON CONFLICT (tick, shard) DO UPDATE SET live = m.live + excluded.live;
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
        INSERT INTO session_ticks AS m (tick, shard, live)
        SELECT tick, pick, sum(sign)
        FROM (
            SELECT side.sign, unix_tick(side.last_seen) AS tick
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            CROSS JOIN LATERAL (VALUES (-1, o.status, o.last_seen), (1, n.status, n.last_seen))
                AS side(sign, status, last_seen)
            WHERE side.status <> 'ended'
              AND ((o.status = 'ended') IS DISTINCT FROM (n.status = 'ended')
                   OR unix_tick(o.last_seen) <> unix_tick(n.last_seen))
        ) changed
        GROUP BY tick
        HAVING sum(sign) <> 0
        ORDER BY tick
        ON CONFLICT (tick, shard) DO UPDATE SET live = m.live + excluded.live;
    END IF;
    RETURN NULL;
END $function$;

-- The live sessions as they are (at 10 M: a scan of the live index).
INSERT INTO session_ticks (tick, shard, live)
SELECT unix_tick(last_seen), 0, count(*)
FROM sessions WHERE status <> 'ended' GROUP BY 1;

DROP TABLE session_minutes;
DROP FUNCTION unix_minute(timestamptz);
ANALYZE session_ticks;
