-- The unified inbox (I1–I16): conversation state, groups, internal comments, blocking,
-- saved responses, the audit log and full-text search.

CREATE TABLE agent_groups (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL
);
CREATE TABLE agent_group_members (
    group_id TEXT NOT NULL REFERENCES agent_groups (id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, agent_id)
);

-- Open / complete (I8); any new visitor message reopens.
ALTER TABLE conversations ADD COLUMN status TEXT NOT NULL DEFAULT 'open'
    CHECK (status IN ('open', 'complete'));
-- Assignment (I9).
ALTER TABLE conversations ADD COLUMN assigned_agent_id TEXT REFERENCES agents (id);
ALTER TABLE conversations ADD COLUMN assigned_group_id TEXT REFERENCES agent_groups (id) ON DELETE SET NULL;
-- Shared read state (I4): a visitor message no agent has opened yet.
ALTER TABLE conversations ADD COLUMN unread INTEGER NOT NULL DEFAULT 0;
-- The first visitor message no agent has answered yet (red dot, I3).
ALTER TABLE conversations ADD COLUMN awaiting_reply_since INTEGER;
-- The contact (or visitor) is blocked (I10): kept out of the default list and notifications.
ALTER TABLE conversations ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
-- The channel the conversation started on (chat, email, messenger).
ALTER TABLE conversations ADD COLUMN channel TEXT NOT NULL DEFAULT 'chat'
    CHECK (channel IN ('chat', 'email', 'messenger'));

-- The list's filters walk these in activity order (keyset paging, I2).
CREATE INDEX conversations_by_status_activity ON conversations (status, last_activity_at DESC, id);
CREATE INDEX conversations_by_agent_activity ON conversations (assigned_agent_id, last_activity_at DESC, id);
CREATE INDEX conversations_by_visitor ON conversations (visitor_id);

-- Internal comments (I7): agents only; never in anything a visitor receives.
ALTER TABLE messages ADD COLUMN internal INTEGER NOT NULL DEFAULT 0;

ALTER TABLE contacts ADD COLUMN blocked_at INTEGER;
ALTER TABLE visitors ADD COLUMN blocked_at INTEGER;

-- Saved responses (I6), grouped by a free-text category.
CREATE TABLE saved_responses (
    id         TEXT PRIMARY KEY,
    category   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (category, title)
);

-- What admins and agents did that must be accountable (I11). Never updated or deleted.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    actor_id   TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    details    TEXT NOT NULL
);

-- Full-text search over messages and contacts (I2), kept in step by triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5(body, content = 'messages', content_rowid = 'rowid');
INSERT INTO messages_fts (rowid, body) SELECT rowid, body FROM messages;
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
END;

CREATE VIRTUAL TABLE contacts_fts USING fts5(email, name, phone, company, content = 'contacts', content_rowid = 'rowid');
INSERT INTO contacts_fts (rowid, email, name, phone, company)
    SELECT rowid, email, name, phone, company FROM contacts;
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts (rowid, email, name, phone, company)
    VALUES (new.rowid, new.email, new.name, new.phone, new.company);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, email, name, phone, company)
    VALUES ('delete', old.rowid, old.email, old.name, old.phone, old.company);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF email, name, phone, company ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, email, name, phone, company)
    VALUES ('delete', old.rowid, old.email, old.name, old.phone, old.company);
    INSERT INTO contacts_fts (rowid, email, name, phone, company)
    VALUES (new.rowid, new.email, new.name, new.phone, new.company);
END;
