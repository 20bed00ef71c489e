package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ParkedByJob counts the parked entries of each job that has any.
func (s *Store) ParkedByJob(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT job, COUNT(*) FROM ledger_entries WHERE status = 'parked' GROUP BY job`)
	if err != nil {
		return nil, fmt.Errorf("count parked: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			job string
			n   int
		)
		if err := rows.Scan(&job, &n); err != nil {
			return nil, fmt.Errorf("count parked: %w", err)
		}
		out[job] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count parked: %w", err)
	}
	return out, nil
}

// LastSuccess returns when the last run of each job with status "ok"
// ended (see Run.Status): no job-level error, not interrupted, no record
// failed or parked.
func (s *Store) LastSuccess(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT job, ended_at FROM ledger_runs WHERE id IN (
		SELECT MAX(id) FROM ledger_runs
		WHERE ended_at IS NOT NULL AND error = '' AND failed = 0 AND parked = 0
		GROUP BY job)`)
	if err != nil {
		return nil, fmt.Errorf("last successful runs: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var (
			job   string
			ended sql.NullTime
		)
		if err := rows.Scan(&job, &ended); err != nil {
			return nil, fmt.Errorf("last successful runs: %w", err)
		}
		if ended.Valid {
			out[job] = ended.Time.UTC()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("last successful runs: %w", err)
	}
	return out, nil
}
