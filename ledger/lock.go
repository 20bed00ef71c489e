package ledger

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"syscall"
	"time"
)

// Locks keep two runs of one job apart, and runs that share an outside
// budget (one shop's API rate limit) taking turns, across processes and
// machines: the lock lives where the ledger lives.
//
// On PostgreSQL a lock is a session-level advisory lock on a connection held
// for the lock's life: when the holder dies, its connection closes and the
// lock goes with it. A holder's further locks (TryLockAlso) share its
// session, so a run's locks cost one connection. A row in ledger_locks names the holder for the message
// a waiting run prints.
//
// On SQLite the row is the lock. Its holder refreshes a heartbeat every
// HeartbeatEvery; a lock whose heartbeat is older than StaleAfter is taken
// over, and so is one whose holder ran on this host in a process that no
// longer exists.
const (
	HeartbeatEvery = 5 * time.Second
	StaleAfter     = 30 * time.Second
)

// The times in use; tests shorten them.
var (
	heartbeatEvery = HeartbeatEvery
	staleAfter     = StaleAfter
)

// Owner describes the holder of a lock.
type Owner struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Job     string    `json:"job,omitempty"`
	Command string    `json:"command,omitempty"` // "run", "serve"
	RunID   int64     `json:"run_id,omitempty"`
	Since   time.Time `json:"since"`
}

// String says who holds a lock, for people: "pid 4242 on host-a since
// 2026-11-28 10:00:03 JST (run 17)".
func (o Owner) String() string {
	if o.PID == 0 {
		return "another process"
	}
	s := fmt.Sprintf("pid %d on %s since %s", o.PID, o.Host, o.Since.Local().Format("2006-01-02 15:04:05 MST"))
	switch {
	case o.RunID != 0 && o.Job != "":
		s += fmt.Sprintf(" (run %d of job %q)", o.RunID, o.Job)
	case o.RunID != 0:
		s += fmt.Sprintf(" (run %d)", o.RunID)
	case o.Command != "":
		s += fmt.Sprintf(" (runner %s)", o.Command)
	}
	return s
}

// LockedError is returned by TryLock when another holds the lock.
type LockedError struct {
	Name  string
	Owner Owner
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("lock %q is held by %s", e.Name, e.Owner)
}

// Holder says who holds the lock; callers that know what the lock guards
// word their own message around it.
func (e *LockedError) Holder() string { return e.Owner.String() }

// Lock is a held lock. Unlock it when done.
type Lock struct {
	s     *Store
	name  string
	token string
	sess  *session // PostgreSQL: the session holding the advisory lock
	key   int64
	owner Owner // for TryLockAlso

	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	unlocked bool
}

// Lost is closed when the lock is no longer held for sure: its PostgreSQL
// session died, or on SQLite its heartbeat could not be written for
// StaleAfter or another process took it over. A run that sees it should
// stop after the batch in flight.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

func (l *Lock) markLost() { l.lostOnce.Do(func() { close(l.lost) }) }

// SetRun records which run holds the lock, for the message others see.
func (l *Lock) SetRun(ctx context.Context, runID int64) error {
	_, err := l.s.db.ExecContext(ctx, l.s.rebind(`UPDATE ledger_locks SET run_id = ? WHERE name = ? AND token = ?`),
		runID, l.name, l.token)
	if err != nil {
		return fmt.Errorf("lock %q: %w", l.name, err)
	}
	return nil
}

// Unlock releases the lock. It is safe to call more than once.
func (l *Lock) Unlock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.unlocked {
		return nil
	}
	l.unlocked = true
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := l.s.db.ExecContext(ctx, l.s.rebind(`DELETE FROM ledger_locks WHERE name = ? AND token = ?`), l.name, l.token)
	if l.sess != nil {
		var ok bool
		if uerr := l.sess.conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, l.key).Scan(&ok); uerr != nil || !ok {
			// Never hand the pool a session that may still hold the
			// lock: make database/sql discard it.
			l.sess.conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		l.sess.release()
	}
	if err != nil {
		return fmt.Errorf("unlock %q: %w", l.name, err)
	}
	return nil
}

// TryLock takes the named lock for owner, or returns a *LockedError naming
// who holds it. It does not wait.
func (s *Store) TryLock(ctx context.Context, name string, owner Owner) (*Lock, error) {
	owner.Host, owner.PID = hostname(), os.Getpid()
	owner.Since = s.now().UTC().Truncate(time.Second)
	return s.tryLock(ctx, name, owner, nil)
}

