package enginetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/goqsync/runner/engine"
)

// Entry is what the Ledger keeps of one record key.
type Entry struct {
	Hash     string
	Payload  []byte
	Status   string // an engine.Ledger* status
	Code     string
	Message  string
	Token    string // with status staged: the commit it waits on
	Attempts int
	Fails    int   // failed attempts in a row
	RunID    int64 // the run that last began it
}

// Run is one run in the Ledger's history.
type Run struct {
	ID      int64
	Job     string
	Trigger string
	Started time.Time
	Ended   time.Time // zero while it runs
	// Counts are as package ledger keeps them: Failed does not include
	// the newly parked.
	Sent, OK, Failed, Parked, Unchanged, Excluded, Errors int
	Error                                                 string
}

// Interrupted is the error of a run that another run of its job found
// still open, as package ledger writes it.
const Interrupted = "interrupted: the process running it stopped before it finished"

type entryKey struct{ job, scope, key string }

// Ledger is an engine.Ledger in memory, with package ledger's rules:
// Begin marks keys pending before a send; Record writes outcomes only for
// entries the same run began, mapping an accepted result to ok (staged
// with a token), a Permanent failure to parked and any other to failed;
// Settle ends a token's staging; Adopt moves entries to a new scope once;
// StartRun closes a job's runs left open. A payload is unchanged when its
// entry is ok with the same hash (the engine decides that from Lookup).
// Locks are per Ledger: a second run of a job sees the first one's.
// It is safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	entries map[entryKey]*Entry
	runs    []*Run
	locks   map[string]*Lock
	fail    map[string]error
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{entries: map[entryKey]*Entry{}, locks: map[string]*Lock{}, fail: map[string]error{}}
}

// Fail makes every later call of method ("Lock", "Lookup", "Begin",
// "Record", "Staged", "Settle", "Adopt", "StartRun", "FinishRun") fail
// with err, until Fail(method, nil).
func (l *Ledger) Fail(method string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		delete(l.fail, method)
		return
	}
	l.fail[method] = err
}

// Put sets an entry, as an earlier run would have left it.
func (l *Ledger) Put(job, scope, key string, e Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries[entryKey{job, scope, key}] = &e
}

// Entry returns the entry of key, if any.
func (l *Ledger) Entry(job, scope, key string) (Entry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[entryKey{job, scope, key}]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Statuses maps each key of job in scope to its status: the form most
// assertions want.
func (l *Ledger) Statuses(job, scope string) map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]string{}
	for k, e := range l.entries {
		if k.job == job && k.scope == scope {
			out[k.key] = e.Status
		}
	}
	return out
}

// Runs returns the history, oldest first.
func (l *Ledger) Runs() []Run {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Run, len(l.runs))
	for i, r := range l.runs {
		out[i] = *r
	}
	return out
}

func (l *Ledger) failing(method string) error {
	if err := l.fail[method]; err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}

// HeldError is Lock's error when another holds the lock.
type HeldError struct {
	Name string
	By   string // the holder: its job, and its run once it says
}

func (e *HeldError) Error() string  { return fmt.Sprintf("lock %q is held by %s", e.Name, e.By) }
func (e *HeldError) Holder() string { return e.By }

// Lock is a lock of a Ledger.
type Lock struct {
	l        *Ledger
	name     string
	job      string
	run      int64
	lost     chan struct{}
	loseOnce sync.Once
	unlocked bool
}

// Lock takes the named lock, or fails at once with a *HeldError.
func (l *Ledger) Lock(ctx context.Context, name, job string) (engine.Lock, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing("Lock"); err != nil {
		return nil, err
	}
	if h, ok := l.locks[name]; ok {
		return nil, &HeldError{Name: name, By: h.holder()}
	}
	lk := &Lock{l: l, name: name, job: job, lost: make(chan struct{})}
	l.locks[name] = lk
	return lk, nil
}

// Held reports whether the named lock is held.
func (l *Ledger) Held(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.locks[name]
	return ok
}

// Lose takes the named lock from its holder, as runner unlock does: the
// holder's Lost closes.
func (l *Ledger) Lose(name string) {
	l.mu.Lock()
	lk, ok := l.locks[name]
	delete(l.locks, name)
	l.mu.Unlock()
	if ok {
		lk.loseOnce.Do(func() { close(lk.lost) })
	}
}

// holder names the holder; l.mu is held.
func (lk *Lock) holder() string {
	if lk.run != 0 {
		return fmt.Sprintf("run %d of job %q", lk.run, lk.job)
	}
	return fmt.Sprintf("job %q", lk.job)
}

func (lk *Lock) SetRun(ctx context.Context, run int64) error {
	lk.l.mu.Lock()
	defer lk.l.mu.Unlock()
	lk.run = run
	return nil
}

func (lk *Lock) Lost() <-chan struct{} { return lk.lost }

// Unlock releases the lock; it is safe to call more than once.
func (lk *Lock) Unlock() error {
	lk.l.mu.Lock()
	defer lk.l.mu.Unlock()
	if lk.unlocked {
		return nil
	}
	lk.unlocked = true
	if lk.l.locks[lk.name] == lk {
		delete(lk.l.locks, lk.name)
	}
	return nil
}

func (l *Ledger) Lookup(ctx context.Context, job, scope string, keys []string) (map[string]engine.LedgerEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing("Lookup"); err != nil {
		return nil, err
	}
	out := make(map[string]engine.LedgerEntry, len(keys))
	for _, k := range keys {
		if e, ok := l.entries[entryKey{job, scope, k}]; ok {
			out[k] = engine.LedgerEntry{Hash: e.Hash, Status: e.Status, Code: e.Code, Message: e.Message, Fails: e.Fails}
		}
	}
	return out, nil
}

