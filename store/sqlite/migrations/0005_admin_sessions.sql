-- Dashboard sign-ins as revocable records: the cookie holds a random token,
-- this table only its keyed hash.
CREATE TABLE admin_sessions (
    id           TEXT PRIMARY KEY,
    admin_id     TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    end_reason   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX admin_sessions_admin_idx ON admin_sessions (admin_id, created_at);
