-- Passkeys (WebAuthn credentials): public keys only, nothing secret.
-- transports is a JSON array of strings.
CREATE TABLE passkeys (
    id                 TEXT PRIMARY KEY,
    credential_id      BLOB NOT NULL UNIQUE,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               TEXT NOT NULL DEFAULT '',
    public_key         BLOB NOT NULL,
    sign_count         INTEGER NOT NULL DEFAULT 0,
    transports         TEXT NOT NULL DEFAULT '[]',
    aaguid             BLOB,
    backup_eligible    INTEGER NOT NULL DEFAULT 0,
    backup_state       INTEGER NOT NULL DEFAULT 0,
    user_verified      INTEGER NOT NULL DEFAULT 0,
    attestation_type   TEXT NOT NULL DEFAULT '',
    attestation_format TEXT NOT NULL DEFAULT '',
    attachment         TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER
);
CREATE INDEX passkeys_user_idx ON passkeys (user_id, created_at);

-- The state of a WebAuthn ceremony between its options and the browser's
-- answer, found by the keyed hash of its challenge; single use (consumed
-- by DELETE ... RETURNING), short lived, the state sealed.
CREATE TABLE passkey_ceremonies (
    hash         BLOB PRIMARY KEY,
    purpose      TEXT NOT NULL,
    user_id      TEXT NOT NULL DEFAULT '',
    session_id   TEXT NOT NULL DEFAULT '',
    challenge_id TEXT NOT NULL DEFAULT '',
    state        BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX passkey_ceremonies_expires_idx ON passkey_ceremonies (expires_at);
