-- How far the visitor has seen the thread in a visible widget (W9 unread badge, E2 unread-reply
-- email). Only moves forward.
ALTER TABLE conversations ADD COLUMN visitor_seen_seq INTEGER NOT NULL DEFAULT 0;
