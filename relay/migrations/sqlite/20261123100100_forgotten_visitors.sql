-- natter('reset') (logout) forgets a visitor id: from then on its token is treated like a
-- forged one, so a copied cookie cannot reopen the contact's history.
ALTER TABLE visitors ADD COLUMN forgotten_at INTEGER;
