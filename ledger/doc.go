// Package ledger is the runner's memory: what was sent to each destination,
// what came back, the history of runs, and each record's story.
//
// For every job × destination × record key it keeps the last payload and its
// hash, the outcome (pending, ok, failed, parked), the destination's code and
// message, the number of attempts and when. The engine asks it, batch by
// batch, which records are unchanged since their last successful export
// (skipped), which failed (retried) and which were parked (skipped until
// someone calls Retry). Intent is written before a batch is sent (Begin) and
// outcomes as each batch returns (Record, in the same transaction as the
// run's progress), so a run killed at any instant leaves every record it
// cannot prove accepted as "pending", and the next run sends it again.
//
// Beside the latest entries, events (events.go) keep what each run did
// with each record: every send with its payload and outcome, written in
// Begin's and Record's transactions, and what runs made of records they did
// not send (Note), only when it changed, so that a job reading the same
// orders every ten minutes for years adds nothing while they stay the same.
// Prune, run as runs finish (KeepEvents), bounds their age. A run may be
// queued (QueueRun) before it starts, so that whoever asked for it knows
// its id at once.
//
// The store is SQLite (modernc.org/sqlite, pure Go) at a file path, or
// PostgreSQL when the DSN is a postgres:// URL. Both go through database/sql
// with the same queries; only placeholders (Store.rebind) and the migration
// files differ. Migrations are embedded and applied by Open.
//
// It is not a queue or a scheduler (see package scheduler), it does not
// decide what to send (the engine does), and it knows no connector: keys,
// hashes and payloads are opaque strings and JSON to it.
package ledger
