-- Channel-neutral conversations (email, Messenger, bot and system messages) and the jobs queue.
--
-- SQLite cannot drop a NOT NULL or change a CHECK in place, so `conversations` and `messages`
-- are rebuilt, and `attachments` with them. sqlx runs every SQLite migration inside a
-- transaction, where `PRAGMA foreign_keys = OFF` does nothing; so, to keep dropping an old
-- table from cascading into the rows just copied, the new tables refer to each other under
-- their new names, the old ones are dropped children first, and the renames at the end
-- (SQLite rewrites references on rename) give the new tables the old names.

CREATE TABLE conversations_new (
    id                   TEXT PRIMARY KEY,
    site                 TEXT NOT NULL,
    -- The web visitor whose chat this is; NULL when it started on another channel.
    visitor_id           TEXT REFERENCES visitors (id),
    -- A thread another system names (a Messenger PSID, an email address for a new sender):
    -- one conversation per site, channel and thread.
    external_thread_id   TEXT,
    last_seq             INTEGER NOT NULL DEFAULT 0,
    last_activity_at     INTEGER NOT NULL,
    last_message_preview TEXT,
    created_at           INTEGER NOT NULL,
    contact_id           TEXT REFERENCES contacts (id),
    visitor_seen_seq     INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'complete')),
    assigned_agent_id    TEXT REFERENCES agents (id),
    assigned_group_id    TEXT REFERENCES agent_groups (id) ON DELETE SET NULL,
    unread               INTEGER NOT NULL DEFAULT 0,
    awaiting_reply_since INTEGER,
    blocked              INTEGER NOT NULL DEFAULT 0,
    channel              TEXT NOT NULL DEFAULT 'chat' CHECK (channel IN ('chat', 'email', 'messenger')),
    agent_read_seq       INTEGER NOT NULL DEFAULT 0,
    -- Someone a conversation belongs to: a visitor, a contact or an external thread.
    CHECK (visitor_id IS NOT NULL OR contact_id IS NOT NULL OR external_thread_id IS NOT NULL)
);
INSERT INTO conversations_new
    (id, site, visitor_id, external_thread_id, last_seq, last_activity_at, last_message_preview,
     created_at, contact_id, visitor_seen_seq, status, assigned_agent_id, assigned_group_id,
     unread, awaiting_reply_since, blocked, channel, agent_read_seq)
SELECT id, site, visitor_id, NULL, last_seq, last_activity_at, last_message_preview,
       created_at, contact_id, visitor_seen_seq, status, assigned_agent_id, assigned_group_id,
       unread, awaiting_reply_since, blocked, channel, agent_read_seq
FROM conversations;

CREATE TABLE messages_new (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations_new (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    -- The door's idempotency key (the widget's client id; one derived from an email's
    -- Message-ID or a Messenger mid): a resent message is not stored again.
    client_id       TEXT NOT NULL,
    author_kind     TEXT NOT NULL CHECK (author_kind IN ('visitor', 'contact', 'agent', 'bot', 'system')),
    agent_id        TEXT REFERENCES agents (id),
    -- The agent's, contact's or bot's display name when the message was written.
    author_name     TEXT,
    channel         TEXT NOT NULL CHECK (channel IN ('chat', 'email', 'messenger')),
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    internal        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, client_id)
);
-- Row ids are kept: the full-text index refers to messages by rowid.
INSERT INTO messages_new
    (rowid, id, conversation_id, seq, client_id, author_kind, agent_id, author_name, channel,
     body, created_at, internal)
SELECT rowid, id, conversation_id, seq, client_id, author_kind, agent_id, author_name, channel,
       body, created_at, internal
FROM messages;

CREATE TABLE attachments_new (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations_new (id) ON DELETE CASCADE,
    -- Set when a message takes the file; NULL while uploaded but not yet sent.
    message_id      TEXT REFERENCES messages_new (id) ON DELETE CASCADE,
    access_token    TEXT NOT NULL,
    name            TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size            INTEGER NOT NULL,
    uploaded_by     TEXT NOT NULL CHECK (uploaded_by IN ('visitor', 'agent')),
    created_at      INTEGER NOT NULL,
    position        INTEGER NOT NULL DEFAULT 0
);
INSERT INTO attachments_new
    (id, conversation_id, message_id, access_token, name, content_type, size, uploaded_by,
     created_at, position)
SELECT id, conversation_id, message_id, access_token, name, content_type, size, uploaded_by,
       created_at, position
FROM attachments;

-- Children first, so no drop finds rows that refer to the table it empties.
DROP TABLE attachments;
DROP TABLE messages;
DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;
ALTER TABLE messages_new RENAME TO messages;
ALTER TABLE attachments_new RENAME TO attachments;

-- One chat conversation per visitor and site (NULLs are distinct, so other channels are free).
CREATE UNIQUE INDEX conversations_one_per_visitor ON conversations (site, visitor_id);
CREATE UNIQUE INDEX conversations_one_per_thread ON conversations (site, channel, external_thread_id);
CREATE INDEX conversations_by_activity ON conversations (last_activity_at DESC, id);
CREATE INDEX conversations_by_contact ON conversations (contact_id, last_activity_at DESC);
CREATE INDEX conversations_by_status_activity ON conversations (status, last_activity_at DESC, id);
CREATE INDEX conversations_by_agent_activity ON conversations (assigned_agent_id, last_activity_at DESC, id);
CREATE INDEX conversations_by_visitor ON conversations (visitor_id);

CREATE INDEX attachments_by_message ON attachments (message_id);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
END;

-- The jobs queue: what must happen after a message (an email, a webhook delivery, a Messenger
-- send), written in the message's transaction and claimed by one worker at a time.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    -- Jobs with the same key are enqueued once.
    dedupe_key   TEXT UNIQUE,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    run_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    -- The worker holding the lease, until `locked_until`.
    locked_by    TEXT,
    locked_until INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at);

