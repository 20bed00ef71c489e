package scheduler

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	_ "modernc.org/sqlite" // registers "sqlite"

	"github.com/goqsync/runner/ledger"
)

// Schedule says when a job runs next. robfig/cron schedules satisfy it.
type Schedule interface {
	Next(time.Time) time.Time
}

// Job is a job the scheduler knows.
type Job struct {
	Name     string
	Schedule Schedule // nil: the job runs only on request
	Spec     string   // the schedule as written ("every 10m"), shown by GET /jobs
}

// RunRequest is one run the scheduler asks for.
type RunRequest struct {
	Job     string
	Trigger string // TriggerSchedule or TriggerManual
	// Occurrence is the scheduled time of a scheduled run; zero for a manual
	// one.
	Occurrence time.Time
	// WaitUntil bounds how long the run may wait for a run of the job in
	// flight (here or in another process) to end: a scheduled run waits
	// until its next occurrence, which covers it; zero means no bound.
	WaitUntil time.Time
	// Abandon is closed when the scheduler stops: a run still waiting for
	// its turn should give up without starting (ErrNotStarted).
	Abandon <-chan struct{}
}

// RunFunc runs a job once and returns the ledger's id of the run. It takes
// the job's lock itself (two runs of one job never overlap, in any process)
// and returns ErrBusy when WaitUntil passed first, or ErrNotStarted when
// Abandon closed while it waited. It should record its own failures in the
// ledger; any other error is logged and kept by River, and the run is not
// retried. When ctx is cancelled (a hard stop), it should finish the batch
// in flight and return.
type RunFunc func(ctx context.Context, r RunRequest) (runID int64, err error)

var (
	// ErrBusy is returned by a RunFunc that gave up waiting for the run of
	// the job in flight.
	ErrBusy = errors.New("another run of the job is in flight")
	// ErrNotStarted is returned by a RunFunc that was abandoned while it
	// waited for its turn.
	ErrNotStarted = errors.New("not started")
)

// Running tells whether a run of job is in flight anywhere, and which
// process runs it.
type Running func(ctx context.Context, job string) (holder string, running bool, err error)

// History is the part of the ledger the HTTP API reads.
type History interface {
	History(ctx context.Context, job string, limit int) ([]ledger.Run, error)
	Run(ctx context.Context, id int64) (ledger.Run, error)
}

// Config configures a Scheduler.
type Config struct {
	// Database is the ledger's: a postgres:// URL, whose database then also
	// holds River's tables (in the schema its search_path names, if any), or
	// the path of the ledger's SQLite file, beside which River gets a file of
	// its own (runner.db → runner-river.db) so that River's polling never
	// holds the lock a run's ledger writes wait on.
	Database string
	Run      RunFunc
	Ledger   History // may be nil: no history in the API
	Jobs     []Job
	// Running, when set, lets a manual request tell a run in flight from a
	// run River still lists as running because its process died.
	Running Running

	// Listen is the address the HTTP API will listen on. Off loopback, Token
	// must be set.
	Listen string
	// Token, when set, is the bearer token every API request but the health
	// checks must carry (RUNNER_API_TOKEN).
	Token string

	// RescueAfter is how long a run may stay "running" in River before River
	// considers its process dead and gives up on it; a manual run of a job
	// cannot be requested meanwhile. Zero means River's default (one hour).
	// It must exceed the longest run.
	RescueAfter time.Duration

	Logger *slog.Logger
}

// Trigger names, as the ledger records them.
const (
	TriggerSchedule = ledger.TriggerSchedule
	TriggerManual   = ledger.TriggerManual
)

var (
	// ErrUnknownJob is returned for a job name the scheduler does not have.
	ErrUnknownJob = errors.New("unknown job")
	// ErrRunning is returned when a manual run of the job is already running.
	ErrRunning = errors.New("a manual run of the job is already running")
)

const (
	queue      = "runner"
	maxWorkers = 8 // runs of different jobs at once, per process
)

// runArgs is a River job: one run of a runner job. Slot is the scheduled
// occurrence it stands for (zero for a manual run). Job and Slot make up the
// unique key, so an occurrence is inserted once however many processes or
// leaders try.
type runArgs struct {
	Job     string    `json:"job" river:"unique"`
	Slot    time.Time `json:"slot" river:"unique"`
	Trigger string    `json:"trigger" river:"unique"`
	// Epoch sets a manual run apart from a River job left "running" by a
	// process that died (its id), which would otherwise hold the unique key
	// until River's rescuer gives up on it.
	Epoch int64 `json:"epoch,omitempty" river:"unique"`
}

func (runArgs) Kind() string { return "runner_run" }

