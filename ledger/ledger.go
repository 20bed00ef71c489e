package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// Entry statuses. They are the engine's (engine.LedgerOK and the rest),
// which decides them; the ledger stores and queries them.
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
	// StatusStaged means the destination accepted the payload into
	// something it makes visible later, all at once (an import file that
	// gets its final name when the run ends); Token names that commit.
	// Settle turns it into StatusOK or StatusFailed.
	StatusStaged = "staged"
	// StatusResolved means a person settled a parked entry for good
	// (runner resolve); runs skip it while its payload stays the same.
	StatusResolved = "resolved"
)

// Run triggers.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerCLI      = "cli"
	TriggerApply    = "apply" // a saved plan sent exactly (runner apply, the console's 「この内容で実行」)
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
	// Fails counts the failed attempts in a row; an accepted one resets it.
	Fails int `json:"fails"`
}

// Send is the intent to send one payload.
type Send struct {
	Key     string
	Hash    string
	Payload []byte // JSON
	// Label is the record's label (an order number), which its events are
	// found by; "" means the key.
	Label string
}

// Outcome is what the destination said about one payload.
type Outcome struct {
	Key     string
	Status  string // StatusOK, StatusFailed, StatusParked or StatusStaged
	Code    string
	Message string
	Token   string // with StatusStaged: the commit that will make it visible
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
	queued bool

	ID        int64     `json:"id"`
	Job       string    `json:"job"`
	Trigger   string    `json:"trigger"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"` // zero while running (or killed)
	Counts    Counts    `json:"counts"`
	Error     string    `json:"error,omitempty"`
	// Status sums the run up: "queued" (requested, waiting for its turn;
	// StartedAt is when it was requested), "running" (or killed: not ended), "error"
	// (stopped on a job-level error, Error says which), "interrupted",
	// "failed" (some record failed or was parked), or "ok".
	Status string `json:"status"`
}

// status derives Run.Status.
func (r Run) status() string {
	switch {
	case r.queued:
		return "queued"
	case r.EndedAt.IsZero():
		return "running"
	case r.Error == "interrupted":
		return "interrupted"
	case r.Error != "":
		return "error"
	case r.Counts.Failed > 0 || r.Counts.Parked > 0:
		return "failed"
	}
	return "ok"
}

// Store is the ledger and run history, in SQLite or PostgreSQL.
// It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect string // "sqlite" or "postgres"
	where   string // the SQLite file, or the PostgreSQL URL without its password, for messages
	schema  string // PostgreSQL: the schema the store works in

	// now is the clock for entry times; tests replace it.
	now func() time.Time
	// keep is how long events are kept (KeepEvents); 0: for ever.
	keep time.Duration
}

// Open opens the store at dsn and applies pending migrations. A dsn that
// starts with postgres:// or postgresql:// is a PostgreSQL connection URL;
// anything else is the path of a SQLite file, created on first use with mode
// 0600 (its directory 0700): the ledger is the runner's own, nobody else's
// to read.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{now: time.Now, where: dsn}
	var driver, source string
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect, driver, source = "postgres", "pgx", dsn
		if u, err := url.Parse(dsn); err == nil {
			s.where = u.Redacted()
		} else {
			s.where = "the PostgreSQL database"
		}
	case dsn == "":
		return nil, errors.New("open ledger: empty database path")
	default:
		s.dialect, driver = "sqlite", "sqlite"
		if err := createPrivate(dsn); err != nil {
			return nil, fmt.Errorf("open ledger %s: %w", dsn, err)
		}
		source = sqliteSource(dsn)
	}
	db, err := openDB(driver, source)
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", s.where, err)
	}
	s.db = db
	if s.dialect == "postgres" {
		if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&s.schema); err != nil {
			db.Close()
			return nil, fmt.Errorf("open ledger %s: %w", s.where, err)
		}
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", s.where, s.explain(err))
	}
	return s, nil
}

// createPrivate creates a new SQLite file owner-only, in a directory it
// creates owner-only. An existing file keeps the mode its owner gave it.
func createPrivate(path string) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// explain turns SQLite's terse result codes into what a person must do.
func (s *Store) explain(err error) error {
	var coded interface{ Code() int }
	if s.dialect != "sqlite" || !errors.As(err, &coded) {
		return err
	}
	switch coded.Code() & 0xff {
	case 26, 11: // SQLITE_NOTADB, SQLITE_CORRUPT
		return fmt.Errorf("the file is not a SQLite database or is damaged; restore it from a backup or move it away to start a new ledger (every record is then sent again): %w", err)
	case 8, 14, 3, 23: // SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH
		return fmt.Errorf("cannot open the file for writing; the runner needs to write the file and create files beside it (check the permissions of the file and its directory): %w", err)
	}
	return err
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

// Where names the database for people: the SQLite file, or the PostgreSQL
// URL without its password.
func (s *Store) Where() string { return s.where }

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

// Interrupted is the error text of a run whose process stopped before it
// finished (killed, or its machine went down).
const Interrupted = "interrupted: the process running it stopped before it finished"

// StartRun records the start of a run and returns its id. The caller holds
// the job's lock, so any other run of the job still open in the history
// belongs to a process that is gone: StartRun closes it as Interrupted.
func (s *Store) StartRun(ctx context.Context, job, trigger string, at time.Time) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.closeOpen(ctx, tx, job, at); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, s.rebind(
			`INSERT INTO ledger_runs (job, trigger, started_at) VALUES (?, ?, ?) RETURNING id`),
			job, trigger, at.UTC()).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("start run of %s: %w", job, err)
	}
	return id, nil
}