// TryLockAlso takes the named lock for l's holder, as TryLock does; on
// PostgreSQL on l's own database session, so that one holder's locks (a
// run's job lock and its shop's) cost one connection, and live and die
// together: ending that session (runner unlock) releases them all.
func (l *Lock) TryLockAlso(ctx context.Context, name string) (*Lock, error) {
	return l.s.tryLock(ctx, name, l.owner, l.sess)
}

func (s *Store) tryLock(ctx context.Context, name string, owner Owner, with *session) (*Lock, error) {
	l := &Lock{s: s, name: name, token: newToken(), owner: owner, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	var err error
	if s.dialect == "postgres" {
		err = s.lockPostgres(ctx, l, owner, with)
	} else {
		err = s.lockSQLite(ctx, l, owner)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (s *Store) lockPostgres(ctx context.Context, l *Lock, owner Owner, with *session) error {
	sess := with
	if sess == nil {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("lock %q: %w", l.name, err)
		}
		sess = &session{conn: conn}
	}
	sess.hold()
	l.key = s.advisoryKey(l.name)
	var ok bool
	if err := sess.conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&ok); err != nil {
		sess.release()
		return fmt.Errorf("lock %q: %w", l.name, err)
	}
	if !ok {
		sess.release()
		o, _, err := s.holder(ctx, l.name)
		if err != nil {
			return fmt.Errorf("lock %q: %w", l.name, err)
		}
		return &LockedError{Name: l.name, Owner: o}
	}
	l.sess = sess
	// The row only names the holder; a row left by a holder that died is
	// replaced.
	if err := s.putLockRow(ctx, sess.conn, l, owner); err != nil {
		sess.conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, l.key).Scan(&ok)
		sess.release()
		return fmt.Errorf("lock %q: %w", l.name, err)
	}
	go l.watchSession()
	return nil
}

// session is a PostgreSQL connection held for the advisory locks taken on
// it; it goes back to the pool when the last of them is released.
type session struct {
	conn *sql.Conn
	mu   sync.Mutex
	refs int
}

func (ss *session) hold() {
	ss.mu.Lock()
	ss.refs++
	ss.mu.Unlock()
}

func (ss *session) release() {
	ss.mu.Lock()
	ss.refs--
	last := ss.refs == 0
	ss.mu.Unlock()
	if last {
		ss.conn.Close()
	}
}

// watchSession pings the session holding an advisory lock: if it dies, so
// did the lock.
func (l *Lock) watchSession() {
	defer close(l.done)
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), heartbeatEvery)
			err := l.sess.conn.PingContext(ctx)
			cancel()
			if err != nil {
				l.markLost()
				return
			}
		}
	}
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) putLockRow(ctx context.Context, db execer, l *Lock, o Owner) error {
	now := s.now().UTC()
	_, err := db.ExecContext(ctx, s.rebind(`INSERT INTO ledger_locks (name, token, host, pid, job, command, run_id, since, heartbeat)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET token = excluded.token, host = excluded.host, pid = excluded.pid,
			job = excluded.job, command = excluded.command, run_id = excluded.run_id,
			since = excluded.since, heartbeat = excluded.heartbeat`),
		l.name, l.token, o.Host, o.PID, o.Job, o.Command, o.RunID, o.Since, now)
	return err
}

func (s *Store) lockSQLite(ctx context.Context, l *Lock, owner Owner) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, hb, found, err := s.lockRow(ctx, tx, l.name)
		if err != nil {
			return err
		}
		if found && s.alive(cur, hb) {
			return &LockedError{Name: l.name, Owner: cur}
		}
		return s.putLockRow(ctx, tx, l, owner)
	})
	var le *LockedError
	if errors.As(err, &le) {
		return le
	}
	if err != nil {
		return fmt.Errorf("lock %q: %w", l.name, err)
	}
	go l.heartbeat()
	return nil
}

// alive reports whether a SQLite lock row still has a live holder.
func (s *Store) alive(o Owner, heartbeat time.Time) bool {
	if s.now().Sub(heartbeat) > staleAfter {
		return false
	}
	if o.Host == hostname() && o.PID != os.Getpid() && !processExists(o.PID) {
		return false
	}
	return true
}

