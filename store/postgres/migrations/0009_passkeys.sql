-- Passkeys (WebAuthn credentials): public keys only, nothing secret.
CREATE TABLE passkeys (
    id                 text PRIMARY KEY,
    credential_id      bytea NOT NULL,
    user_id            text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               text NOT NULL DEFAULT '',
    public_key         bytea NOT NULL,
    sign_count         bigint NOT NULL DEFAULT 0,
    transports         text[] NOT NULL DEFAULT '{}',
    aaguid             bytea,
    backup_eligible    boolean NOT NULL DEFAULT false,
    backup_state       boolean NOT NULL DEFAULT false,
    user_verified      boolean NOT NULL DEFAULT false,
    attestation_type   text NOT NULL DEFAULT '',
    attestation_format text NOT NULL DEFAULT '',
    attachment         text NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL,
    last_used_at       timestamptz,
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id)
);
CREATE INDEX passkeys_user_idx ON passkeys (user_id, created_at);

-- The state of a WebAuthn ceremony between its options and the browser's
-- answer, found by the keyed hash of its challenge; single use (consumed
-- by DELETE ... RETURNING), short lived, the state sealed.
CREATE TABLE passkey_ceremonies (
    hash         bytea PRIMARY KEY,
    purpose      text NOT NULL,
    user_id      text NOT NULL DEFAULT '',
    session_id   text NOT NULL DEFAULT '',
    challenge_id text NOT NULL DEFAULT '',
    state        bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX passkey_ceremonies_expires_idx ON passkey_ceremonies (expires_at);
