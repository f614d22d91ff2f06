-- The PostgreSQL schema: the same tables and rules as the SQLite migrations up to the
-- channel-neutral rebuild, written once in their final form (no PostgreSQL database predates
-- them). Times are Unix milliseconds (UTC, BIGINT); ids are text (UUIDs, or base64url for
-- visitors), in the "C" collation so that ordering and keyset paging by id compare bytes, as
-- SQLite does, whatever the database's locale. Where SQLite uses COLLATE NOCASE, PostgreSQL
-- compares and indexes lower(…).

-- The words of a text as SQLite's FTS5 tokenizer sees them: every ASCII character that is not a
-- letter or a digit separates words (the text-search parser then splits non-ASCII punctuation
-- itself). Without this, PostgreSQL's parser would keep `grace@navy.example` as one email
-- token, and a search for `navy` would miss it. The `simple` configuration lowercases and
-- keeps every word (no stemming, no stop words), like FTS5's `unicode61`.
CREATE FUNCTION natter_search_document(VARIADIC parts TEXT[]) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT to_tsvector('simple'::regconfig,
            regexp_replace(array_to_string(parts, ' '),
                           '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+', ' ', 'g'))
    $$;

CREATE TABLE agents (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX agents_email ON agents (lower(email));

CREATE TABLE agent_sessions (
    -- SHA-256 of the cookie value: a copy of the database holds no usable session.
    token_hash TEXT PRIMARY KEY,
    agent_id   TEXT COLLATE "C" NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX agent_sessions_by_agent ON agent_sessions (agent_id);

CREATE TABLE agent_groups (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX agent_groups_name ON agent_groups (lower(name));

CREATE TABLE agent_group_members (
    group_id TEXT COLLATE "C" NOT NULL REFERENCES agent_groups (id) ON DELETE CASCADE,
    agent_id TEXT COLLATE "C" NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, agent_id)
);
CREATE INDEX agent_group_members_by_agent ON agent_group_members (agent_id);

-- Contacts (I16, S2): people the inbox knows by email. A verified contact comes from a signed
-- identity token and is unique per site and email (in any case).
CREATE TABLE contacts (
    id               TEXT COLLATE "C" PRIMARY KEY,
    site             TEXT NOT NULL,
    email            TEXT NOT NULL,
    email_verified   BOOLEAN NOT NULL DEFAULT FALSE,
    name             TEXT,
    phone            TEXT,
    company          TEXT,
    -- Capture is not consent: nobody is opted in to marketing by chatting.
    marketing_opt_in BOOLEAN NOT NULL DEFAULT FALSE,
    blocked_at       BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    -- The inbox search over the contact's details (I2).
    search           tsvector GENERATED ALWAYS AS
                         (natter_search_document(email, name, phone, company)) STORED
);
CREATE UNIQUE INDEX contacts_one_verified_per_email ON contacts (site, lower(email))
    WHERE email_verified;
CREATE INDEX contacts_by_email ON contacts (site, lower(email));
CREATE INDEX contacts_search ON contacts USING GIN (search);

-- One device of a web visitor, and who it is known to be.
CREATE TABLE visitors (
    id           TEXT COLLATE "C" PRIMARY KEY,
    site         TEXT NOT NULL,
    contact_id   TEXT COLLATE "C" REFERENCES contacts (id),
    -- natter('reset') (logout) retires the id for good.
    forgotten_at BIGINT,
    blocked_at   BIGINT,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX visitors_by_contact ON visitors (contact_id);

CREATE TABLE conversations (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    site                 TEXT NOT NULL,
    -- The web visitor whose chat this is; NULL when it started on another channel.
    visitor_id           TEXT COLLATE "C" REFERENCES visitors (id),
    -- A thread another system names (a Messenger PSID, an email address for a new sender).
    external_thread_id   TEXT,
    -- Highest sequence number handed out (0 = no message yet). Appends take the row's lock
    -- by bumping it, which serialises them per conversation across every node.
    last_seq             BIGINT NOT NULL DEFAULT 0,
    last_activity_at     BIGINT NOT NULL,
    last_message_preview TEXT,
    created_at           BIGINT NOT NULL,
    contact_id           TEXT COLLATE "C" REFERENCES contacts (id),
    visitor_seen_seq     BIGINT NOT NULL DEFAULT 0,
    agent_read_seq       BIGINT NOT NULL DEFAULT 0,
    status               TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'complete')),
    assigned_agent_id    TEXT COLLATE "C" REFERENCES agents (id),
    assigned_group_id    TEXT COLLATE "C" REFERENCES agent_groups (id) ON DELETE SET NULL,
    unread               BOOLEAN NOT NULL DEFAULT FALSE,
    awaiting_reply_since BIGINT,
    blocked              BOOLEAN NOT NULL DEFAULT FALSE,
    channel              TEXT NOT NULL DEFAULT 'chat'
                             CHECK (channel IN ('chat', 'email', 'messenger')),
    -- Someone a conversation belongs to: a visitor, a contact or an external thread.
    CHECK (visitor_id IS NOT NULL OR contact_id IS NOT NULL OR external_thread_id IS NOT NULL)
);
-- One chat per visitor and site; one conversation per external thread (NULLs are distinct).
CREATE UNIQUE INDEX conversations_one_per_visitor ON conversations (site, visitor_id);
CREATE UNIQUE INDEX conversations_one_per_thread
    ON conversations (site, channel, external_thread_id);
CREATE INDEX conversations_by_activity ON conversations (last_activity_at DESC, id);
CREATE INDEX conversations_by_contact ON conversations (contact_id, last_activity_at DESC);
CREATE INDEX conversations_by_status_activity
    ON conversations (status, last_activity_at DESC, id);
CREATE INDEX conversations_by_agent_activity
    ON conversations (assigned_agent_id, last_activity_at DESC, id);
CREATE INDEX conversations_by_visitor ON conversations (visitor_id);

CREATE TABLE messages (
    id              TEXT COLLATE "C" PRIMARY KEY,
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    -- The door's idempotency key: a resent message is not stored again.
    client_id       TEXT COLLATE "C" NOT NULL,
    author_kind     TEXT NOT NULL
                        CHECK (author_kind IN ('visitor', 'contact', 'agent', 'bot', 'system')),
    agent_id        TEXT COLLATE "C" REFERENCES agents (id),
    -- The agent's, contact's or bot's display name when the message was written.
    author_name     TEXT,
    channel         TEXT NOT NULL CHECK (channel IN ('chat', 'email', 'messenger')),
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    -- Internal comments (I7): agents only.
    internal        BOOLEAN NOT NULL DEFAULT FALSE,
    search          tsvector GENERATED ALWAYS AS (natter_search_document(body)) STORED,
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, client_id)
);
CREATE INDEX messages_search ON messages USING GIN (search);

