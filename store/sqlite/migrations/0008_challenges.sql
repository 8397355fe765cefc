-- Step-up authentication (issue 17): how a session was proven, and the
-- pending challenges of logins the policy asked for a second proof.
ALTER TABLE sessions ADD COLUMN auth_time INTEGER;
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN acr TEXT NOT NULL DEFAULT '';

-- A challenge is found by the keyed hash of its secret id; its email code
-- is kept only as a keyed hash bound to the challenge.
CREATE TABLE challenges (
    hash            BLOB PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    first_factor    TEXT NOT NULL,
    methods         TEXT NOT NULL DEFAULT '',
    ip              TEXT NOT NULL DEFAULT '',
    user_agent      TEXT NOT NULL DEFAULT '',
    facts           TEXT NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    outcome         TEXT NOT NULL DEFAULT '',
    ended_at        INTEGER,
    code_hash       BLOB,
    code_expires_at INTEGER,
    factor_state    BLOB
);
CREATE INDEX challenges_expires ON challenges (expires_at);
CREATE INDEX challenges_user ON challenges (user_id);
