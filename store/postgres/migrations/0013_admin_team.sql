-- Admin roles (owner, admin, viewer: existing admins become owners),
-- deactivation, the latest sign-in, single-use invitations (token hash
-- only) and TOTP recovery codes (keyed hashes, each used once).
ALTER TABLE admins ADD COLUMN role text NOT NULL DEFAULT 'owner';
ALTER TABLE admins ADD COLUMN disabled_at timestamptz;
ALTER TABLE admins ADD COLUMN last_sign_in_at timestamptz;

CREATE TABLE admin_invites (
    hash       bytea PRIMARY KEY,
    email      text NOT NULL,
    role       text NOT NULL,
    invited_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

CREATE TABLE admin_recovery_codes (
    admin_id text NOT NULL,
    hash     bytea NOT NULL,
    used_at  timestamptz,
    PRIMARY KEY (admin_id, hash)
);