// scheduledUnique covers every state, completed and discarded included: an
// occurrence that ran, or failed, never runs again (until River's cleaner
// removes the row, a day later by default).
var scheduledUnique = river.UniqueOpts{ByArgs: true, ByState: rivertype.JobStates()}

// manualUnique coalesces requests while a manual run is queued or running.
var manualUnique = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateScheduled, rivertype.JobStateRetryable,
}}

// riverClient is what the scheduler uses of river.Client, whichever the
// driver's transaction type.
type riverClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	PeriodicJobs() *river.PeriodicJobBundle
}

// Scheduler runs jobs on their schedules and on request, through River.
type Scheduler struct {
	cfg    Config
	log    *slog.Logger
	client riverClient
	ping   func(context.Context) error
	close  func()

	mu   sync.RWMutex
	jobs map[string]Job

	stopping chan struct{} // closed when Stop begins

	started atomic.Bool
	ready   atomic.Bool
	stopped atomic.Bool
}

// New connects to the database, applies River's migrations and prepares the
// scheduler. It does not start running jobs; Start does.
func New(ctx context.Context, cfg Config) (*Scheduler, error) {
	if cfg.Run == nil {
		return nil, errors.New("new scheduler: no run function")
	}
	if cfg.Token == "" && cfg.Listen != "" && !Loopback(cfg.Listen) {
		return nil, fmt.Errorf("new scheduler: listening on %s needs an API token (RUNNER_API_TOKEN)", cfg.Listen)
	}
	jobs, err := jobMap(cfg.Jobs)
	if err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	s := &Scheduler{cfg: cfg, log: cfg.Logger, jobs: jobs, stopping: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	rcfg := &river.Config{
		Queues:               map[string]river.QueueConfig{queue: {MaxWorkers: maxWorkers}},
		JobTimeout:           -1, // a run takes as long as it takes
		MaxAttempts:          1,  // a run records its own failures; the next occurrence is the retry
		RescueStuckJobsAfter: cfg.RescueAfter,
		Logger:               slog.New(minLevel{s.log.Handler(), slog.LevelWarn}),
		PeriodicJobs:         s.periodic(cfg.Jobs),
		// A manual run's job carries the HTTP request's trace into its work.
		Middleware: []rivertype.Middleware{otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
			EnableTracePropagation: true, EnableWorkSpanJobKindSuffix: true,
		})},
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker{s: s}); err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	rcfg.Workers = workers

	if isPostgres(cfg.Database) {
		err = s.openPostgres(ctx, rcfg)
	} else {
		err = s.openSQLite(ctx, rcfg)
	}
	if err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	return s, nil
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// riverMigrateLock serialises River's migrations between processes starting
// at once; rivermigrate takes no lock itself.
const riverMigrateLock = 0x72756e6e65725276

func (s *Scheduler) openPostgres(ctx context.Context, rcfg *river.Config) error {
	pcfg, err := pgxpool.ParseConfig(s.cfg.Database)
	if err != nil {
		return err
	}
	// River qualifies its tables and notification channels by schema; give
	// it the one the DSN's search_path names so both agree.
	if sp := pcfg.ConnConfig.RuntimeParams["search_path"]; identRE.MatchString(sp) {
		rcfg.Schema = sp
	}
	// River's services (listener, producer, completer, elector) and the
	// workers share the pool; pgxpool's default of four on a small machine
	// would make them queue for connections.
	if !strings.Contains(s.cfg.Database, "pool_max_conns") {
		pcfg.MaxConns = max(pcfg.MaxConns, 2*maxWorkers)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	driver := riverpgxv5.New(pool)
	if err := func() error {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(riverMigrateLock)); err != nil {
			return fmt.Errorf("lock river migrations: %w", err)
		}
		defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(riverMigrateLock))
		return migrate(ctx, driver, rcfg.Schema, s.log)
	}(); err != nil {
		pool.Close()
		return err
	}
	client, err := river.NewClient(driver, rcfg)
	if err != nil {
		pool.Close()
		return err
	}
	s.client, s.ping, s.close = client, pool.Ping, pool.Close
	return nil
}

func (s *Scheduler) openSQLite(ctx context.Context, rcfg *river.Config) error {
	if s.cfg.Database == "" {
		return errors.New("no database")
	}
	path := RiverSQLitePath(s.cfg.Database)
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return err
	}
	// River's SQLite driver wants a single connection: SQLite has one
	// writer, and River's services would otherwise trip over each other.
	db.SetMaxOpenConns(1)
	driver := riversqlite.New(db)
	if err := migrate(ctx, driver, "", s.log); err != nil {
		db.Close()
		return err
	}
	client, err := river.NewClient(driver, rcfg)
	if err != nil {
		db.Close()
		return err
	}
	s.client, s.ping, s.close = client, db.PingContext, func() { db.Close() }
	return nil
}

