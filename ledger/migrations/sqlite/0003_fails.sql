-- Failed attempts in a row: a failure that parks after so many tries
-- (futureshop's NotFound) counts here; an accepted attempt resets it.
ALTER TABLE ledger_entries ADD COLUMN fails INTEGER NOT NULL DEFAULT 0;
