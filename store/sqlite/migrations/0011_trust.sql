-- "This wasn't me" and trusted devices (issue 17).
--
-- password_reset_required: the user reported a session as not theirs; a
-- password login is refused (reason password_reset_required) until the
-- emailed reset flow sets a new password.
ALTER TABLE users ADD COLUMN password_reset_required INTEGER NOT NULL DEFAULT 0;

-- Trusted devices: "remember this device" after a passed challenge. The
-- device keeps a random token; this table only its keyed hash, bound to the
-- user. Revoked devices are deleted.
CREATE TABLE trusted_devices (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    name         TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX trusted_devices_user_idx ON trusted_devices (user_id, created_at);