// RiverSQLitePath returns the file River uses beside the ledger's SQLite
// file.
func RiverSQLitePath(ledgerPath string) string {
	ext := filepath.Ext(ledgerPath)
	return strings.TrimSuffix(ledgerPath, ext) + "-river" + ext
}

func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], schema string, log *slog.Logger) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema, Logger: log})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// Start starts running jobs. ctx carries values only: cancelling it does
// not stop the scheduler, Stop does, so that a signal never cuts a run short
// by accident.
func (s *Scheduler) Start(ctx context.Context) error {
	if s.stopped.Load() {
		return errors.New("start scheduler: stopped")
	}
	if err := s.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}
	s.started.Store(true)
	s.ready.Store(true)
	return nil
}

// Stop stops taking new runs and waits for the runs in flight to finish. If
// ctx ends first, it cancels their contexts (the engine then finishes the
// batch in flight and records it) and waits for them to return.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.ready.Store(false)
	if s.stopped.Swap(true) {
		return nil
	}
	close(s.stopping)
	defer s.close()
	if !s.started.Load() {
		return nil
	}
	err := s.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		s.log.Warn("runs still in flight at the shutdown deadline; cancelling them")
		hard, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = s.client.StopAndCancel(hard)
	}
	if err != nil {
		return fmt.Errorf("stop scheduler: %w", err)
	}
	return nil
}

// Reload replaces the job set. The caller validates the job files first;
// Reload only checks that names are present and distinct. Runs in flight
// continue; a queued run of a job that is gone is dropped when it comes up.
func (s *Scheduler) Reload(jobs []Job) error {
	m, err := jobMap(jobs)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	s.mu.Lock()
	s.jobs = m
	s.mu.Unlock()
	b := s.client.PeriodicJobs()
	b.Clear()
	if _, err := b.AddManySafely(s.periodic(jobs)); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	return nil
}

func jobMap(jobs []Job) (map[string]Job, error) {
	m := make(map[string]Job, len(jobs))
	for _, j := range jobs {
		if j.Name == "" {
			return nil, errors.New("job without a name")
		}
		if _, dup := m[j.Name]; dup {
			return nil, fmt.Errorf("job %q given twice", j.Name)
		}
		m[j.Name] = j
	}
	return m, nil
}

func (s *Scheduler) job(name string) (Job, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	j, ok := s.jobs[name]
	return j, ok
}

func (s *Scheduler) jobList() []Job {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Job, 0, len(s.jobs))
	for _, j := range s.jobs {
		out = append(out, j)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out
}

// periodic turns the scheduled jobs into River periodic jobs. River's
// periodic enqueuer runs on the elected leader only and does not tell the
// constructor which occurrence it is building, but it calls Next for one
// job in sequence: the occurrence due is the last value Next returned.
// slotSchedule keeps it, and the constructor puts it in the args, where it
// makes the unique key.
func (s *Scheduler) periodic(jobs []Job) []*river.PeriodicJob {
	var out []*river.PeriodicJob
	for _, j := range jobs {
		if j.Schedule == nil {
			continue
		}
		ss := &slotSchedule{inner: align(j.Schedule)}
		name := j.Name
		out = append(out, river.NewPeriodicJob(ss, func() (river.JobArgs, *river.InsertOpts) {
			return runArgs{Job: name, Slot: ss.last(), Trigger: TriggerSchedule},
				&river.InsertOpts{Queue: queue, MaxAttempts: 1, UniqueOpts: scheduledUnique}
		}, nil))
	}
	return out
}

type slotSchedule struct {
	inner Schedule
	mu    sync.Mutex
	next  time.Time
}

// catchUp is how far back a process that becomes the leader looks for an
// occurrence that nobody ran. It covers a handover after a crash (River's
// leadership lease is 15 s) without replaying history after a long outage.
const catchUp = time.Minute

// Next is called by River's enqueuer with the occurrence it just enqueued,
// or with the current time when it starts (at start-up, and whenever this
// process becomes the leader). In the second case the previous leader may
// have stopped before enqueuing the latest occurrence, so Next returns that
// occurrence when it is less than catchUp old: River enqueues it at once,
// and the unique key drops it if the previous leader did enqueue it. Only
// the latest missed occurrence is caught up; one run covers the others.
func (s *slotSchedule) Next(t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n time.Time
	if !s.next.IsZero() && t.Equal(s.next) {
		n = s.inner.Next(t)
	} else {
		n = s.inner.Next(t)
		for o, i := s.inner.Next(t.Add(-catchUp)), 0; !o.IsZero() && !o.After(t) && i < 100_000; o, i = s.inner.Next(o), i+1 {
			n = o
		}
	}
	n = n.UTC().Truncate(time.Millisecond)
	s.next = n
	return n
}

