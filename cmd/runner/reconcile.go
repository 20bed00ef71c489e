package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/reconcile"
	"github.com/goqsync/runner/scheduler"
)

// reconcile reads back from the destination what it holds now for the
// records the ledger says it accepted, and reports what drifted. It never
// writes to the destination; -requeue writes to the ledger only.
func (c *cli) reconcile(ctx context.Context, args []string) int {
	var jf jobFlags
	fs := c.flagSet("reconcile", "PATH...", &jf, true)
	since := fs.String("since", "7d", "the window: records accepted within this long before now (7d, 36h, 90m)")
	requeue := fs.Bool("requeue", false, "mark drifted and not completed records in the ledger so that the next run sends them again")
	lockWait := fs.Duration("lock-timeout", 0, "with -requeue: how long to wait for a run of the job in flight to finish (0: do not wait)")
	needDest := true
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	window, err := parseWindow(*since)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner reconcile: -since %q: %v\n", *since, err)
		return exitConfig
	}
	_, jobs, ok := c.runnableJobs(fs, &jf, &needDest)
	if !ok {
		return exitConfig
	}
	for _, j := range jobs {
		if _, ok := j.Dest.(reconcile.Reader); !ok {
			fmt.Fprintf(c.stderr, "runner reconcile: job %q: destination %s %v; only destinations that can read back (futureshop) can be\n", j.Name, j.DestType, reconcile.ErrCannotRead)
			return exitConfig
		}
	}
	now := time.Now()
	if jf.now != "" {
		now, _ = parseNow(jf.now) // load checked it
	}
	st, ok := c.existingLedger(ctx)
	if !ok {
		return exitConfig
	}
	if st == nil {
		s, _ := c.settings(ctx)
		fmt.Fprintf(c.stderr, "runner reconcile: no ledger at %s: no run has recorded anything to read back\n", s.Database)
	} else {
		defer st.Close()
	}
	code := exitOK
	var reps []*reconcile.Report
	for _, j := range jobs {
		rep := &reconcile.Report{Job: j.Name, Destination: j.DestType, Scope: j.Scope(), Since: now.Add(-window).In(j.Location), Records: []reconcile.Record{}}
		if st != nil {
			var rc int
			rep, rc = c.reconcileJob(ctx, st, j, now.Add(-window).In(j.Location), *requeue, *lockWait)
			if rep == nil {
				code = max(code, rc)
				continue
			}
		}
		reps = append(reps, rep)
		if !jf.json {
			rep.WriteText(c.stdout)
		}
		if rep.Drift() {
			code = max(code, exitFailed)
		}
	}
	if jf.json {
		if reps == nil {
			reps = []*reconcile.Report{}
		}
		engine.WriteJSON(c.stdout, reps)
	}
	return code
}

// reconcileJob checks one job, holding the shop's lock while it reads (its
// request budget is shared with the runs) and, with requeue, the job's lock
// so that no run records under it. On failure it prints why and returns a
// nil report and the exit status.
func (c *cli) reconcileJob(ctx context.Context, st *ledger.Store, j *engine.Job, since time.Time, requeue bool, lockWait time.Duration) (*reconcile.Report, int) {
	if requeue {
		lk, code := c.jobLock(ctx, st, j.Name, lockWait, "reconcile")
		if lk == nil && code == exitLocked {
			return nil, code
		}
		if lk == nil {
			return nil, exitStopped // the ledger failed
		}
		defer lk.Unlock()
	}
	release, err := shopLocks(ctx, st, j, c.stderr, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner reconcile: job %q: %v\n", j.Name, err)
		return nil, exitStopped
	}
	defer release()
	rep, err := reconcile.Check(ctx, j, st, reconcile.Options{Since: since, Announce: func(records, calls int, every time.Duration) {
		fmt.Fprintf(c.stderr, "runner reconcile: job %q: reading back %d record(s) from %s in %d request(s)%s\n",
			j.Name, records, j.DestType, calls, pace(calls, every))
	}})
	if err == nil && requeue {
		_, err = reconcile.Requeue(ctx, st, rep)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "runner reconcile: job %q: %v\n", j.Name, engine.Clip(err.Error()))
		return nil, exitStopped
	}
	return rep, exitOK
}

// pace says how long calls requests take at one per every.
func pace(calls int, every time.Duration) string {
	total := time.Duration(calls-1) * every
	if total < time.Second {
		return ""
	}
	return fmt.Sprintf(", one per %s at most: about %s", every.Round(time.Millisecond), total.Round(time.Second))
}

// parseWindow reads -since: a number of days ("7d") or a Go duration.
func parseWindow(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, errors.New("want a positive number of days such as 7d, or a duration such as 36h")
	}
	return d, nil
}

