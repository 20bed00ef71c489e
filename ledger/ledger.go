package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// Entry statuses.
const (
	// StatusPending means a payload was about to be sent and no outcome was
	// recorded: it may or may not have reached the destination, so the engine
	// sends it again.
	StatusPending = "pending"
	// StatusOK means the destination accepted the payload with Hash.
	StatusOK = "ok"
	// StatusFailed means the last attempt failed; the next run retries it.
	StatusFailed = "failed"
	// StatusParked means the last attempt failed for a reason that will not
	// change by itself; runs skip it until Retry.
	StatusParked = "parked"
)

// Run triggers.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerCLI      = "cli"
)

// ErrNotFound is returned when a run does not exist.
var ErrNotFound = errors.New("not found")

// Entry is what the ledger knows about one record key at one destination.
type Entry struct {
	Job      string          `json:"job"`
	Dest     string          `json:"dest"`
	Key      string          `json:"key"`
	Hash     string          `json:"hash"`
	Payload  json.RawMessage `json:"payload,omitempty"`
	Status   string          `json:"status"`
	Code     string          `json:"code,omitempty"`
	Message  string          `json:"message,omitempty"`
	Attempts int             `json:"attempts"`
	FirstAt  time.Time       `json:"first_at"`
	LastAt   time.Time       `json:"last_at"`
	RunID    int64           `json:"run_id"`
}

// Unchanged reports whether a payload with hash needs no sending: the
// destination already accepted exactly this payload.
func (e Entry) Unchanged(hash string) bool {
	return e.Status == StatusOK && e.Hash == hash
}

// Send is the intent to send one payload.
type Send struct {
	Key     string
	Hash    string
	Payload []byte // JSON
}

// Outcome is what the destination said about one payload.
type Outcome struct {
	Key     string
	Status  string // StatusOK, StatusFailed or StatusParked
	Code    string
	Message string
}

// Counts are a run's totals per outcome.
type Counts struct {
	Sent      int `json:"sent"`
	OK        int `json:"ok"`
	Failed    int `json:"failed"`
	Parked    int `json:"parked"`
	Unchanged int `json:"unchanged"`
	Excluded  int `json:"excluded"`
	Errors    int `json:"errors"`
}

// Run is one execution of a job.
type Run struct {
	ID        int64     `json:"id"`
	Job       string    `json:"job"`
	Trigger   string    `json:"trigger"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"` // zero while running (or killed)
	Counts    Counts    `json:"counts"`
	Error     string    `json:"error,omitempty"`
}

// Store is the ledger and run history, in SQLite or PostgreSQL.
// It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect string // "sqlite" or "postgres"

	// now is the clock for entry times; tests replace it.
	now func() time.Time
}

// Open opens the store at dsn and applies pending migrations. A dsn that
// starts with postgres:// or postgresql:// is a PostgreSQL connection URL;
// anything else is the path of a SQLite file, created on first use.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{now: time.Now}
	var driver, source string
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect, driver, source = "postgres", "pgx", dsn
	case dsn == "":
		return nil, errors.New("open ledger: empty database path")
	default:
		s.dialect, driver = "sqlite", "sqlite"
		if dir := filepath.Dir(dsn); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("open ledger: %w", err)
			}
		}
		source = sqliteSource(dsn)
	}
	db, err := openDB(driver, source)
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	s.db = db
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	return s, nil
}

func openDB(driver, source string) (*sql.DB, error) {
	if driver != "pgx" {
		return sql.Open(driver, source)
	}
	cfg, err := pgx.ParseConfig(source)
	if err != nil {
		return nil, err
	}
	// pgx prepares and caches every statement. After five executions
	// PostgreSQL may switch to a generic plan made while the ledger was
	// still empty: a sequential scan that makes Lookup's key IN (...) cost
	// a second per batch at 100,000 entries. Custom plans see the table as
	// it is. A DSN that sets plan_cache_mode itself wins.
	if _, ok := cfg.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	return stdlib.OpenDB(*cfg), nil
}

