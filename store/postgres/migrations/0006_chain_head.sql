-- The head of the audit chain gains a signature (HMAC, key derived from the
-- encryption key, never stored), written in the transaction that appends
-- the event. An existing head stays unsigned until the next append.
ALTER TABLE event_chain
    ADD COLUMN since bigint NOT NULL DEFAULT 0,
    ADD COLUMN sig bytea,
    ADD COLUMN at timestamptz,
    ADD COLUMN checkpoint_at timestamptz;

-- Signed past heads, every N events or minutes: a rewritten stretch of the
-- chain shows between the last checkpoint that matches and the first that
-- does not.
CREATE TABLE event_checkpoints (
    seq   bigint PRIMARY KEY,
    hash  bytea NOT NULL,
    since bigint NOT NULL,
    sig   bytea NOT NULL,
    at    timestamptz NOT NULL
);

-- Erasure also reaches events that name a user only in their personal
-- fields (a magic-link sign-up, a failed login by an unknown identifier).
CREATE INDEX events_unattributed_idx ON events (seq) WHERE user_id = '' AND personal IS NOT NULL AND NOT erased;
