-- One row per lock a run holds: the job it runs, the shops it talks to. The
-- row is the lock on SQLite (taken over once its heartbeat is stale); on
-- PostgreSQL an advisory lock is, and the row only names the holder.
CREATE TABLE ledger_locks (
    name      TEXT PRIMARY KEY,
    token     TEXT NOT NULL,
    host      TEXT NOT NULL,
    pid       INTEGER NOT NULL,
    job       TEXT NOT NULL DEFAULT '',
    command   TEXT NOT NULL DEFAULT '',
    run_id    BIGINT NOT NULL DEFAULT 0,
    since     TIMESTAMPTZ NOT NULL,
    heartbeat TIMESTAMPTZ NOT NULL
);

-- A record written to a destination that commits later (a file given its
-- final name when the run ends) is "staged" with the commit's token until then.
ALTER TABLE ledger_entries ADD COLUMN token TEXT NOT NULL DEFAULT '';
