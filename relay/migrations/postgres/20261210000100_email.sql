-- Email continuity (E1–E6), as SQLite's `…_email.sql`: the email thread of a conversation,
-- outbound delivery state, unverified senders, bouncing addresses, inbound mail kept for
-- admins, magic-link bindings and email templates.

-- One row per conversation that has emailed or been emailed.
CREATE TABLE conversation_mail (
    conversation_id TEXT COLLATE "C" PRIMARY KEY
                        REFERENCES conversations (id) ON DELETE CASCADE,
    -- The subject every email of the thread carries ("Re: …" of the visitor's first email).
    subject         TEXT,
    -- The highest seq an email has carried: the next email starts after it (never twice).
    emailed_up_to   BIGINT NOT NULL DEFAULT 0,
    -- The thread's Message-IDs both ways, oldest first, space-separated: `References`.
    message_ids     TEXT NOT NULL DEFAULT '',
    updated_at      BIGINT NOT NULL
);

-- The address an email reply came from when it is not the contact's (E3).
ALTER TABLE messages ADD COLUMN unverified_sender TEXT;

-- Where the email carrying a message stands (E1): pending, sent or failed with the reason.
CREATE TABLE message_deliveries (
    message_id TEXT COLLATE "C" PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    detail     TEXT,
    updated_at BIGINT NOT NULL
);

-- Set by a bounce (DSN): no unread-reply email goes to the address until it changes.
ALTER TABLE contacts ADD COLUMN email_bouncing_since BIGINT;
CREATE INDEX contacts_by_any_email ON contacts (lower(email));

-- The widget's language, for emails in the visitor's language (E2).
ALTER TABLE visitors ADD COLUMN lang TEXT;

-- Inbound mail that did not become a message: unparseable or unroutable (kept) and
-- auto-replies and bounces (ignored). The raw bytes stay for an admin to look at.
CREATE TABLE inbound_mail (
    id           TEXT COLLATE "C" PRIMARY KEY,
    received_at  BIGINT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('kept', 'ignored')),
    reason       TEXT NOT NULL,
    from_address TEXT,
    subject      TEXT,
    raw          BYTEA NOT NULL
);
CREATE INDEX inbound_mail_newest ON inbound_mail (received_at DESC);

-- A magic link (E6) opened on a device: that visitor id shows the conversation.
CREATE TABLE visitor_links (
    visitor_id      TEXT COLLATE "C" NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (visitor_id, conversation_id)
);

-- A saved response with a subject is an email template (I6).
ALTER TABLE saved_responses ADD COLUMN subject TEXT;
