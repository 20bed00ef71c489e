-- The story of each record: one row per payload a run sent (written as
-- "pending" before the batch goes out, turned into its outcome when it
-- returns) and per change in what runs made of a record they did not send
-- (unchanged, excluded by a filter, skipped, a data error). label is the
-- record's label (an order number), which people ask by.
CREATE TABLE ledger_events (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id  BIGINT NOT NULL,
    job     TEXT NOT NULL,
    dest    TEXT NOT NULL,
    key     TEXT NOT NULL DEFAULT '',
    label   TEXT NOT NULL,
    event   TEXT NOT NULL,
    code    TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL DEFAULT '',
    at      TIMESTAMPTZ NOT NULL
);

CREATE INDEX ledger_events_label ON ledger_events (label, job, dest, id);
CREATE INDEX ledger_events_run ON ledger_events (run_id, key);
CREATE INDEX ledger_events_at ON ledger_events (at);

-- A manual run requested through the API gets its id when it is queued, so
-- that the answer names the run; queued is 1 until it starts.
ALTER TABLE ledger_runs ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
