-- Files sent with messages (W8). The bytes live on disk under the attachments directory, named
-- by id; this table says whose they are. `access_token` is the secret part of the download
-- URL, handed only to the conversation's visitor and to agents.
CREATE TABLE attachments (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    -- Set when a message takes the file; NULL while uploaded but not yet sent.
    message_id      TEXT REFERENCES messages (id) ON DELETE CASCADE,
    access_token    TEXT NOT NULL,
    name            TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size            INTEGER NOT NULL,
    uploaded_by     TEXT NOT NULL CHECK (uploaded_by IN ('visitor', 'agent')),
    created_at      INTEGER NOT NULL
);
CREATE INDEX attachments_by_message ON attachments (message_id);
