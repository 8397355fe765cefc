-- End users' second factors (issue 17): a TOTP secret, sealed (AES-256-GCM),
-- with a pending one while the user enrols a new authenticator, and
-- single-use recovery codes stored only as keyed hashes.
CREATE TABLE user_totp (
    user_id        text PRIMARY KEY REFERENCES users (id),
    secret_sealed  bytea,        -- NULL until a secret is confirmed
    confirmed_at   timestamptz,
    pending_sealed bytea,        -- NULL when no enrolment is under way
    pending_at     timestamptz
);
CREATE TABLE recovery_codes (
    user_id    text NOT NULL REFERENCES users (id),
    hash       bytea NOT NULL,   -- HMAC-SHA256 of the user id and the code
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, hash)
);

-- A step-up of a live session by email code or passkey is a challenge bound
-- to that session ('' for the challenge of a login).
ALTER TABLE challenges ADD COLUMN session_id text NOT NULL DEFAULT '';
