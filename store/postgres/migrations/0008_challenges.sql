-- Step-up authentication (issue 17): how a session was proven, and the
-- pending challenges of logins the policy asked for a second proof.
ALTER TABLE sessions ADD COLUMN auth_time timestamptz;
ALTER TABLE sessions ADD COLUMN amr text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN acr text NOT NULL DEFAULT '';

-- A challenge is found by the keyed hash of its secret id; its email code
-- is kept only as a keyed hash bound to the challenge.
CREATE TABLE challenges (
    hash            bytea PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    first_factor    text NOT NULL,
    methods         text NOT NULL DEFAULT '',
    ip              text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT '',
    facts           text NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    outcome         text NOT NULL DEFAULT '',
    ended_at        timestamptz,
    code_hash       bytea,
    code_expires_at timestamptz,
    factor_state    bytea
);
CREATE INDEX challenges_expires ON challenges (expires_at);
CREATE INDEX challenges_user ON challenges (user_id);
