-- The walking spine: visitors, their conversations and messages, agents and their sessions.
-- Times are Unix milliseconds (UTC); ids are text (UUIDs, or base64url for visitors).

CREATE TABLE visitors (
    id           TEXT PRIMARY KEY,
    site         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);

CREATE TABLE conversations (
    id                   TEXT PRIMARY KEY,
    site                 TEXT NOT NULL,
    visitor_id           TEXT NOT NULL REFERENCES visitors (id),
    -- Highest sequence number handed out in this conversation (0 = no message yet).
    last_seq             INTEGER NOT NULL DEFAULT 0,
    last_activity_at     INTEGER NOT NULL,
    last_message_preview TEXT,
    created_at           INTEGER NOT NULL
);
-- One chat conversation per visitor and site: two tabs writing their first message at once
-- must end up in the same thread.
CREATE UNIQUE INDEX conversations_one_per_visitor ON conversations (site, visitor_id);
CREATE INDEX conversations_by_activity ON conversations (last_activity_at DESC, id);

CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    -- The sender's idempotency key: a resent message hits the unique index and is not stored again.
    client_id       TEXT NOT NULL,
    author_kind     TEXT NOT NULL CHECK (author_kind IN ('visitor', 'agent')),
    agent_id        TEXT REFERENCES agents (id),
    -- The agent's display name when the message was written.
    author_name     TEXT,
    channel         TEXT NOT NULL CHECK (channel IN ('chat', 'email', 'messenger')),
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, client_id)
);

CREATE TABLE agent_sessions (
    -- SHA-256 of the cookie value: a copy of the database holds no usable session.
    token_hash TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX agent_sessions_by_agent ON agent_sessions (agent_id);
