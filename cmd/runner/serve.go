package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/scheduler"
)

// serve runs the jobs of PATH on their schedules, with an HTTP API for
// manual runs (the 発送情報の更新 button), until SIGINT or SIGTERM. SIGHUP
// reloads the files; an invalid set keeps the old jobs running.
func (c *cli) serve(ctx context.Context, args []string) int {
	var jf jobFlags
	fs := c.flagSet("serve", "PATH...", &jf, false)
	needDest := true
	cfg, _, ok := c.runnableJobs(fs, args, &jf, &needDest)
	if !ok {
		return exitConfig
	}
	paths := fs.Args()
	log := slog.New(slog.NewTextHandler(c.stderr, nil))
	set, err := c.settings(ctx)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner serve: settings: %v\n", err)
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

	// The current job set; SIGHUP swaps it.
	var mu sync.Mutex
	current := cfg
	run := func(ctx context.Context, name, trigger string) (int64, error) {
		mu.Lock()
		j, ok := current.Job(name)
		mu.Unlock()
		if !ok {
			return 0, fmt.Errorf("job %q is no longer loaded", name)
		}
		// A stop lets the batch in flight finish: the run itself is not
		// cancelled, it is told to stop between batches.
		sum, err := j.Run(context.WithoutCancel(ctx), engine.RunOptions{
			Trigger: trigger, Ledger: engineLedger{st}, Stop: ctx.Done(), Log: c.stderr,
		})
		log.Info("run summary", "job", name, "trigger", trigger, "run_id", sum.RunID, "read", sum.Counts.Read,
			"sent", sum.Counts.Send, "ok", sum.OK, "failed", sum.Failed, "unchanged", sum.Counts.Unchanged,
			"excluded", sum.Counts.Excluded, "errors", sum.Counts.Errors, "interrupted", sum.Interrupted)
		return sum.RunID, err
	}
	sched, err := scheduler.New(ctx, scheduler.Config{
		Database: set.Database, Run: run, Ledger: st, Jobs: schedJobs(cfg),
		Listen: set.Listen, Token: set.APIToken, Logger: log,
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "runner serve: %v\n", err)
		return exitFailed
	}
	if err := sched.Start(ctx); err != nil {
		fmt.Fprintf(c.stderr, "runner serve: %v\n", err)
		return exitFailed
	}

	ln, err := net.Listen("tcp", set.Listen)
	if err != nil {
		sched.Stop(context.WithoutCancel(ctx))
		fmt.Fprintf(c.stderr, "runner serve: %v\n", err)
		return exitFailed
	}
	srv := &http.Server{Handler: sched.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
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
				log.Error("reload refused: the files have errors; the old jobs keep running")
				next.DiagWriter().WriteText(c.stderr, diags)
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
			if err := sched.Stop(shut); err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(c.stderr, "runner serve: %v\n", err)
				return exitFailed
			}
			return exitOK
		}
	}
}

func schedJobs(cfg *engine.Config) []scheduler.Job {
	out := make([]scheduler.Job, 0, len(cfg.Jobs))
	for _, j := range cfg.Jobs {
		sj := scheduler.Job{Name: j.Name, Spec: j.ScheduleText}
		if j.Schedule != nil {
			sj.Schedule = j.Schedule
		}
		out = append(out, sj)
	}
	return out
}