func (s *slotSchedule) last() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

type worker struct {
	river.WorkerDefaults[runArgs]
	s *Scheduler
}

func (w *worker) Work(ctx context.Context, j *river.Job[runArgs]) error {
	return w.s.work(ctx, j.ID, j.Args)
}

// work runs one occurrence of a job. The run waits for any run of the same
// job in flight, here or in another process (the RunFunc's lock): waiting
// rather than skipping keeps every occurrence when a run (a catch-up after
// a leader change, a manual run) overlaps the next one. A scheduled
// occurrence gives up once the next occurrence is due, which covers it and
// bounds the backlog when runs outlast the interval. While the scheduler
// stops, a waiting run goes back to River, for another process or the next
// start, instead of starting now.
func (s *Scheduler) work(ctx context.Context, riverID int64, a runArgs) error {
	log := s.log.With("job", a.Job, "trigger", a.Trigger, "river_job_id", riverID)
	if !a.Slot.IsZero() {
		log = log.With("occurrence", a.Slot)
	}
	j, ok := s.job(a.Job)
	if !ok {
		log.Warn("job no longer configured; dropping its run")
		return nil
	}
	req := RunRequest{Job: a.Job, Trigger: a.Trigger, Occurrence: a.Slot, Abandon: s.stopping}
	if !a.Slot.IsZero() && j.Schedule != nil {
		req.WaitUntil = align(j.Schedule).Next(a.Slot)
		ctx = context.WithValue(ctx, occurrenceKey{}, a.Slot)
	}
	start := time.Now()
	runID, err := s.cfg.Run(ctx, req)
	switch {
	case errors.Is(err, ErrBusy):
		log.Warn("skipping occurrence: the run in flight lasted until the next one, which covers it", "error", err)
		return nil
	case errors.Is(err, ErrNotStarted):
		log.Info("stopping; handing the waiting run back")
		return river.JobSnooze(0)
	}
	log = log.With("run_id", runID, "took", time.Since(start).Round(time.Millisecond))
	if err != nil {
		log.Error("run failed", "error", err)
		return err
	}
	log.Info("run finished")
	return nil
}

// minLevel keeps River's routine Info logs (job counts every few seconds)
// out of the runner's log; its warnings and errors come through.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}

type occurrenceKey struct{}

// Occurrence returns the scheduled time of the run whose context ctx is;
// ok is false for a manual run.
func Occurrence(ctx context.Context) (t time.Time, ok bool) {
	t, ok = ctx.Value(occurrenceKey{}).(time.Time)
	return t, ok
}

// Enqueued describes a requested manual run.
type Enqueued struct {
	Job        string `json:"job"`
	RiverJobID int64  `json:"river_job_id"`
	// Duplicate is true when a manual run of the job was already queued:
	// this request joined it.
	Duplicate bool `json:"duplicate,omitempty"`
}

// RunNow queues a manual run of job (the 発送情報の更新 button). It returns
// ErrUnknownJob for a job it does not have, and ErrRunning, with the
// running job's id, when a manual run of the job is already running. A
// River job left "running" by a process that died does not count: with
// Config.Running set, RunNow sees that nobody runs the job and queues a
// new run at once.
func (s *Scheduler) RunNow(ctx context.Context, job string) (Enqueued, error) {
	if _, ok := s.job(job); !ok {
		return Enqueued{}, fmt.Errorf("run %s: %w", job, ErrUnknownJob)
	}
	args := runArgs{Job: job, Trigger: TriggerManual}
	for {
		res, err := s.client.Insert(ctx, args, &river.InsertOpts{Queue: queue, MaxAttempts: 1, UniqueOpts: manualUnique})
		if err != nil {
			return Enqueued{}, fmt.Errorf("run %s: %w", job, err)
		}
		e := Enqueued{Job: job, RiverJobID: res.Job.ID, Duplicate: res.UniqueSkippedAsDuplicate}
		if !e.Duplicate || res.Job.State != rivertype.JobStateRunning {
			return e, nil
		}
		if s.cfg.Running != nil && args.Epoch == 0 {
			_, running, err := s.cfg.Running(ctx, job)
			if err != nil {
				return Enqueued{}, fmt.Errorf("run %s: %w", job, err)
			}
			if !running {
				s.log.Warn("a manual run River lists as running has no process; queueing a new one",
					"job", job, "stale_river_job_id", res.Job.ID)
				args.Epoch = res.Job.ID
				continue
			}
		}
		return e, fmt.Errorf("run %s: %w", job, ErrRunning)
	}
}

// Loopback reports whether a listen address accepts only local
// connections. An empty host (":8080") listens everywhere.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
