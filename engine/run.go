package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// RunOptions says how to run a job.
type RunOptions struct {
	Trigger string // "cli", "schedule" or "manual"; recorded in the ledger
	Force   bool   // send records even when the ledger says they are unchanged
	// Ledger gives the run its memory and its locks; nil: no memory between
	// runs and no lock, so nothing keeps another run of the job away.
	Ledger Ledger
	// LockWait is how long to wait for another run of the job to finish
	// before giving up with a *LockedError; 0 does not wait, a negative
	// value waits as long as it takes. A lock on a budget shared with other
	// jobs (a shop's rate limit) is always waited for.
	LockWait time.Duration
	// Timeout, when positive, is the run's deadline: past it the run stops
	// after the batch in flight, as on Stop, and returns an error.
	Timeout time.Duration
	// Stop, when closed, ends the run after the batch in flight.
	Stop <-chan struct{}
	// Abandon, when closed while the run still waits for a lock, ends it
	// before it starts (Interrupted, with no run id).
	Abandon <-chan struct{}
	// Log receives a line per failed record (warn), what the run waits for
	// (info) and what it could not do but did not stop for (warn), with
	// the job and the run id; the run's ctx goes with each line, so a
	// handler can add its trace. nil discards them.
	Log *slog.Logger
	// Progress, when set, is called with the run's counts after each batch
	// and every few hundred records read, on the run's goroutine: it must
	// return quickly.
	Progress func(Progress)
	// Now is the run's clock; zero: the job's pinned time or the wall clock.
	Now time.Time
}