// InterruptOrphans closes, as Interrupted, every open run in the history
// whose job nobody is running now (the job's lock, named by lockName, is
// free) or that is not the run holding that lock. serve calls it when it
// starts, so that a run killed with its process does not stay "running".
func (s *Store) InterruptOrphans(ctx context.Context, lockName func(job string) string) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, job FROM ledger_runs WHERE ended_at IS NULL AND queued = 0`)
	if err != nil {
		return 0, fmt.Errorf("find interrupted runs: %w", err)
	}
	open := map[string][]int64{}
	for rows.Next() {
		var id int64
		var job string
		if err := rows.Scan(&id, &job); err != nil {
			rows.Close()
			return 0, fmt.Errorf("find interrupted runs: %w", err)
		}
		open[job] = append(open[job], id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find interrupted runs: %w", err)
	}
	n := 0
	for job, ids := range open {
		o, held, err := s.Holder(ctx, lockName(job))
		if err != nil {
			return n, err
		}
		for _, id := range ids {
			if held && (o.RunID == id || o.RunID == 0) {
				continue // running now, or about to say which run it is
			}
			res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE ledger_runs SET ended_at = ?, error = ? WHERE id = ? AND ended_at IS NULL`),
				s.now().UTC(), Interrupted, id)
			if err != nil {
				return n, fmt.Errorf("close interrupted run %d: %w", id, err)
			}
			if k, _ := res.RowsAffected(); k > 0 {
				n++
			}
		}
	}
	return n, nil
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
	if s.keep > 0 {
		// Housekeeping, not the run's outcome: a failed prune leaves old
		// events for the next run to prune.
		s.Prune(ctx, at.Add(-s.keep))
	}
	return nil
}

const entryColumns = `job, dest, key, hash, payload, status, code, message, attempts, first_at, last_at, run_id`

