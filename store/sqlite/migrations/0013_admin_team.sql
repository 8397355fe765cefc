-- Admin roles (owner, admin, viewer: existing admins become owners),
-- deactivation, the latest sign-in, single-use invitations (token hash
-- only) and TOTP recovery codes (keyed hashes, each used once).
ALTER TABLE admins ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';
ALTER TABLE admins ADD COLUMN disabled_at INTEGER;
ALTER TABLE admins ADD COLUMN last_sign_in_at INTEGER;

CREATE TABLE admin_invites (
    hash       BLOB PRIMARY KEY,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL,
    invited_by TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

CREATE TABLE admin_recovery_codes (
    admin_id TEXT NOT NULL,
    hash     BLOB NOT NULL,
    used_at  INTEGER,
    PRIMARY KEY (admin_id, hash)
);
