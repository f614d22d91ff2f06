-- Contacts (I16, S2): people the inbox knows by email. A verified contact comes from a signed
-- identity token and is unique per site and email; unverified contacts (an email typed into
-- the widget or passed without a token) belong to one visitor and are never merged into a
-- verified contact's history.
CREATE TABLE contacts (
    id               TEXT PRIMARY KEY,
    site             TEXT NOT NULL,
    email            TEXT NOT NULL COLLATE NOCASE,
    email_verified   INTEGER NOT NULL DEFAULT 0,
    name             TEXT,
    phone            TEXT,
    company          TEXT,
    -- Capture is not consent: nobody is opted in to marketing by chatting.
    marketing_opt_in INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX contacts_one_verified_per_email ON contacts (site, email) WHERE email_verified = 1;

-- Who a visitor id (one device) is known to be, if anyone.
ALTER TABLE visitors ADD COLUMN contact_id TEXT REFERENCES contacts (id);
-- Whose conversation this is. For a verified contact, every device of theirs shows it.
ALTER TABLE conversations ADD COLUMN contact_id TEXT REFERENCES contacts (id);
CREATE INDEX conversations_by_contact ON conversations (contact_id, last_activity_at DESC);
