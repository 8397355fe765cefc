-- The signed head of the audit chain: the newest event's seq and hash,
-- signed (HMAC, key derived from the encryption key, never stored) in the
-- transaction that appends the event; appends read the previous hash from
-- here. A chain that predates signing gets an unsigned head from its last
-- event; the next append signs it, with since = that event (see
-- sessionmanager.ChainHead.Since).
CREATE TABLE event_chain (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    seq           INTEGER NOT NULL,
    hash          BLOB,
    since         INTEGER NOT NULL DEFAULT 0,
    sig           BLOB,
    at            INTEGER NOT NULL DEFAULT 0,
    checkpoint_at INTEGER NOT NULL DEFAULT 0
);
INSERT INTO event_chain (id, seq, hash)
    SELECT 1, coalesce(max(seq), 0), (SELECT hash FROM events ORDER BY seq DESC LIMIT 1) FROM events;

-- Signed past heads, every N events or minutes: a rewritten stretch of the
-- chain shows between the last checkpoint that matches and the first that
-- does not.
CREATE TABLE event_checkpoints (
    seq   INTEGER PRIMARY KEY,
    hash  BLOB NOT NULL,
    since INTEGER NOT NULL,
    sig   BLOB NOT NULL,
    at    INTEGER NOT NULL
);

-- Erasure also reaches events that name a user only in their personal
-- fields (a magic-link sign-up, a failed login by an unknown identifier).
CREATE INDEX events_unattributed ON events (seq) WHERE user_id = '' AND personal IS NOT NULL AND erased = 0;
