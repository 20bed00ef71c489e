package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goqsync/runner/ledger"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
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
	// Location is the job's time zone: the API gives its times with its
	// offset. nil: the process's local zone.
	Location *time.Location
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
	// RunID, when not zero, is the ledger's run the request was queued as
	// (History.QueueRun): the RunFunc starts that run rather than a new one,
	// so that the id the API answered is the run's.
	RunID int64
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

// History is the part of the ledger the HTTP API reads, and where a
// manual run is queued so that its id is known when it is requested.
type History interface {
	History(ctx context.Context, job string, limit int) ([]ledger.Run, error)
	Run(ctx context.Context, id int64) (ledger.Run, error)
	Runs(ctx context.Context, f ledger.RunFilter) ([]ledger.Run, error)
	RunEvents(ctx context.Context, id int64, limit int, kinds ...string) ([]ledger.Event, error)
	Story(ctx context.Context, label string, limit int) ([]ledger.Event, error)
	QueueRun(ctx context.Context, job, trigger string, at time.Time) (int64, error)
	DropQueued(ctx context.Context, id int64) error
	CancelQueued(ctx context.Context, id int64, why string) error
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

	// Workers is how many runs this process carries at once. Past it, due
	// runs stay queued for another process with a worker free (or for this
	// one's next free worker), so that a busy process does not take a run
	// it cannot start while another is idle. Zero: every job at once (at
	// least 8), which suits one process.
	Workers int

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
	maxWorkers = 8 // runs of different jobs at once, per process, at least
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
	// RunID is the ledger's run a manual request was queued as. It is not
	// part of the unique key: a request that joins a queued run takes that
	// run's id.
	RunID int64 `json:"run_id,omitempty"`
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
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("new scheduler: %d workers", cfg.Workers)
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
		// Every job can run at once: a shop that is slow to answer holds
		// only its own job's worker, not another shop's turn.
		Queues:               map[string]river.QueueConfig{queue: {MaxWorkers: workers(cfg)}},
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
	ws := river.NewWorkers()
	if err := river.AddWorkerSafely(ws, &worker{s: s}); err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	rcfg.Workers = ws

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

// workers is River's worker count for cfg: Workers, or every job at once.
func workers(cfg Config) int {
	if cfg.Workers > 0 {
		return cfg.Workers
	}
	return max(maxWorkers, len(cfg.Jobs))
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

// Enqueued describes a requested manual run.
type Enqueued struct {
	Job string `json:"job"`
	// RunID is the ledger's id of the run (GET /runs/{id}, runner
	// history); 0 without a ledger.
	RunID      int64 `json:"run_id,omitempty"`
	RiverJobID int64 `json:"river_job_id"` // River's own, for its logs
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
//
// With a ledger, the run is recorded as queued before River has it, and
// its id travels in the River job: the answer names the run that will
// happen, at once, rather than after the run in flight ends and this one
// starts. A request that joins a queued run answers that run's id.
func (s *Scheduler) RunNow(ctx context.Context, job string) (e Enqueued, err error) {
	if _, ok := s.job(job); !ok {
		return Enqueued{}, fmt.Errorf("run %s: %w", job, ErrUnknownJob)
	}
	args := runArgs{Job: job, Trigger: TriggerManual}
	if l := s.cfg.Ledger; l != nil {
		if args.RunID, err = l.QueueRun(ctx, job, TriggerManual, time.Now()); err != nil {
			return Enqueued{}, fmt.Errorf("run %s: %w", job, err)
		}
		reserved := args.RunID
		defer func() {
			if e.RunID != reserved {
				// Not this request's run after all (it joined another, or
				// failed): it never was one.
				if derr := l.DropQueued(context.WithoutCancel(ctx), reserved); derr != nil {
					s.log.Warn("dropping a queued run", "job", job, "run_id", reserved, "error", derr)
				}
			}
		}()
	}
	for {
		res, err := s.client.Insert(ctx, args, &river.InsertOpts{Queue: queue, MaxAttempts: 1, UniqueOpts: manualUnique})
		if err != nil {
			return Enqueued{}, fmt.Errorf("run %s: %w", job, err)
		}
		e := Enqueued{Job: job, RiverJobID: res.Job.ID, Duplicate: res.UniqueSkippedAsDuplicate, RunID: args.RunID}
		if e.Duplicate {
			var joined runArgs
			if err := json.Unmarshal(res.Job.EncodedArgs, &joined); err == nil {
				e.RunID = joined.RunID
			}
		}
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