// Begin marks each key pending with its new hash and payload, for run.
func (l *Ledger) Begin(ctx context.Context, run int64, job, scope string, sends []engine.LedgerSend) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing("Begin"); err != nil {
		return err
	}
	for _, s := range sends {
		k := entryKey{job, scope, s.Key}
		e, ok := l.entries[k]
		if !ok {
			e = &Entry{}
			l.entries[k] = e
		}
		e.Hash, e.Payload, e.Status = s.Hash, slices.Clone(s.Payload), engine.LedgerPending
		e.Code, e.Message, e.Token, e.RunID = "", "", "", run
	}
	return nil
}

// Record stores outcomes of the entries run began, and adds them to the
// run's progress. A key no run began is written as new, with no hash.
func (l *Ledger) Record(ctx context.Context, run int64, job, scope string, outcomes []engine.LedgerOutcome) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing("Record"); err != nil {
		return err
	}
	var r *Run
	if i := l.run(run); i >= 0 {
		r = l.runs[i]
	}
	for _, o := range outcomes {
		if r != nil {
			r.Sent++
			switch o.Status {
			case engine.LedgerOK, engine.LedgerStaged:
				r.OK++
			case engine.LedgerFailed:
				r.Failed++
			case engine.LedgerParked:
				r.Parked++
			}
		}
		k := entryKey{job, scope, o.Key}
		e, ok := l.entries[k]
		if !ok {
			l.entries[k] = &Entry{Status: o.Status, Code: o.Code, Message: o.Message, Token: o.Token, Attempts: 1, RunID: run, Fails: fails(o.Status, 0)}
			continue
		}
		if e.RunID != run {
			continue // a later run began it since: its outcome is that run's
		}
		e.Status, e.Code, e.Message, e.Token = o.Status, o.Code, o.Message, o.Token
		e.Attempts++
		e.Fails = fails(o.Status, e.Fails)
	}
	return nil
}

// Staged lists, sorted, the tokens staged entries of job in scope wait on.
func (l *Ledger) Staged(ctx context.Context, job, scope string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing("Staged"); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for k, e := range l.entries {
		if k.job == job && k.scope == scope && e.Status == engine.LedgerStaged {
			seen[e.Token] = true
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

// Settle ends the staging of token's entries with status: ok, pending or
// failed.
func (l *Ledger) Settle(ctx context.Context, job, scope, token, status, message string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing("Settle"); err != nil {
		return err
	}
	switch status {
	case engine.LedgerOK, engine.LedgerPending, engine.LedgerFailed:
	default:
		return fmt.Errorf("settle %s → %s: invalid status %q", job, scope, status)
	}
	for k, e := range l.entries {
		if k.job == job && k.scope == scope && e.Status == engine.LedgerStaged && e.Token == token {
			e.Status, e.Message, e.Token = status, message, ""
		}
	}
	return nil
}

// Adopt moves job's entries from the scope from to scope, unless scope
// has entries already.
func (l *Ledger) Adopt(ctx context.Context, job, from, scope string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing("Adopt"); err != nil {
		return err
	}
	if from == scope {
		return nil
	}
	for k := range l.entries {
		if k.job == job && k.scope == scope {
			return nil
		}
	}
	for k, e := range l.entries {
		if k.job == job && k.scope == from {
			delete(l.entries, k)
			l.entries[entryKey{job, scope, k.key}] = e
		}
	}
	return nil
}

// StartRun opens a run; any run of job still open is closed as Interrupted.
func (l *Ledger) StartRun(ctx context.Context, job, trigger string, at time.Time) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing("StartRun"); err != nil {
		return 0, err
	}
	for _, r := range l.runs {
		if r.Job == job && r.Ended.IsZero() {
			r.Ended, r.Error = at, Interrupted
		}
	}
	r := &Run{ID: int64(len(l.runs) + 1), Job: job, Trigger: trigger, Started: at}
	l.runs = append(l.runs, r)
	return r.ID, nil
}

// FinishRun closes run with the summary's counts, as cmd/runner's adapter
// hands them to package ledger.
func (l *Ledger) FinishRun(ctx context.Context, run int64, at time.Time, s engine.RunSummary, runErr error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing("FinishRun"); err != nil {
		return err
	}
	i := l.run(run)
	if i < 0 {
		return fmt.Errorf("finish run %d: %w", run, errNotFound)
	}
	r := l.runs[i]
	r.Ended = at
	r.Sent, r.OK, r.Failed, r.Parked = s.Counts.Send, s.OK, s.Failed-s.NewlyParked, s.NewlyParked
	r.Unchanged, r.Excluded, r.Errors = s.Counts.Unchanged, s.Counts.Excluded, s.Counts.Errors
	switch {
	case runErr != nil:
		r.Error = runErr.Error()
	case s.Interrupted:
		r.Error = "interrupted"
	default:
		r.Error = ""
	}
	return nil
}

var errNotFound = errors.New("not found")

// run is the index of run id in l.runs, or -1; l.mu is held.
func (l *Ledger) run(id int64) int {
	i := sort.Search(len(l.runs), func(i int) bool { return l.runs[i].ID >= id })
	if i < len(l.runs) && l.runs[i].ID == id {
		return i
	}
	return -1
}

var _ engine.Ledger = (*Ledger)(nil)

// fails counts failures in a row, as the real ledger does.
func fails(status string, before int) int {
	if status == engine.LedgerFailed || status == engine.LedgerParked {
		return before + 1
	}
	return 0
}