// Failure is one record that did not make it.
type Failure struct {
	Key     string `json:"key,omitempty"`
	Pos     string `json:"pos"`
	Stage   string `json:"stage"` // "source", "map", "write", "commit", or an action's name
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// maxFailures bounds the failures a summary keeps; the log has them all.
const maxFailures = 1000

// RunSummary is what a run did.
type RunSummary struct {
	Job         string         `json:"job"`
	RunID       int64          `json:"run_id,omitempty"`
	Trigger     string         `json:"trigger,omitempty"`
	Now         time.Time      `json:"now"`
	Scope       string         `json:"ledger_scope,omitempty"` // the ledger scope the run read and wrote
	Counts      Counts         `json:"counts"`
	OK          int            `json:"ok"`
	Failed      int            `json:"failed"`
	NewlyParked int            `json:"newly_parked"`
	Batches     int            `json:"batches"`
	Actions     map[string]int `json:"actions,omitempty"` // successes per action
	Failures    []Failure      `json:"failures,omitempty"`
	// Estimated is what the batches sent were expected to cost at the
	// destination, and Calls what they did cost (see Coster).
	Estimated *Cost `json:"estimated_cost,omitempty"`
	Calls     *Cost `json:"calls,omitempty"`
	// SideEffects are what the actions did beyond the payloads, to the
	// records whose export and actions succeeded (see SideEffecter).
	SideEffects []SideEffect `json:"side_effects,omitempty"`
	Interrupted bool         `json:"interrupted,omitempty"`
	Archived    []string     `json:"archived,omitempty"` // inputs retired after this run
	Kept        []string     `json:"kept,omitempty"`     // inputs kept for the next run: something in them is not settled
	NotSent     int          `json:"not_sent,omitempty"` // read but left by an interruption or a stop
	// Pending counts records sent in a batch whose outcome the run could
	// not learn before it stopped: the ledger keeps them pending, and the
	// next run sends them again.
	Pending int `json:"pending,omitempty"`
	// Stale counts the orders of a saved plan that apply did not send: their
	// ledger entry or their source row changed since the plan (Failures
	// lists them, stage "stale").
	Stale    int           `json:"stale,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Succeeded reports a run in which every record that should have gone out
// did, and no record was bad.
func (s RunSummary) Succeeded() bool {
	return s.Failed == 0 && s.Counts.Errors == 0 && !s.Interrupted && s.Pending == 0 && s.Stale == 0
}

func (s *RunSummary) fail(ctx context.Context, f Failure, log *slog.Logger) {
	if len(s.Failures) < maxFailures {
		s.Failures = append(s.Failures, f)
	}
	if log != nil {
		logFailure(ctx, log, f)
	}
}

// LockedError is returned by Run when another run holds the job's lock
// (and LockWait passed). The run did not start.
type LockedError struct {
	Job    string
	Holder string        // who holds it, for people
	Waited time.Duration // how long this run waited
}

func (e *LockedError) Error() string {
	s := fmt.Sprintf("job %q is being run by %s", e.Job, e.Holder)
	if e.Waited > 0 {
		s += fmt.Sprintf("; gave up after waiting %s", e.Waited)
	}
	return s
}

var errStopped = errors.New("interrupted")

// lockPoll is how often a run waiting for a lock tries again.
const lockPoll = 500 * time.Millisecond

// Run executes the job: it takes the job's lock (and those of the budgets
// it shares), streams records from the source, sends those that pass in
// batches of the destination's size, and applies post-export actions to the
// records whose write succeeded. A record's failure is in the summary, not
// the error; the error is for what stops the run.
func (j *Job) Run(ctx context.Context, opts RunOptions) (sum RunSummary, err error) {
	return j.run(ctx, opts, nil)
}

// run is Run, or Apply when plan is set: then the records are the plan's
// orders rather than the source's.
func (j *Job) run(ctx context.Context, opts RunOptions, plan *appliedPlan) (sum RunSummary, err error) {
	start := time.Now()
	now := j.now(opts.Now)
	ctx = WithNow(ctx, now)
	sum = RunSummary{Job: j.Name, Trigger: opts.Trigger, Now: now.In(j.Location), Actions: map[string]int{}}
	defer func() {
		// Runs first deferred, recorded last: after the duration and the
		// history are final. A run abandoned while it waited for its lock
		// never started.
		if opts.Ledger == nil || sum.RunID != 0 || err != nil {
			newRunMetrics(MeterProvider(ctx)).record(ctx, sum, err)
		}
	}()
	ctx, span := otel.Tracer(tracerName).Start(ctx, "job",
		trace.WithAttributes(attribute.String("runner.job", j.Name),
			attribute.String("runner.source", j.SourceType), attribute.String("runner.destination", j.DestType)))
	defer func() {
		sum.Duration = time.Since(start)
		span.SetAttributes(
			attribute.Int("runner.records.read", sum.Counts.Read),
			attribute.Int("runner.records.sent", sum.Counts.Send),
			attribute.Int("runner.records.ok", sum.OK),
			attribute.Int("runner.records.failed", sum.Failed),
			attribute.Int("runner.records.excluded", sum.Counts.Excluded),
			attribute.Int("runner.records.unchanged", sum.Counts.Unchanged),
			attribute.Int("runner.records.errors", sum.Counts.Errors),
			attribute.Int("runner.batches", sum.Batches))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()

	stop := newStopper(opts.Stop)
	defer stop.close()
	scope := j.Scope()
	log := runLog(opts.Log).With("job", j.Name)
	if l := opts.Ledger; l != nil {
		sum.Scope = scope
		var locks *runLocks
		locks, err = j.lock(ctx, opts, stop, log)
		if errors.Is(err, errStopped) {
			sum.Interrupted = true
			return sum, nil
		}
		var locked *LockedError
		if errors.As(err, &locked) {
			// Nothing ran, but an operator watching the history should see
			// that this run was refused, and why.
			if id, serr := l.StartRun(ctx, j.Name, opts.Trigger, start); serr == nil {
				sum.RunID = id
				if ferr := l.FinishRun(context.WithoutCancel(ctx), id, time.Now(), sum, err); ferr != nil {
					return sum, errors.Join(err, fmt.Errorf("ledger: %w", ferr))
				}
			}
			return sum, err
		}
		if err != nil {
			return sum, err
		}
		defer locks.release()
		// The deferred FinishRun below reads err, the result: nothing in
		// this block may declare an err of its own.
		stop.on(locks.lost, errors.New("the run lost its lock (the ledger's database went away, or runner unlock released it)"))

		// The run starts once it holds its locks: a wait for another run is
		// not part of it, and the history must never show two runs of one
		// job at once.
		sum.RunID, err = l.StartRun(ctx, j.Name, opts.Trigger, time.Now())
		if err != nil {
			return sum, fmt.Errorf("ledger: %w", err)
		}
		defer func() {
			if ferr := l.FinishRun(context.WithoutCancel(ctx), sum.RunID, time.Now(), sum, err); ferr != nil && err == nil {
				err = fmt.Errorf("ledger: %w", ferr)
			}
		}()
		locks.setRun(ctx, sum.RunID)
		log = log.With("run_id", sum.RunID)
		if scope != j.DestType {
			if err := l.Adopt(ctx, j.Name, j.DestType, scope); err != nil {
				return sum, fmt.Errorf("ledger: %w", err)
			}
		}
		if err := j.resolveStaged(ctx, l, scope); err != nil {
			return sum, err
		}
	}
	if opts.Timeout > 0 {
		stop.after(opts.Timeout, fmt.Errorf("the run's deadline of %s passed", opts.Timeout))
	}

	conn, err := j.Dest.Open(ctx)
	if err != nil {
		return sum, fmt.Errorf("destination %s: %w", j.DestType, err)
	}
	b := &batcher{j: j, conn: conn, opts: opts, log: log, sum: &sum, scope: scope, size: max(j.Dest.BatchSize(), 1), effectsOf: j.sideEffects()}
	if st, ok := conn.(Stager); ok {
		b.token = st.StageToken()
	}
	b.progress = newTracker(opts.Progress, &sum, start)
	if b.progress != nil {
		b.progress.p.BatchSize = b.size
		// The shop's budget and what a batch costs give the time left.
		if c, ok := j.Dest.(Coster); ok {
			b.progress.cost, b.progress.p.PerSecond = &b.cost, c.Rate()
		}
		if cc, ok := conn.(CallCounter); ok {
			b.progress.calls = cc
		}
	}
	// The connection is closed (and what it staged committed and settled)
	// on every way out, before any input is archived.
	closed := false
	defer func() {
		if !closed {
			if cerr := b.close(ctx); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()

	feed := func(it *Item) error {
		if stop.stopped() {
			return errStopped
		}
		b.progress.read()
		err := b.add(ctx, it)
		b.progress.decided()
		return err
	}
	var units []string
	if plan != nil {
		err = plan.feed(ctx, j, b, feed)
	} else {
		units, err = j.each(ctx, now, eachMode{}, b.sized, feed)
	}
	if err == nil {
		err = b.finish(ctx, stop)
	}
	if err == nil {
		b.progress.report()
	}
	if errors.Is(err, errStopped) {
		sum.NotSent = len(b.cand) + len(b.out)
		if why := stop.reason(); why != nil {
			return sum, fmt.Errorf("%w; stopped after the batch in flight, %d record(s) read but not sent", why, sum.NotSent)
		}
		sum.Interrupted = true
		return sum, nil
	}
	if err != nil {
		sum.NotSent = len(b.cand) + len(b.out)
		return sum, err
	}
	closed = true
	if err := b.close(ctx); err != nil {
		return sum, err
	}
	return sum, j.archive(ctx, units, b.unsettled, &sum)
}

// runLocks are the locks a run holds.
type runLocks struct {
	held []Lock
	lost chan struct{}
}

// lock takes the job's lock, then the lock of each budget the job shares.
func (j *Job) lock(ctx context.Context, opts RunOptions, stop *stopper, log *slog.Logger) (*runLocks, error) {
	rl := &runLocks{lost: make(chan struct{})}
	// Abandon ends the wait for the locks, not the run that holds them.
	waitStop := stop.done()
	if opts.Abandon != nil {
		ch, taken := make(chan struct{}), make(chan struct{})
		defer close(taken)
		go func() {
			select {
			case <-opts.Abandon:
			case <-stop.done():
			case <-taken:
				return
			}
			close(ch)
		}()
		waitStop = ch
	}
	jl, err := acquire(ctx, opts.Ledger.Lock, JobLock(j.Name), j.Name, opts.LockWait, waitStop, log)
	if err != nil {
		var le *LockedError
		if errors.As(err, &le) {
			le.Job = j.Name
		}
		return nil, err
	}
	rl.held = append(rl.held, jl)
	take := opts.Ledger.Lock
	if x, ok := jl.(LockExtender); ok {
		take = x.LockAlso
	}
	for _, name := range j.shares() {
		l, err := acquire(ctx, take, name, j.Name, -1, waitStop, log)
		if err != nil {
			rl.release()
			return nil, err
		}
		rl.held = append(rl.held, l)
	}
	var once sync.Once
	for _, l := range rl.held {
		go func(c <-chan struct{}) {
			select {
			case <-c:
				once.Do(func() { close(rl.lost) })
			case <-stop.quit:
			}
		}(l.Lost())
	}
	return rl, nil
}

func (rl *runLocks) setRun(ctx context.Context, run int64) {
	for _, l := range rl.held {
		l.SetRun(ctx, run) // only names the holder for others; a failure costs nothing
	}
}

func (rl *runLocks) release() {
	for i := len(rl.held) - 1; i >= 0; i-- {
		rl.held[i].Unlock()
	}
}

// acquire takes the named lock with take (a Ledger's Lock, or a held
// lock's LockAlso), waiting while another holds it: up to wait (a negative
// wait has no bound) and until stop closes.
func acquire(ctx context.Context, take func(ctx context.Context, name, job string) (Lock, error), name, job string, wait time.Duration, stop <-chan struct{}, log *slog.Logger) (Lock, error) {
	begun := time.Now()
	said, waited := false, false
	defer func() {
		if waited {
			kind := "shared"
			if name == JobLock(job) {
				kind = "job"
			}
			newRunMetrics(MeterProvider(ctx)).waited(ctx, job, kind, time.Since(begun))
		}
	}()
	for {
		lk, err := take(ctx, name, job)
		if err == nil {
			return lk, nil
		}
		var h interface{ Holder() string }
		if !errors.As(err, &h) {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		if wait >= 0 && time.Since(begun) >= wait {
			return nil, &LockedError{Holder: h.Holder(), Waited: wait}
		}
		if !said {
			log.InfoContext(ctx, "waiting for a lock another run holds", "lock", name, "holder", h.Holder())
			said = true
		}
		waited = true
		select {
		case <-stop:
			return nil, errStopped
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// resolveStaged settles records a crashed run left staged: their commit
// happened (ok) or not (pending again, to be sent).
func (j *Job) resolveStaged(ctx context.Context, l Ledger, scope string) error {
	tokens, err := l.Staged(ctx, j.Name, scope)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	committed := map[string]bool{}
	if r, ok := j.Dest.(Resolver); ok {
		if committed, err = r.Resolve(ctx, tokens); err != nil {
			return fmt.Errorf("destination %s: %w", j.DestType, err)
		}
	}
	for _, t := range tokens {
		status := LedgerPending
		if committed[t] {
			status = LedgerOK
		}
		if err := l.Settle(ctx, j.Name, scope, t, status, ""); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	return nil
}

// stopper merges the reasons a run stops after its batch in flight: the
// caller's Stop (an interruption), a lost lock and the deadline (errors).
type stopper struct {
	ch   chan struct{}
	once sync.Once
	quit chan struct{}
	mu   sync.Mutex
	why  error
}

func newStopper(stop <-chan struct{}) *stopper {
	s := &stopper{ch: make(chan struct{}), quit: make(chan struct{})}
	if stop != nil {
		s.on(stop, nil)
	}
	return s
}

// on stops the run when c closes, for reason why (nil: an interruption).
func (s *stopper) on(c <-chan struct{}, why error) {
	go func() {
		select {
		case <-c:
			s.fire(why)
		case <-s.quit:
		}
	}()
}

func (s *stopper) after(d time.Duration, why error) {
	t := time.NewTimer(d)
	go func() {
		defer t.Stop()
		select {
		case <-t.C:
			s.fire(why)
		case <-s.quit:
		}
	}()
}

func (s *stopper) fire(why error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.why = why
		s.mu.Unlock()
		close(s.ch)
	})
}

func (s *stopper) done() <-chan struct{} { return s.ch }

func (s *stopper) stopped() bool {
	select {
	case <-s.ch:
		return true
	default:
		return false
	}
}

func (s *stopper) reason() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.why
}

func (s *stopper) close() { close(s.quit) }

// archive retires the units whose every record is settled: sent and
// accepted, unchanged, excluded or superseded. A unit holding a failed,
// parked or bad record stays, so the next run reads it again.
func (j *Job) archive(ctx context.Context, units []string, unsettled map[string]bool, sum *RunSummary) error {
	a, ok := j.Source.(Archiver)
	if !ok || !a.Retires() {
		return nil
	}
	for _, u := range units {
		if unsettled[u] {
			sum.Kept = append(sum.Kept, u)
			continue
		}
		if err := a.Archive(ctx, u); err != nil {
			return fmt.Errorf("source %s: %w", j.SourceType, err)
		}
		sum.Archived = append(sum.Archived, u)
	}
	return nil
}
