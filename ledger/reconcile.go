package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Accepted lists job's entries at dest that the destination accepted
// (StatusOK) at or after since, by key: what reconcile reads back.
func (s *Store) Accepted(ctx context.Context, job, dest string, since time.Time) ([]Entry, error) {
	q := `SELECT ` + readColumns + ` FROM ledger_entries WHERE status = 'ok' AND job = ? AND dest = ? AND last_at >= ? ORDER BY key`
	var out []Entry
	if err := s.queryEntries(ctx, q, []any{job, dest, since.UTC()}, func(e Entry) { out = append(out, e) }); err != nil {
		return nil, fmt.Errorf("list accepted entries of %s → %s: %w", job, dest, err)
	}
	return out, nil
}

// Requeue marks accepted entries of job at dest as failed, with code and
// message, so that the next run sends them again: the engine skips only
// what is ok with the same hash. Keys that are not ok are left alone. It
// returns how many entries changed.
func (s *Store) Requeue(ctx context.Context, job, dest string, keys []string, code, message string) (int, error) {
	var total int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for rest := keys; len(rest) > 0; {
			n := min(len(rest), chunk)
			args := []any{code, message, job, dest}
			for _, k := range rest[:n] {
				args = append(args, k)
			}
			res, err := tx.ExecContext(ctx, s.rebind(`UPDATE ledger_entries SET status = 'failed', code = ?, message = ?
				WHERE status = 'ok' AND job = ? AND dest = ? AND key IN (`+placeholders(n)+`)`), args...)
			if err != nil {
				return err
			}
			m, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += m
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("requeue entries of %s → %s: %w", job, dest, err)
	}
	return int(total), nil
}