// sqliteSource adds the connection settings every SQLite connection needs.
// busy_timeout comes first so that the WAL switch of a concurrent first open
// waits instead of failing. WAL lets readers (history, failures) run while a
// run writes. Transactions begin IMMEDIATE so that two writers queue on the
// busy timeout rather than deadlock upgrading read locks. synchronous=NORMAL
// is durable against a killed process; after a power loss the last commits
// may roll back, which only makes the engine send those records again.
func sqliteSource(path string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// rebind turns the ? placeholders every query is written with into the
// dialect's. It is the only place that knows the difference.
func (s *Store) rebind(q string) string {
	if s.dialect != "postgres" {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// StartRun records the start of a run and returns its id.
func (s *Store) StartRun(ctx context.Context, job, trigger string, at time.Time) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, s.rebind(
		`INSERT INTO ledger_runs (job, trigger, started_at) VALUES (?, ?, ?) RETURNING id`),
		job, trigger, at.UTC()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("start run of %s: %w", job, err)
	}
	return id, nil
}

// FinishRun records the end of a run with its final counts and error text
// ("" when it succeeded). The counts replace the progress Record kept.
func (s *Store) FinishRun(ctx context.Context, runID int64, at time.Time, c Counts, errText string) error {
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE ledger_runs SET ended_at = ?,
		sent = ?, ok = ?, failed = ?, parked = ?, unchanged = ?, excluded = ?, errors = ?, error = ?
		WHERE id = ?`),
		at.UTC(), c.Sent, c.OK, c.Failed, c.Parked, c.Unchanged, c.Excluded, c.Errors, errText, runID)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", runID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("finish run %d: %w", runID, ErrNotFound)
	}
	return nil
}

const entryColumns = `job, dest, key, hash, payload, status, code, message, attempts, first_at, last_at, run_id`

// chunk bounds the rows of one statement, well below both dialects'
// parameter limits.
const chunk = 200

// Lookup returns the entries of keys that the ledger knows, by key.
func (s *Store) Lookup(ctx context.Context, job, dest string, keys []string) (map[string]Entry, error) {
	out := make(map[string]Entry, len(keys))
	for len(keys) > 0 {
		n := min(len(keys), chunk)
		args := make([]any, 0, n+2)
		args = append(args, job, dest)
		for _, k := range keys[:n] {
			args = append(args, k)
		}
		q := `SELECT ` + entryColumns + ` FROM ledger_entries WHERE job = ? AND dest = ? AND key IN (` +
			placeholders(n) + `)`
		if err := s.queryEntries(ctx, q, args, func(e Entry) { out[e.Key] = e }); err != nil {
			return nil, fmt.Errorf("look up %s → %s: %w", job, dest, err)
		}
		keys = keys[n:]
	}
	return out, nil
}

// Begin records, before a batch is sent, that its payloads are about to be
// sent: each key becomes "pending" with its new hash and payload, in one
// transaction. A key left pending (the process died before Record) is sent
// again by the next run, since nothing proves the destination accepted it.
func (s *Store) Begin(ctx context.Context, runID int64, job, dest string, sends []Send) error {
	sends = lastSendPerKey(sends)
	now := s.now().UTC()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for rest := sends; len(rest) > 0; {
			n := min(len(rest), chunk)
			var q strings.Builder
			q.WriteString(`INSERT INTO ledger_entries (` + entryColumns + `) VALUES `)
			args := make([]any, 0, n*8)
			for i, sd := range rest[:n] {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString(`(?, ?, ?, ?, ?, 'pending', '', '', 0, ?, ?, ?)`)
				args = append(args, job, dest, sd.Key, sd.Hash, string(sd.Payload), now, now, runID)
			}
			q.WriteString(` ON CONFLICT (key, job, dest) DO UPDATE SET hash = excluded.hash,
				payload = excluded.payload, status = excluded.status, code = '', message = '',
				last_at = excluded.last_at, run_id = excluded.run_id`)
			if _, err := tx.ExecContext(ctx, s.rebind(q.String()), args...); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("begin batch of %s → %s: %w", job, dest, err)
	}
	return nil
}

// Record writes the outcome of each payload of a batch and adds them to the
// run's progress counters, in one transaction, so that the history never
// disagrees with the entries.
func (s *Store) Record(ctx context.Context, runID int64, job, dest string, outcomes []Outcome) error {
	var c Counts
	for _, o := range outcomes {
		switch o.Status {
		case StatusOK:
			c.OK++
		case StatusFailed:
			c.Failed++
		case StatusParked:
			c.Parked++
		default:
			return fmt.Errorf("record %s → %s: key %q: invalid status %q", job, dest, o.Key, o.Status)
		}
	}
	c.Sent = len(outcomes)
	outcomes = lastOutcomePerKey(outcomes)
	now := s.now().UTC()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for rest := outcomes; len(rest) > 0; {
			n := min(len(rest), chunk)
			var q strings.Builder
			q.WriteString(`INSERT INTO ledger_entries (` + entryColumns + `) VALUES `)
			args := make([]any, 0, n*9)
			for i, o := range rest[:n] {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString(`(?, ?, ?, '', '', ?, ?, ?, 1, ?, ?, ?)`)
				args = append(args, job, dest, o.Key, o.Status, o.Code, o.Message, now, now, runID)
			}
			q.WriteString(` ON CONFLICT (key, job, dest) DO UPDATE SET status = excluded.status,
				code = excluded.code, message = excluded.message,
				attempts = ledger_entries.attempts + 1, last_at = excluded.last_at, run_id = excluded.run_id`)
			if _, err := tx.ExecContext(ctx, s.rebind(q.String()), args...); err != nil {
				return err
			}
			rest = rest[n:]
		}
		if runID == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, s.rebind(`UPDATE ledger_runs SET sent = sent + ?, ok = ok + ?,
			failed = failed + ?, parked = parked + ? WHERE id = ?`), c.Sent, c.OK, c.Failed, c.Parked, runID)
		return err
	})
	if err != nil {
		return fmt.Errorf("record batch of %s → %s: %w", job, dest, err)
	}
	return nil
}

// Parked lists the parked entries of job, or of every job when job is "".
func (s *Store) Parked(ctx context.Context, job string) ([]Entry, error) {
	q := `SELECT ` + entryColumns + ` FROM ledger_entries WHERE status = 'parked'`
	args := []any{}
	if job != "" {
		q += ` AND job = ?`
		args = append(args, job)
	}
	q += ` ORDER BY job, dest, key`
	var out []Entry
	if err := s.queryEntries(ctx, q, args, func(e Entry) { out = append(out, e) }); err != nil {
		return nil, fmt.Errorf("list parked: %w", err)
	}
	return out, nil
}

// Retry marks parked entries of job as failed, so that the next run sends
// them again. With no keys it re-queues every parked entry of the job. It
// returns how many entries changed; keys that are not parked are ignored.
func (s *Store) Retry(ctx context.Context, job string, keys []string) (int, error) {
	if job == "" {
		return 0, errors.New("retry: no job given")
	}
	base := `UPDATE ledger_entries SET status = 'failed' WHERE status = 'parked' AND job = ?`
	var total int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		exec := func(q string, args []any) error {
			res, err := tx.ExecContext(ctx, s.rebind(q), args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			total += n
			return err
		}
		if len(keys) == 0 {
			return exec(base, []any{job})
		}
		for rest := keys; len(rest) > 0; {
			n := min(len(rest), chunk)
			args := []any{job}
			for _, k := range rest[:n] {
				args = append(args, k)
			}
			if err := exec(base+` AND key IN (`+placeholders(n)+`)`, args); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("retry %s: %w", job, err)
	}
	return int(total), nil
}

const runColumns = `id, job, trigger, started_at, ended_at, sent, ok, failed, parked, unchanged, excluded, errors, error`

// History returns the newest runs first, of job or of every job when job is
// "". A limit of 0 or less means no limit.
func (s *Store) History(ctx context.Context, job string, limit int) ([]Run, error) {
	q := `SELECT ` + runColumns + ` FROM ledger_runs`
	var args []any
	if job != "" {
		q += ` WHERE job = ?`
		args = append(args, job)
	}
	q += ` ORDER BY id DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return out, nil
}

// Run returns one run. It returns an error wrapping ErrNotFound when there
// is no such run.
func (s *Store) Run(ctx context.Context, id int64) (Run, error) {
	row := s.db.QueryRowContext(ctx, s.rebind(`SELECT `+runColumns+` FROM ledger_runs WHERE id = ?`), id)
	r, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("run %d: %w", id, err)
	}
	return r, nil
}