// readColumns are what queryEntries scans.
const readColumns = entryColumns + `, fails`

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
		q := `SELECT ` + readColumns + ` FROM ledger_entries WHERE job = ? AND dest = ? AND key IN (` +
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
				payload = excluded.payload, status = excluded.status, code = '', message = '', token = '',
				last_at = excluded.last_at, run_id = excluded.run_id`)
			if _, err := tx.ExecContext(ctx, s.rebind(q.String()), args...); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return s.beginEvents(ctx, tx, runID, job, dest, sends, now)
	})
	if err != nil {
		return fmt.Errorf("begin batch of %s → %s: %w", job, dest, err)
	}
	return nil
}

// Record writes the outcome of each payload of a batch and adds them to the
// run's progress counters, in one transaction, so that the history never
// disagrees with the entries. It only writes entries that runID began (see
// Begin): an entry a later run has begun since is that run's to record, and
// never goes back to an older run's outcome.
func (s *Store) Record(ctx context.Context, runID int64, job, dest string, outcomes []Outcome) error {
	var c Counts
	for _, o := range outcomes {
		switch o.Status {
		case StatusOK, StatusStaged:
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
			q.WriteString(`INSERT INTO ledger_entries (` + entryColumns + `, token, fails) VALUES `)
			args := make([]any, 0, n*10)
			for i, o := range rest[:n] {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString(`(?, ?, ?, '', '', ?, ?, ?, 1, ?, ?, ?, ?, ?)`)
				fails := 0
				if o.Status == StatusFailed || o.Status == StatusParked {
					fails = 1
				}
				args = append(args, job, dest, o.Key, o.Status, o.Code, o.Message, now, now, runID, o.Token, fails)
			}
			q.WriteString(` ON CONFLICT (key, job, dest) DO UPDATE SET status = excluded.status,
				code = excluded.code, message = excluded.message, token = excluded.token,
				attempts = ledger_entries.attempts + 1, last_at = excluded.last_at,
				fails = CASE WHEN excluded.fails = 0 THEN 0 ELSE ledger_entries.fails + 1 END
				WHERE ledger_entries.run_id = excluded.run_id`)
			if _, err := tx.ExecContext(ctx, s.rebind(q.String()), args...); err != nil {
				return err
			}
			rest = rest[n:]
		}
		if err := s.recordEvents(ctx, tx, runID, job, dest, outcomes, now); err != nil {
			return err
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

// Staged lists the commit tokens of job's entries at dest that are still
// staged: a run recorded them and ended before it could say whether their
// commit happened.
func (s *Store) Staged(ctx context.Context, job, dest string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT DISTINCT token FROM ledger_entries
		WHERE status = 'staged' AND job = ? AND dest = ?`), job, dest)
	if err != nil {
		return nil, fmt.Errorf("staged entries of %s → %s: %w", job, dest, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("staged entries of %s → %s: %w", job, dest, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Settle ends the staging of every entry of job at dest that token names:
// status is StatusOK once the commit happened, or StatusPending when it did
// not (the records are sent again), or StatusFailed with a message when the
// commit failed. It returns how many entries it settled.
func (s *Store) Settle(ctx context.Context, job, dest, token, status, message string) (int, error) {
	switch status {
	case StatusOK, StatusPending, StatusFailed:
	default:
		return 0, fmt.Errorf("settle %s → %s: invalid status %q", job, dest, status)
	}
	now := s.now().UTC()
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.settleEvents(ctx, tx, job, dest, token, status, message, now); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.rebind(`UPDATE ledger_entries SET status = ?, message = ?, token = '', last_at = ?
			WHERE job = ? AND dest = ? AND token = ? AND status = 'staged'`), status, message, now, job, dest, token)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("settle %s → %s: %w", job, dest, err)
	}
	return int(n), nil
}

// Adopt moves job's entries recorded under the scope from to the scope to,
// when to has none yet. Ledgers written before destinations had scopes
// keyed entries by the destination's type alone; the first run that knows
// the scope takes them over, so that upgrading sends nothing twice.
func (s *Store) Adopt(ctx context.Context, job, from, to string) (int, error) {
	if from == to {
		return 0, nil
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, s.rebind(`SELECT 1 FROM ledger_entries WHERE job = ? AND dest = ? LIMIT 1`), job, to).Scan(&one)
		if err == nil {
			return nil // the scope has entries of its own
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		res, err := tx.ExecContext(ctx, s.rebind(`UPDATE ledger_entries SET dest = ? WHERE job = ? AND dest = ?`), to, job, from)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("adopt entries of %s: %w", job, err)
	}
	return int(n), nil
}

// Parked lists the parked entries of job, or of every job when job is "".
func (s *Store) Parked(ctx context.Context, job string) ([]Entry, error) {
	q := `SELECT ` + readColumns + ` FROM ledger_entries WHERE status = 'parked'`
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
	n, err := s.unpark(ctx, job, keys, `status = 'failed'`)
	if err != nil {
		return 0, fmt.Errorf("retry %s: %w", job, err)
	}
	return n, nil
}

// Resolve settles parked entries of job for good: a person decided the
// record needs no sending (the shop fixed it by hand). The entry keeps its
// hash, so a run sends it again only if its payload changes; code and
// message say who settled it, when and why. Keys that are not parked are
// ignored; it returns how many entries changed.
func (s *Store) Resolve(ctx context.Context, job string, keys []string, by, reason string, at time.Time) (int, error) {
	if len(keys) == 0 {
		return 0, fmt.Errorf("resolve %s: no keys given", job)
	}
	msg := fmt.Sprintf("by %s at %s: %s", by, at.Format(time.RFC3339), reason)
	n, err := s.unpark(ctx, job, keys, `status = 'resolved', code = 'resolved', message = ?`, msg)
	if err != nil {
		return 0, fmt.Errorf("resolve %s: %w", job, err)
	}
	return n, nil
}

// unpark applies set to the parked entries of job (all, or those of keys).
func (s *Store) unpark(ctx context.Context, job string, keys []string, set string, setArgs ...any) (int, error) {
	if job == "" {
		return 0, errors.New("no job given")
	}
	base := `UPDATE ledger_entries SET ` + set + ` WHERE status = 'parked' AND job = ?`
	var total int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		exec := func(q string, args []any) error {
			res, err := tx.ExecContext(ctx, s.rebind(q), append(append([]any{}, setArgs...), args...)...)
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
	return int(total), err
}

// Jobs lists the jobs the ledger knows, from their runs and entries.
func (s *Store) Jobs(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT job FROM ledger_runs UNION SELECT job FROM ledger_entries ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var j string
		if err := rows.Scan(&j); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

const runColumns = `id, job, trigger, started_at, ended_at, sent, ok, failed, parked, unchanged, excluded, errors, error, queued`

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
		&r.Counts.Unchanged, &r.Counts.Excluded, &r.Counts.Errors, &r.Error, &r.queued)
	if err != nil {
		return Run{}, err
	}
	r.StartedAt = r.StartedAt.UTC()
	if ended.Valid {
		r.EndedAt = ended.Time.UTC()
	}
	r.Status = r.status()
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
			&e.Message, &e.Attempts, &e.FirstAt, &e.LastAt, &e.RunID, &e.Fails); err != nil {
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

// In gives the run's times in loc: the API and the console show a run in
// its job's zone.
func (r Run) In(loc *time.Location) Run {
	r.StartedAt = r.StartedAt.In(loc)
	if !r.EndedAt.IsZero() {
		r.EndedAt = r.EndedAt.In(loc)
	}
	return r
}
