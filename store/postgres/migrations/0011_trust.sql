-- "This wasn't me" and trusted devices (issue 17).
--
-- password_reset_required: the user reported a session as not theirs; a
-- password login is refused (reason password_reset_required) until the
-- emailed reset flow sets a new password.
ALTER TABLE users ADD COLUMN password_reset_required boolean NOT NULL DEFAULT false;

-- Trusted devices: "remember this device" after a passed challenge. The
-- device keeps a random token; this table only its keyed hash, bound to the
-- user. Revoked devices are deleted.
CREATE TABLE trusted_devices (
    id           text PRIMARY KEY,
    user_id      text NOT NULL,
    hash         bytea NOT NULL,
    name         text NOT NULL DEFAULT '',
    ip           text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX trusted_devices_hash_key ON trusted_devices (hash);
CREATE INDEX trusted_devices_user_idx ON trusted_devices (user_id, created_at);
