-- End users' second factors (issue 17): a TOTP secret, sealed (AES-256-GCM),
-- with a pending one while the user enrols a new authenticator, and
-- single-use recovery codes stored only as keyed hashes.
CREATE TABLE user_totp (
    user_id        TEXT PRIMARY KEY REFERENCES users (id),
    secret_sealed  BLOB,     -- NULL until a secret is confirmed
    confirmed_at   INTEGER,
    pending_sealed BLOB,     -- NULL when no enrolment is under way
    pending_at     INTEGER
);
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id),
    hash       BLOB NOT NULL,   -- HMAC-SHA256 of the user id and the code
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, hash)
);

-- A step-up of a live session by email code or passkey is a challenge bound
-- to that session ('' for the challenge of a login).
ALTER TABLE challenges ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
