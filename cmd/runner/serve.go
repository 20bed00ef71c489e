package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"golang.org/x/net/netutil"

	"github.com/goqsync/runner/console"
	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/scheduler"
)

// serve runs the jobs of PATH on their schedules, with an HTTP API for
// manual runs (the 発送情報の更新 button), until SIGINT or SIGTERM. SIGHUP
// reloads the files; an invalid set keeps the old jobs running.
func (c *cli) serve(ctx context.Context, args []string) int {
	var jf jobFlags
	fs := c.flagSet("serve", "PATH...", &jf, false)
	var progress progressFlag
	fs.Var(&progress, "progress", "log each run's progress every 10s")
	withConsole := fs.Bool("console", true, "serve the operator console (web pages) at / beside the API")
	needDest := true
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	cfg, _, ok := c.runnableJobs(fs, &jf, &needDest)
	if !ok {
		return exitConfig
	}
	paths := fs.Args()
	log := c.log
	set, err := c.settings(ctx)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner serve: settings: %v\n", err)
		return exitConfig
	}
	if set.Workers < 0 {
		fmt.Fprintf(c.stderr, "runner serve: settings: RUNNER_WORKERS=%d: must be at least 1 (or 0, every job at once)\n", set.Workers)
		return exitConfig
	}
	if !scheduler.Loopback(set.Listen) && set.APIToken == "" {
		fmt.Fprintf(c.stderr, "runner serve: RUNNER_LISTEN=%s is not a loopback address: set RUNNER_API_TOKEN\n", set.Listen)
		return exitConfig
	}
	st, ok := c.openLedger(ctx)
	if !ok {
		return exitConfig
	}
	defer st.Close()
	if st.Dialect() == "sqlite" {
		// River keeps its own SQLite file beside the ledger, which one
		// process must own: a second serve would race the first on its
		// migrations and its queue.
		lk, err := st.TryLock(ctx, serveLock, ledger.Owner{Command: "serve"})
		var held *ledger.LockedError
		if errors.As(err, &held) {
			fmt.Fprintf(c.stderr, "runner serve: another runner serve uses the ledger %s: %s.\n"+
				"  Several serve processes need PostgreSQL (RUNNER_DATABASE=postgres://…); on SQLite run one.\n", st.Where(), held.Holder())
			return exitLocked
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "runner serve: %v\n", err)
			return exitFailed
		}
		defer lk.Unlock()
	}
	// Runs whose process died (a kill -9, a lost machine) stay open in the
	// history until someone closes them: nobody holds their job's lock.
	if n, err := st.InterruptOrphans(ctx, engine.JobLock); err != nil {
		log.Error("closing runs whose process died", "error", err)
	} else if n > 0 {
		log.Warn("closed runs whose process died", "runs", n)
	}

	// The current job set; SIGHUP swaps it.
	var mu sync.Mutex
	current := cfg
	progressOf := console.NewProgress() // the console's view of runs in flight
	// The console's applies of previewed plans run beside the scheduler's
	// runs: quit stops them as Stop stops those, and serve waits for them.
	var applies sync.WaitGroup
	quit := make(chan struct{})
	defer c.observeLedger(st, func() []string {
		mu.Lock()
		defer mu.Unlock()
		names := make([]string, len(current.Jobs))
		for i, j := range current.Jobs {
			names[i] = j.Name
		}
		return names
	})()
	run := func(ctx context.Context, req scheduler.RunRequest) (int64, error) {
		ctx = engine.WithMeterProvider(ctx, c.metrics.MeterProvider())
		mu.Lock()
		j, ok := current.Job(req.Job)
		name, isRec := strings.CutPrefix(req.Job, reconcilePrefix)
		rj, recOK := current.Job(name)
		mu.Unlock()
		if !ok && isRec && recOK && rj.Reconcile != nil {
			return serveReconcile(ctx, st, rj, req, log)
		}
		if !ok {
			return 0, fmt.Errorf("job %q is no longer loaded", req.Job)
		}
		wait := time.Duration(-1) // a manual run waits its turn
		if !req.WaitUntil.IsZero() {
			wait = max(time.Until(req.WaitUntil), 0)
		}
		// A stop lets the batch in flight finish: the run itself is not
		// cancelled, it is told to stop between batches.
		report, endReport := c.startProgress(ctx, progress.or(false), false)
		both := func(p engine.Progress) {
			if report != nil {
				report(p)
			}
			progressOf.Update(p)
		}
		sum, err := j.Run(context.WithoutCancel(ctx), engine.RunOptions{
			Trigger: req.Trigger, Ledger: engineLedger{s: st, command: "serve", queued: req.RunID}, Stop: ctx.Done(), Log: log,
			Progress: both, LockWait: wait, Abandon: req.Abandon,
		})
		endReport()
		progressOf.Done(sum.RunID)
		var locked *engine.LockedError
		switch {
		case errors.As(err, &locked):
			return 0, fmt.Errorf("%w: %v", scheduler.ErrBusy, err)
		case err == nil && sum.RunID == 0 && sum.Interrupted:
			return 0, scheduler.ErrNotStarted
		}
		log.Info("run summary", "job", req.Job, "trigger", req.Trigger, "run_id", sum.RunID, "read", sum.Counts.Read,
			"sent", sum.Counts.Send, "ok", sum.OK, "failed", sum.Failed, "unchanged", sum.Counts.Unchanged,
			"excluded", sum.Counts.Excluded, "errors", sum.Counts.Errors, "pending", sum.Pending, "interrupted", sum.Interrupted)
		return sum.RunID, err
	}
	running := func(ctx context.Context, job string) (string, bool, error) {
		o, held, err := st.Holder(ctx, engine.JobLock(job))
		return o.String(), held, err
	}
	sched, err := scheduler.New(ctx, scheduler.Config{
		Database: set.Database, Run: run, Running: running, Ledger: st, Jobs: schedJobs(cfg),
		Listen: set.Listen, Token: set.APIToken, Logger: log, Workers: set.Workers,
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "runner serve: %v\n", err)
		return exitFailed
	}
	if err := sched.Start(ctx); err != nil {
		fmt.Fprintf(c.stderr, "runner serve: %v\n", err)
		return exitFailed
	}

	var handler http.Handler = sched.Handler()
	if *withConsole {
		jobOf := func(name string) (*engine.Job, bool) {
			mu.Lock()
			defer mu.Unlock()
			return current.Job(name)
		}
		con, err := console.New(console.Config{
			Ledger: st, Scheduler: sched, Progress: progressOf, Token: set.APIToken, Logger: log,
			Describe: func(name string) (console.JobInfo, bool) {
				if j, ok := jobOf(name); ok {
					return console.JobInfo{Description: j.Description, Shop: shopOf(j), Plannable: true}, true
				}
				if j, ok := jobOf(strings.TrimPrefix(name, reconcilePrefix)); ok && strings.HasPrefix(name, reconcilePrefix) {
					return console.JobInfo{Description: "reconcile: " + j.Description, Shop: shopOf(j)}, true
				}
				return console.JobInfo{}, false
			},
			Plan: func(ctx context.Context, name string, w io.Writer) (*engine.SavedPlan, error) {
				mu.Lock()
				cfg := current
				mu.Unlock()
				j, ok := cfg.Job(name)
				if !ok {
					return nil, fmt.Errorf("job %q is no longer loaded", name)
				}
				saved, err := engine.NewSavedPlan(cfg)
				if err != nil {
					return nil, err
				}
				// What runner plan -json prints, with the ledger it reads,
				// and saved as plan -out saves it.
				_, err = j.Plan(ctx, w, engine.PlanOptions{JSON: true, Ledger: engineLedger{s: st}, LedgerName: st.Where(), Save: saved})
				return saved, err
			},
			Apply: func(ctx context.Context, p *engine.SavedPlan) (int64, error) {
				mu.Lock()
				cfg := current
				mu.Unlock()
				j, ok := cfg.Job(p.Job)
				if !ok {
					return 0, fmt.Errorf("job %q is no longer loaded", p.Job)
				}
				if err := p.Check(cfg, j, j.Clock(), time.Hour); err != nil {
					return 0, err
				}
				id, err := st.QueueRun(ctx, p.Job, ledger.TriggerApply, time.Now())
				if err != nil {
					return 0, err
				}
				applies.Add(1)
				go func() {
					defer applies.Done()
					// As a run the scheduler starts: it waits its turn, and a
					// stop before its turn leaves it unstarted.
					sum, err := j.Apply(context.WithoutCancel(ctx), p, engine.RunOptions{Trigger: ledger.TriggerApply,
						Ledger: engineLedger{s: st, command: "serve", queued: id}, Log: log, Progress: progressOf.Update,
						LockWait: -1, Stop: quit, Abandon: quit})
					progressOf.Done(sum.RunID)
					if sum.RunID == 0 {
						why := "not run: serve stopped first"
						if err != nil {
							why = "not run: " + err.Error()
						}
						if cerr := st.CancelQueued(context.WithoutCancel(ctx), id, why); cerr != nil {
							log.Error("closing the queued run", "run_id", id, "error", cerr)
						}
					}
					log.Info("apply summary", "job", p.Job, "run_id", sum.RunID, "sent", sum.Counts.Send, "ok", sum.OK,
						"failed", sum.Failed, "stale", sum.Stale, "interrupted", sum.Interrupted, "error", err)
				}()
				return id, nil
			},
		})
		if err != nil {
			sched.Stop(context.WithoutCancel(ctx))
			fmt.Fprintf(c.stderr, "runner serve: %v\n", err)
			return exitFailed
		}
		mux := http.NewServeMux()
		mux.Handle("/", handler)
		con.Mount(mux)
		handler = mux
	}

	ln, err := net.Listen("tcp", set.Listen)
	if err != nil {
		sched.Stop(context.WithoutCancel(ctx))
		fmt.Fprintf(c.stderr, "runner serve: %v\n", err)
		return exitFailed
	}
	// W3C trace context in, spans per request: a caller's trace reaches the run.
	srv := newHTTPServer(otelhttp.NewHandler(serveMetrics(handler, c.metrics, set.APIToken), "runner serve",
		otelhttp.WithMeterProvider(c.metrics.MeterProvider())))
	go srv.Serve(netutil.LimitListener(ln, maxConns))
	fmt.Fprintf(c.stdout, "serving %d job(s) on http://%s\n", len(cfg.Jobs), ln.Addr())

	stop, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			next, diags, ok := c.load(paths, &jf, true)
			for _, j := range next.Jobs {
				if ok {
					if d := next.CheckRunnable(j, true); d.HasErrors() {
						diags, ok = append(diags, d...), false
					}
				}
			}
			if !ok {
				c.logDiags(ctx, "reload refused: the files have errors; the old jobs keep running", next, diags)
				continue
			}
			// Swap the jobs runs look up first, so a run the scheduler
			// starts with the new set finds its job.
			mu.Lock()
			prev := current
			current = next
			mu.Unlock()
			if err := sched.Reload(schedJobs(next)); err != nil {
				mu.Lock()
				current = prev
				mu.Unlock()
				log.Error("reload failed; the old jobs keep running", "err", err)
				continue
			}
			log.Info("reloaded", "jobs", len(next.Jobs))
		case <-stop.Done():
			log.Info("stopping: finishing runs in flight")
			shut, done := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer done()
			srv.Shutdown(shut)
			close(quit)
			err := sched.Stop(shut)
			applies.Wait()
			if err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(c.stderr, "runner serve: %v\n", err)
				return exitFailed
			}
			return exitOK
		}
	}
}

// serveLock is the lock one serve process holds on a SQLite ledger.
const serveLock = "serve"

// maxConns bounds the API's open connections: an idle client must not take
// the file descriptors the runs need.
const maxConns = 64

// newHTTPServer bounds every phase of a request and idle keep-alive
// connections, so that slow or idle clients cannot pile up.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// shopOf names the shop a job talks to, for the console's header.
func shopOf(j *engine.Job) string {
	for _, c := range []any{j.Dest, j.Source} {
		if s, ok := c.(interface{ Shop() string }); ok && s.Shop() != "" {
			return s.Shop()
		}
	}
	return ""
}

func schedJobs(cfg *engine.Config) []scheduler.Job {
	out := make([]scheduler.Job, 0, len(cfg.Jobs))
	for _, j := range cfg.Jobs {
		sj := scheduler.Job{Name: j.Name, Spec: j.ScheduleText, Location: j.Location}
		if j.Schedule != nil {
			sj.Schedule = j.Schedule
		}
		out = append(out, sj)
		if r := j.Reconcile; r != nil {
			out = append(out, scheduler.Job{Name: reconcilePrefix + j.Name, Schedule: r.Schedule, Spec: r.ScheduleText})
		}
	}
	return out
}
