-- Dashboard sign-ins as revocable records: the cookie holds a random token,
-- this table only its keyed hash.
CREATE TABLE admin_sessions (
    id           text PRIMARY KEY,
    admin_id     text NOT NULL,
    hash         bytea NOT NULL,
    ip           text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    end_reason   text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX admin_sessions_hash_key ON admin_sessions (hash);
CREATE INDEX admin_sessions_admin_idx ON admin_sessions (admin_id, created_at);
