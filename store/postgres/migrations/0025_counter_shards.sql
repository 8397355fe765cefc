-- More counter shards: 32 instead of 8 (issue 23, the fleet).
--
-- Every session write adds its delta to one random shard of each counter
-- row it changes (session_days, session_live, session_hours,
-- session_minutes), and holds that row's lock until its transaction
-- commits. A force logout changes seven counter rows (its day, its
-- hour, its last-seen minute, and its country, device type, browser and
-- OS); with ten instances ending sessions at once (40 pooled
-- connections), two of them picked the same shard of some row most of
-- the time and the second waited for the first's commit. pgbench on this
-- machine, 40 clients ending distinct sessions: 1,505-1,554 ends/s with
-- 8 shards, 1,652-1,967 with 32 (docs/PERFORMANCE.md, "A fleet").
--
-- Readers sum every shard of a key, whatever their number, so the change
-- is only the pick; rows written with shards 0-7 stay valid. Stats reads
-- up to four times as many counter rows (at most 32 per key).

CREATE OR REPLACE FUNCTION session_days_delta()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO session_days AS d (day, shard, logins, ended, ended_seconds, seconds)
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, floor(random() * 32)::smallint,
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
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, floor(random() * 32)::smallint,
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
        SELECT day, floor(random() * 32)::smallint, sum(sign), sum(sign * is_ended), sum(sign * ended_secs),
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
END $function$;

CREATE OR REPLACE FUNCTION session_live_delta()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    pick smallint := floor(random() * 32)::smallint;
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
END $function$;

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
END $function$;
