CREATE TABLE ledger_runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job        TEXT NOT NULL,
    trigger    TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    ended_at   TIMESTAMP,
    sent       INTEGER NOT NULL DEFAULT 0,
    ok         INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    parked     INTEGER NOT NULL DEFAULT 0,
    unchanged  INTEGER NOT NULL DEFAULT 0,
    excluded   INTEGER NOT NULL DEFAULT 0,
    errors     INTEGER NOT NULL DEFAULT 0,
    error      TEXT NOT NULL DEFAULT ''
);

CREATE INDEX ledger_runs_job ON ledger_runs (job, id);

CREATE TABLE ledger_entries (
    job      TEXT NOT NULL,
    dest     TEXT NOT NULL,
    key      TEXT NOT NULL,
    hash     TEXT NOT NULL DEFAULT '',
    payload  TEXT NOT NULL DEFAULT '',
    status   TEXT NOT NULL,
    code     TEXT NOT NULL DEFAULT '',
    message  TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    first_at TIMESTAMP NOT NULL,
    last_at  TIMESTAMP NOT NULL,
    run_id   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, job, dest) -- key first: lookups are by key list, and no statistics are needed to see that
);

CREATE INDEX ledger_entries_status ON ledger_entries (status, job);