// heartbeat keeps a SQLite lock fresh until Unlock, and marks it lost when
// another process took it over or it could not be refreshed in time.
func (l *Lock) heartbeat() {
	defer close(l.done)
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), heartbeatEvery)
			res, err := l.s.db.ExecContext(ctx, `UPDATE ledger_locks SET heartbeat = ? WHERE name = ? AND token = ?`,
				l.s.now().UTC(), l.name, l.token)
			cancel()
			if err == nil {
				if n, _ := res.RowsAffected(); n == 0 {
					l.markLost() // taken over
					return
				}
				last = time.Now()
			} else if time.Since(last) > staleAfter {
				l.markLost()
				return
			}
		}
	}
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) lockRow(ctx context.Context, q querier, name string) (o Owner, heartbeat time.Time, found bool, err error) {
	err = q.QueryRowContext(ctx, s.rebind(`SELECT host, pid, job, command, run_id, since, heartbeat FROM ledger_locks WHERE name = ?`), name).
		Scan(&o.Host, &o.PID, &o.Job, &o.Command, &o.RunID, &o.Since, &heartbeat)
	if errors.Is(err, sql.ErrNoRows) {
		return Owner{}, time.Time{}, false, nil
	}
	if err != nil {
		return Owner{}, time.Time{}, false, err
	}
	return o, heartbeat, true, nil
}

// holder returns who holds a lock now; ok is false when nobody does.
func (s *Store) holder(ctx context.Context, name string) (Owner, bool, error) {
	o, hb, found, err := s.lockRow(ctx, s.db, name)
	if err != nil || !found {
		return Owner{}, false, err
	}
	if s.dialect == "postgres" {
		held, err := s.advisoryHeld(ctx, name)
		if err != nil || !held {
			return Owner{}, false, err
		}
		return o, true, nil
	}
	return o, s.alive(o, hb), nil
}

// Holder returns who holds the named lock now; ok is false when it is free.
func (s *Store) Holder(ctx context.Context, name string) (Owner, bool, error) {
	o, ok, err := s.holder(ctx, name)
	if err != nil {
		return Owner{}, false, fmt.Errorf("lock %q: %w", name, err)
	}
	return o, ok, nil
}

// ForceUnlock releases a lock whose holder is known to be dead (runner
// unlock). On PostgreSQL it ends the database session that holds it, which
// releases it at once; a live holder then sees Lost and stops after its
// batch. It returns who held the lock; ok is false when nobody did.
func (s *Store) ForceUnlock(ctx context.Context, name string) (Owner, bool, error) {
	o, hb, found, err := s.lockRow(ctx, s.db, name)
	if err != nil {
		return Owner{}, false, fmt.Errorf("unlock %q: %w", name, err)
	}
	held := found && (s.dialect == "postgres" || s.now().Sub(hb) <= staleAfter)
	if s.dialect == "postgres" {
		pids, err := s.advisoryHolders(ctx, name)
		if err != nil {
			return Owner{}, false, fmt.Errorf("unlock %q: %w", name, err)
		}
		held = len(pids) > 0
		for _, pid := range pids {
			if _, err := s.db.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
				return Owner{}, false, fmt.Errorf("unlock %q: end the session holding it: %w", name, err)
			}
		}
	}
	if _, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM ledger_locks WHERE name = ?`), name); err != nil {
		return Owner{}, false, fmt.Errorf("unlock %q: %w", name, err)
	}
	return o, held, nil
}

// advisoryKey is the advisory lock key of a lock name, within the schema the
// store works in, so that tests (and tenants) in other schemas do not clash.
func (s *Store) advisoryKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("runner\x00" + s.schema + "\x00" + name))
	return int64(h.Sum64())
}

// advisoryHolders lists the backend pids holding a lock's advisory lock.
// PostgreSQL shows a bigint key as classid (high 32 bits) and objid (low 32
// bits) with objsubid 1.
func (s *Store) advisoryHolders(ctx context.Context, name string) ([]int64, error) {
	k := uint64(s.advisoryKey(name))
	rows, err := s.db.QueryContext(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND classid = $1 AND objid = $2 AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		int64(k>>32), int64(k&0xffffffff))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var pid int64
		if err := rows.Scan(&pid); err != nil {
			return nil, err
		}
		out = append(out, pid)
	}
	return out, rows.Err()
}

func (s *Store) advisoryHeld(ctx context.Context, name string) (bool, error) {
	pids, err := s.advisoryHolders(ctx, name)
	return len(pids) > 0, err
}

func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var host = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown-host"
	}
	return h
})

func hostname() string { return host() }

// processExists reports whether a process of this host has pid. A process
// of another user answers EPERM, which still means it exists.
func processExists(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
