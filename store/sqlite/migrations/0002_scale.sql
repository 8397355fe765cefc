-- Indexes and trigger-kept counters for list pages and Stats at a million
-- sessions. SQLite has one writer, so row triggers keep the counters exact.

-- A country page sorted by creation or last-seen walks one index in order.
DROP INDEX sessions_country;
CREATE INDEX sessions_country_created ON sessions (country_code, created_at, id);
CREATE INDEX sessions_country_last_seen ON sessions (country_code, last_seen_at, id);
CREATE INDEX sessions_user_created ON sessions (user_id, created_at, id);
DROP INDEX sessions_user;
-- Live sessions by creation (the store adds the term status <> 'ended'
-- when a status filter excludes ended ones, so the planner can pick it).
-- There is no such index by last_seen_at: every touch would move its
-- entries, and a live page by last-seen walks sessions_last_seen, where
-- the recently seen sessions are mostly live.
CREATE INDEX sessions_live_created ON sessions (created_at, id) WHERE status <> 'ended';

-- session_live counts the live sessions (status <> 'ended') per value of
-- each dashboard dimension: dim 0 = country_code, 1 = device_type,
-- 2 = browser, 3 = os; online = how many of them are 'active'.
CREATE TABLE session_live (
    dim    INTEGER NOT NULL,
    key    TEXT NOT NULL,
    live   INTEGER NOT NULL DEFAULT 0,
    online INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, key)
) WITHOUT ROWID;

CREATE TRIGGER sessions_live_insert AFTER INSERT ON sessions WHEN new.status <> 'ended' BEGIN
    INSERT INTO session_live (dim, key, live, online)
    VALUES (0, new.country_code, 1, new.status = 'active'), (1, new.device_type, 1, new.status = 'active'),
           (2, new.browser, 1, new.status = 'active'), (3, new.os, 1, new.status = 'active')
    ON CONFLICT (dim, key) DO UPDATE SET live = live + excluded.live, online = online + excluded.online;
END;

CREATE TRIGGER sessions_live_delete AFTER DELETE ON sessions WHEN old.status <> 'ended' BEGIN
    INSERT INTO session_live (dim, key, live, online)
    VALUES (0, old.country_code, -1, -(old.status = 'active')), (1, old.device_type, -1, -(old.status = 'active')),
           (2, old.browser, -1, -(old.status = 'active')), (3, old.os, -1, -(old.status = 'active'))
    ON CONFLICT (dim, key) DO UPDATE SET live = live + excluded.live, online = online + excluded.online;
END;

-- An update that changes a session's status or dimensions moves it: out of
-- its old buckets when it was live, into its new ones when it is live.
CREATE TRIGGER sessions_live_update_old AFTER UPDATE OF status, country_code, device_type, browser, os ON sessions
WHEN old.status <> 'ended' AND (old.status IS NOT new.status OR old.country_code IS NOT new.country_code
  OR old.device_type IS NOT new.device_type OR old.browser IS NOT new.browser OR old.os IS NOT new.os) BEGIN
    INSERT INTO session_live (dim, key, live, online)
    VALUES (0, old.country_code, -1, -(old.status = 'active')), (1, old.device_type, -1, -(old.status = 'active')),
           (2, old.browser, -1, -(old.status = 'active')), (3, old.os, -1, -(old.status = 'active'))
    ON CONFLICT (dim, key) DO UPDATE SET live = live + excluded.live, online = online + excluded.online;
END;

CREATE TRIGGER sessions_live_update_new AFTER UPDATE OF status, country_code, device_type, browser, os ON sessions
WHEN new.status <> 'ended' AND (old.status IS NOT new.status OR old.country_code IS NOT new.country_code
  OR old.device_type IS NOT new.device_type OR old.browser IS NOT new.browser OR old.os IS NOT new.os) BEGIN
    INSERT INTO session_live (dim, key, live, online)
    VALUES (0, new.country_code, 1, new.status = 'active'), (1, new.device_type, 1, new.status = 'active'),
           (2, new.browser, 1, new.status = 'active'), (3, new.os, 1, new.status = 'active')
    ON CONFLICT (dim, key) DO UPDATE SET live = live + excluded.live, online = online + excluded.online;
END;

