-- The order of a message's files as the sender listed them (uploads finish in any order).
ALTER TABLE attachments ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
