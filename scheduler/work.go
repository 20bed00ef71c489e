package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
)

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
		if a.RunID != 0 && s.cfg.Ledger != nil {
			if err := s.cfg.Ledger.CancelQueued(ctx, a.RunID, "not run: the job is no longer configured"); err != nil {
				log.Error("closing the queued run", "run_id", a.RunID, "error", err)
			}
		}
		return nil
	}
	req := RunRequest{Job: a.Job, Trigger: a.Trigger, Occurrence: a.Slot, Abandon: s.stopping, RunID: a.RunID}
	if !a.Slot.IsZero() && j.Schedule != nil {
		req.WaitUntil = align(j.Schedule).Next(a.Slot)
		ctx = context.WithValue(ctx, occurrenceKey{}, a.Slot)
	}
	start := time.Now()
	runID, err := s.cfg.Run(ctx, req)
	if a.RunID != 0 && s.cfg.Ledger != nil && !errors.Is(err, ErrNotStarted) {
		// A queued run the RunFunc did not start must not stay queued for
		// ever; one it started is no longer queued, and this changes nothing.
		why := "not run"
		if err != nil {
			why += ": " + err.Error()
		}
		if cerr := s.cfg.Ledger.CancelQueued(context.WithoutCancel(ctx), a.RunID, why); cerr != nil {
			log.Error("closing the queued run", "run_id", a.RunID, "error", cerr)
		}
	}
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