func scanRun(sc interface{ Scan(...any) error }) (Run, error) {
	var (
		r     Run
		ended sql.NullTime
	)
	err := sc.Scan(&r.ID, &r.Job, &r.Trigger, &r.StartedAt, &ended,
		&r.Counts.Sent, &r.Counts.OK, &r.Counts.Failed, &r.Counts.Parked,
		&r.Counts.Unchanged, &r.Counts.Excluded, &r.Counts.Errors, &r.Error)
	if err != nil {
		return Run{}, err
	}
	r.StartedAt = r.StartedAt.UTC()
	if ended.Valid {
		r.EndedAt = ended.Time.UTC()
	}
	return r, nil
}

func (s *Store) queryEntries(ctx context.Context, q string, args []any, each func(Entry)) error {
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e       Entry
			payload string
		)
		if err := rows.Scan(&e.Job, &e.Dest, &e.Key, &e.Hash, &payload, &e.Status, &e.Code,
			&e.Message, &e.Attempts, &e.FirstAt, &e.LastAt, &e.RunID); err != nil {
			return err
		}
		if payload != "" {
			e.Payload = json.RawMessage(payload)
		}
		e.FirstAt, e.LastAt = e.FirstAt.UTC(), e.LastAt.UTC()
		each(e)
	}
	return rows.Err()
}

func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// lastSendPerKey keeps the last send of each key: one statement may not
// update a row twice (PostgreSQL refuses), and the last one is what was sent.
func lastSendPerKey(sends []Send) []Send {
	return dedupe(sends, func(s Send) string { return s.Key })
}

func lastOutcomePerKey(outcomes []Outcome) []Outcome {
	return dedupe(outcomes, func(o Outcome) string { return o.Key })
}

func dedupe[T any](xs []T, key func(T) string) []T {
	seen := make(map[string]int, len(xs))
	var out []T
	for _, x := range xs {
		if i, ok := seen[key(x)]; ok {
			out[i] = x
			continue
		}
		seen[key(x)] = len(out)
		out = append(out, x)
	}
	return out
}