INSERT INTO session_live (dim, key, live, online)
SELECT 0, country_code, count(*), sum(status = 'active') FROM sessions WHERE status <> 'ended' GROUP BY country_code
UNION ALL
SELECT 1, device_type, count(*), sum(status = 'active') FROM sessions WHERE status <> 'ended' GROUP BY device_type
UNION ALL
SELECT 2, browser, count(*), sum(status = 'active') FROM sessions WHERE status <> 'ended' GROUP BY browser
UNION ALL
SELECT 3, os, count(*), sum(status = 'active') FROM sessions WHERE status <> 'ended' GROUP BY os;

-- session_days rolls sessions up by UTC day of login (created_at divided by
-- the microseconds of a day): logins, and the summed length in
-- microseconds, coalesce(ended_at, last_seen_at) - created_at, of all of
-- them, live ones included (a touch moves it).
CREATE TABLE session_days (
    day    INTEGER PRIMARY KEY,
    logins INTEGER NOT NULL DEFAULT 0,
    micros INTEGER NOT NULL DEFAULT 0
);

CREATE TRIGGER sessions_days_insert AFTER INSERT ON sessions BEGIN
    INSERT INTO session_days (day, logins, micros)
    VALUES (new.created_at / 86400000000, 1, coalesce(new.ended_at, new.last_seen_at) - new.created_at)
    ON CONFLICT (day) DO UPDATE SET logins = logins + excluded.logins, micros = micros + excluded.micros;
END;

CREATE TRIGGER sessions_days_delete AFTER DELETE ON sessions BEGIN
    INSERT INTO session_days (day, logins, micros)
    VALUES (old.created_at / 86400000000, -1, -(coalesce(old.ended_at, old.last_seen_at) - old.created_at))
    ON CONFLICT (day) DO UPDATE SET logins = logins + excluded.logins, micros = micros + excluded.micros;
END;

-- A touch (the hot path: last_seen_at moves, the day stays) is one update
-- of its day's row, which exists: the session was counted there.
CREATE TRIGGER sessions_days_touch AFTER UPDATE OF ended_at, last_seen_at ON sessions
WHEN old.created_at IS new.created_at
  AND coalesce(old.ended_at, old.last_seen_at) IS NOT coalesce(new.ended_at, new.last_seen_at) BEGIN
    UPDATE session_days SET micros = micros + coalesce(new.ended_at, new.last_seen_at) - coalesce(old.ended_at, old.last_seen_at)
    WHERE day = new.created_at / 86400000000;
END;

CREATE TRIGGER sessions_days_move AFTER UPDATE OF created_at ON sessions
WHEN old.created_at IS NOT new.created_at BEGIN
    INSERT INTO session_days (day, logins, micros)
    VALUES (old.created_at / 86400000000, -1, -(coalesce(old.ended_at, old.last_seen_at) - old.created_at))
    ON CONFLICT (day) DO UPDATE SET logins = logins + excluded.logins, micros = micros + excluded.micros;
    INSERT INTO session_days (day, logins, micros)
    VALUES (new.created_at / 86400000000, 1, coalesce(new.ended_at, new.last_seen_at) - new.created_at)
    ON CONFLICT (day) DO UPDATE SET logins = logins + excluded.logins, micros = micros + excluded.micros;
END;

INSERT INTO session_days (day, logins, micros)
SELECT created_at / 86400000000, count(*), coalesce(sum(coalesce(ended_at, last_seen_at) - created_at), 0)
FROM sessions GROUP BY 1;

-- user_counts is one row: users and blocked users.
CREATE TABLE user_counts (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    total   INTEGER NOT NULL,
    blocked INTEGER NOT NULL
);
INSERT INTO user_counts (id, total, blocked) SELECT 1, count(*), coalesce(sum(blocked <> 0), 0) FROM users;

CREATE TRIGGER users_counts_insert AFTER INSERT ON users BEGIN
    UPDATE user_counts SET total = total + 1, blocked = blocked + (new.blocked <> 0);
END;

CREATE TRIGGER users_counts_delete AFTER DELETE ON users BEGIN
    UPDATE user_counts SET total = total - 1, blocked = blocked - (old.blocked <> 0);
END;

CREATE TRIGGER users_counts_update AFTER UPDATE OF blocked ON users
WHEN (old.blocked <> 0) IS NOT (new.blocked <> 0) BEGIN
    UPDATE user_counts SET blocked = blocked + (new.blocked <> 0) - (old.blocked <> 0);
END;

ANALYZE;
