-- Times are unix microseconds (UTC); NULL is the zero time.

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL,
    email_key           TEXT NOT NULL,   -- lower-cased email, for uniqueness and lookup
    username            TEXT NOT NULL,
    username_key        TEXT NOT NULL,   -- lower-cased username
    password_hash       TEXT NOT NULL DEFAULT '',
    external_id         TEXT,            -- NULL when the user has none
    blocked             INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER,
    password_changed_at INTEGER
);
CREATE UNIQUE INDEX users_email_key ON users (email_key) WHERE email_key <> '';
CREATE UNIQUE INDEX users_username_key ON users (username_key) WHERE username_key <> '';
CREATE UNIQUE INDEX users_external_id ON users (external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_created ON users (created_at, id);

CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id),
    status             TEXT NOT NULL,
    end_reason         TEXT NOT NULL DEFAULT '',
    auth_method        TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    last_seen_at       INTEGER NOT NULL,
    ended_at           INTEGER,
    expires_at         INTEGER,
    ip                 TEXT NOT NULL DEFAULT '',
    ip_bin             BLOB,             -- 16 bytes, As16 of the unmapped address
    user_agent         TEXT NOT NULL DEFAULT '',
    device_type        TEXT NOT NULL DEFAULT '',
    browser            TEXT NOT NULL DEFAULT '',
    browser_version    TEXT NOT NULL DEFAULT '',
    os                 TEXT NOT NULL DEFAULT '',
    os_version         TEXT NOT NULL DEFAULT '',
    country_code       TEXT NOT NULL DEFAULT '',
    city               TEXT NOT NULL DEFAULT '',
    location           TEXT NOT NULL DEFAULT '{}', -- JSON of sessionmanager.Location
    threat_vpn         INTEGER NOT NULL DEFAULT 0,
    threat_proxy       INTEGER NOT NULL DEFAULT 0,
    threat_tor         INTEGER NOT NULL DEFAULT 0,
    threat_datacenter  INTEGER NOT NULL DEFAULT 0,
    threat_known       INTEGER NOT NULL DEFAULT 0,
    score              INTEGER NOT NULL DEFAULT 100,
    reasons            TEXT NOT NULL DEFAULT 'null', -- JSON array of RiskReason
    refresh_family     TEXT NOT NULL DEFAULT '',
    refresh_sealed     BLOB,
    refresh_rotated_at INTEGER
);
CREATE INDEX sessions_status_last_seen ON sessions (status, last_seen_at);
CREATE INDEX sessions_user ON sessions (user_id, created_at);
CREATE INDEX sessions_created ON sessions (created_at, id);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at, id);
CREATE INDEX sessions_score ON sessions (score, id);
CREATE INDEX sessions_country ON sessions (country_code);
CREATE INDEX sessions_ip ON sessions (ip_bin);
CREATE INDEX sessions_expires ON sessions (expires_at) WHERE status <> 'ended';
CREATE INDEX sessions_ended ON sessions (ended_at) WHERE status = 'ended';

CREATE TABLE refresh_tokens (
    hash        BLOB PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    replaced_at INTEGER
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- events is append-only: the store has no UPDATE of it but erasure.
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    type            TEXT NOT NULL,
    actor_type      TEXT NOT NULL DEFAULT '',
    actor_id        TEXT NOT NULL DEFAULT '',
    user_id         TEXT NOT NULL DEFAULT '',
    session_id      TEXT NOT NULL DEFAULT '',
    country         TEXT NOT NULL DEFAULT '',
    data            BLOB,  -- byte-exact: the chain hash covers it
    ip              TEXT NOT NULL DEFAULT '',
    user_agent      TEXT NOT NULL DEFAULT '',
    personal        BLOB,
    erased          INTEGER NOT NULL DEFAULT 0,
    personal_digest BLOB,
    prev_hash       BLOB,
    hash            BLOB NOT NULL
);
CREATE INDEX events_user ON events (user_id, seq) WHERE user_id <> '';
CREATE INDEX events_session ON events (session_id, seq) WHERE session_id <> '';
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX events_at ON events (at);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq       INTEGER NOT NULL REFERENCES events (seq),
    rule_id         TEXT NOT NULL DEFAULT '',
    channel         TEXT NOT NULL DEFAULT '',
    target          BLOB,
    payload         BLOB,
    idempotency_key TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at, id);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    id             TEXT PRIMARY KEY,
    algorithm      TEXT NOT NULL,
    private_sealed BLOB,
    public         BLOB,
    created_at     INTEGER NOT NULL,
    retired_at     INTEGER,
    expires_at     INTEGER
);

CREATE TABLE admins (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL DEFAULT '',
    totp_sealed   BLOB,
    created_at    INTEGER NOT NULL
);

CREATE TABLE admin_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL DEFAULT '',
    hash         BLOB NOT NULL UNIQUE,
    scope        TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE magic_links (
    hash       BLOB PRIMARY KEY,
    email      TEXT NOT NULL DEFAULT '',
    user_id    TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX magic_links_expires ON magic_links (expires_at);