// shopLocks takes the locks of the budgets j shares (the shop's requests
// per second), waiting for the runs that hold them, until abandon closes.
func shopLocks(ctx context.Context, st *ledger.Store, j *engine.Job, log io.Writer, abandon <-chan struct{}) (release func(), err error) {
	var held []*ledger.Lock
	release = func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i].Unlock()
		}
	}
	for _, name := range j.Shares() {
		lk, err := waitLock(ctx, st, name, j.Name, time.Time{}, abandon, log)
		if err != nil {
			release()
			return nil, err
		}
		held = append(held, lk)
	}
	return release, nil
}

// waitLock takes the named lock, waiting while another holds it: until
// deadline (zero: no bound; then a *ledger.LockedError), or until abandon
// closes (scheduler.ErrNotStarted). log, when set, hears once that it waits.
func waitLock(ctx context.Context, st *ledger.Store, name, job string, deadline time.Time, abandon <-chan struct{}, log io.Writer) (*ledger.Lock, error) {
	said := false
	for {
		lk, err := st.TryLock(ctx, name, ledger.Owner{Job: job, Command: "reconcile"})
		var held *ledger.LockedError
		switch {
		case err == nil:
			return lk, nil
		case !errors.As(err, &held):
			return nil, fmt.Errorf("ledger: %w", err)
		case !deadline.IsZero() && time.Now().After(deadline):
			return nil, err
		}
		if !said && log != nil {
			fmt.Fprintf(log, "runner reconcile: waiting for %s, in use by %s\n", name, held.Holder())
			said = true
		}
		select {
		case <-abandon:
			return nil, scheduler.ErrNotStarted
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// reconcilePrefix names a job's reconcile among serve's scheduled jobs: it
// is scheduled, listed and run on request (POST /jobs/reconcile:NAME/runs)
// as a job of its own.
const reconcilePrefix = "reconcile:"

// TriggerReconcile is the trigger of a reconcile in the run history.
const TriggerReconcile = "reconcile"

// serveReconcile runs a job's reconcile for serve and records it in the
// history as a run with trigger "reconcile": checked records count as sent,
// those in sync as ok, the others as failed, and what drifted is the run's
// error. It holds the job's lock, so that runs of the job and its reconciles
// take turns as runs do.
func serveReconcile(ctx context.Context, st *ledger.Store, j *engine.Job, req scheduler.RunRequest, log *slog.Logger) (int64, error) {
	jl, err := waitLock(ctx, st, engine.JobLock(j.Name), j.Name, req.WaitUntil, req.Abandon, nil)
	var held *ledger.LockedError
	switch {
	case errors.As(err, &held):
		return 0, fmt.Errorf("%w: %v", scheduler.ErrBusy, err)
	case err != nil:
		return 0, err
	}
	defer jl.Unlock()
	release, err := shopLocks(ctx, st, j, nil, req.Abandon)
	if err != nil {
		return 0, err
	}
	defer release()
	runID := req.RunID // queued by the API: the id it answered
	if runID != 0 {
		err = st.StartQueued(ctx, runID, j.Name, TriggerReconcile, time.Now())
	} else {
		runID, err = st.StartRun(ctx, j.Name, TriggerReconcile, time.Now())
	}
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	jl.SetRun(ctx, runID)
	rep, err := reconcile.Check(ctx, j, st, reconcile.Options{Since: time.Now().Add(-reconcileWindow)})
	if err == nil && j.Reconcile != nil && j.Reconcile.Requeue {
		_, err = reconcile.Requeue(ctx, st, rep)
	}
	var counts ledger.Counts
	errText := ""
	switch {
	case err != nil:
		errText = err.Error()
	case rep.Drift():
		errText = driftText(rep)
	}
	if rep != nil {
		counts = ledger.Counts{Sent: rep.Counts.Checked, OK: rep.Counts.InSync, Failed: rep.Counts.Checked - rep.Counts.InSync}
		log.Info("reconcile summary", "job", j.Name, "run_id", runID, "checked", rep.Counts.Checked, "in_sync", rep.Counts.InSync,
			"drifted", rep.Counts.Drifted, "not_completed", rep.Counts.NotCompleted, "missing", rep.Counts.Missing, "requeued", rep.Requeued)
	}
	if ferr := st.FinishRun(context.WithoutCancel(ctx), runID, time.Now(), counts, errText); ferr != nil && err == nil {
		err = fmt.Errorf("ledger: %w", ferr)
	}
	return runID, err
}

// reconcileWindow is how far back a scheduled reconcile looks, as the
// command's default -since.
const reconcileWindow = 7 * 24 * time.Hour

// driftText sums a report's drift up for the history's error column.
func driftText(rep *reconcile.Report) string {
	c := rep.Counts
	s := fmt.Sprintf("drift: %d drifted, %d not completed, %d missing", c.Drifted, c.NotCompleted, c.Missing)
	var keys []string
	for _, r := range rep.Records {
		if r.State != reconcile.InSync {
			keys = append(keys, r.Key)
		}
	}
	s += " (" + strings.Join(keys, " ") + ")"
	if rep.Requeued > 0 {
		s += fmt.Sprintf("; %d requeued", rep.Requeued)
	}
	return engine.Clip(s)
}