-- Files sent with messages (W8). `access_token` is the secret part of the download URL.
CREATE TABLE attachments (
    id              TEXT COLLATE "C" PRIMARY KEY,
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    -- Set when a message takes the file; NULL while uploaded but not yet sent.
    message_id      TEXT COLLATE "C" REFERENCES messages (id) ON DELETE CASCADE,
    access_token    TEXT NOT NULL,
    name            TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size            BIGINT NOT NULL,
    uploaded_by     TEXT NOT NULL CHECK (uploaded_by IN ('visitor', 'agent')),
    -- The order of a message's files as the sender listed them.
    position        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);
CREATE INDEX attachments_by_message ON attachments (message_id);
CREATE INDEX attachments_by_conversation ON attachments (conversation_id);

-- Saved responses (I6), grouped by a free-text category.
CREATE TABLE saved_responses (
    id         TEXT COLLATE "C" PRIMARY KEY,
    category   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (category, title)
);

-- What admins and agents did that must be accountable (I11). Never updated or deleted.
CREATE TABLE audit_log (
    id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor_id   TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    details    TEXT NOT NULL
);

-- The jobs queue: what must happen after a message, written in the message's transaction and
-- claimed by one worker at a time (`FOR UPDATE SKIP LOCKED` and a lease).
CREATE TABLE jobs (
    id           TEXT COLLATE "C" PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    -- Jobs with the same key are enqueued once (NULLs are distinct: no rule).
    dedupe_key   TEXT UNIQUE,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    run_at       BIGINT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    -- The worker holding the lease, until `locked_until`.
    locked_by    TEXT,
    locked_until BIGINT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at);
