package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// closeOpen closes, as Interrupted, the open runs of job that started: the
// caller holds the job's lock, so their processes are gone. Queued runs
// are waiting for their turn, not dead.
func (s *Store) closeOpen(ctx context.Context, tx *sql.Tx, job string, at time.Time) error {
	_, err := tx.ExecContext(ctx, s.rebind(`UPDATE ledger_runs SET ended_at = ?, error = ?
		WHERE job = ? AND ended_at IS NULL AND queued = 0`), at.UTC(), Interrupted, job)
	return err
}

// QueueRun records a run that was requested and waits for its turn, and
// returns its id: the id StartQueued starts it under, so that whoever
// asked can follow the run before it starts. Its status is "queued".
func (s *Store) QueueRun(ctx context.Context, job, trigger string, at time.Time) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, s.rebind(
		`INSERT INTO ledger_runs (job, trigger, started_at, queued) VALUES (?, ?, ?, 1) RETURNING id`),
		job, trigger, at.UTC()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("queue run of %s: %w", job, err)
	}
	return id, nil
}

// StartQueued starts the queued run id as a run of job with trigger at
// at, as StartRun starts a new one. What was queued under a scheduler's
// name (a reconcile of the job) becomes the run of what actually runs. It
// returns an error wrapping ErrNotFound when id is not a queued run (it
// started already, or was dropped).
func (s *Store) StartQueued(ctx context.Context, id int64, job, trigger string, at time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.closeOpen(ctx, tx, job, at); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.rebind(`UPDATE ledger_runs SET queued = 0, started_at = ?, job = ?, trigger = ?
			WHERE id = ? AND queued = 1`), at.UTC(), job, trigger, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return fmt.Errorf("not a queued run: %w", ErrNotFound)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("start run %d of %s: %w", id, job, err)
	}
	return nil
}

// DropQueued removes the queued run id: the request joined another run
// already queued, so it never was a run of its own.
func (s *Store) DropQueued(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM ledger_runs WHERE id = ? AND queued = 1`), id); err != nil {
		return fmt.Errorf("drop queued run %d: %w", id, err)
	}
	return nil
}

// CancelQueued ends the queued run id without running it, with why as its
// error (the job is no longer configured).
func (s *Store) CancelQueued(ctx context.Context, id int64, why string) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`UPDATE ledger_runs SET queued = 0, ended_at = ?, error = ?
		WHERE id = ? AND queued = 1`), s.now().UTC(), why, id); err != nil {
		return fmt.Errorf("cancel queued run %d: %w", id, err)
	}
	return nil
}

// RunStatuses are the values of Run.Status, each with the condition that
// selects it in SQL; status derives the same from a scanned row.
var runStatuses = map[string]string{
	"queued":      `queued = 1`,
	"running":     `queued = 0 AND ended_at IS NULL`,
	"interrupted": `ended_at IS NOT NULL AND error = 'interrupted'`,
	"error":       `ended_at IS NOT NULL AND error <> '' AND error <> 'interrupted'`,
	"failed":      `ended_at IS NOT NULL AND error = '' AND (failed > 0 OR parked > 0)`,
	"ok":          `ended_at IS NOT NULL AND error = '' AND failed = 0 AND parked = 0`,
}

// RunStatuses lists the statuses a run may have, sorted.
func RunStatuses() []string {
	out := make([]string, 0, len(runStatuses))
	for k := range runStatuses {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// RunFilter selects runs. Zero fields select everything.
type RunFilter struct {
	Job    string
	Status string    // one of RunStatuses
	Since  time.Time // runs started (or requested) at or after
	Limit  int       // at most this many, newest first; 0: no limit
}

// ErrBadFilter is returned for a filter that cannot select anything, such
// as an unknown status.
var ErrBadFilter = errors.New("bad filter")

// Runs returns the runs f selects, newest first.
func (s *Store) Runs(ctx context.Context, f RunFilter) ([]Run, error) {
	q := `SELECT ` + runColumns + ` FROM ledger_runs WHERE 1 = 1`
	var args []any
	if f.Job != "" {
		q += ` AND job = ?`
		args = append(args, f.Job)
	}
	if f.Status != "" {
		cond, ok := runStatuses[f.Status]
		if !ok {
			return nil, fmt.Errorf("runs: status %q: %w", f.Status, ErrBadFilter)
		}
		q += ` AND ` + cond
	}
	if !f.Since.IsZero() {
		q += ` AND started_at >= ?`
		args = append(args, f.Since.UTC())
	}
	q += ` ORDER BY id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	return out, nil
}
