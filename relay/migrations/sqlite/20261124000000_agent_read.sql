-- How far agents have read the visitor's messages (W4 "read" receipts in the widget). Set when
-- an agent opens the conversation or replies; only moves forward.
ALTER TABLE conversations ADD COLUMN agent_read_seq INTEGER NOT NULL DEFAULT 0;
