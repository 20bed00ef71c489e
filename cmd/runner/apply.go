package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
	"github.com/hashicorp/hcl/v2"
)

// apply sends a saved plan (runner plan -out): exactly its payloads and
// actions, or nothing when the plan no longer holds.
func (c *cli) apply(ctx context.Context, args []string) int {
	fs := c.flagSet("apply", "PLANFILE", nil, false)
	maxAge := fs.Duration("max-age", time.Hour, "refuse a plan older than this: its date windows have moved (0: no limit)")
	lockWait := fs.Duration("lock-timeout", 0, "how long to wait for another run of the job to finish (0: do not wait)")
	timeout := fs.Duration("timeout", 0, "the run's deadline: past it, stop after the batch in flight (0: none)")
	nowFlag := fs.String("now", "", "pin the clock, RFC 3339 (2026-11-28T10:05:00+09:00): the plan's age is measured to it")
	asJSON := fs.Bool("json", false, "write the summary as JSON for machines")
	var progress progressFlag
	fs.Var(&progress, "progress", "show the run's progress, as runner run does")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitConfig
	}
	path := fs.Arg(0)
	p, err := engine.ReadPlanFile(path)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner apply: %v\n", err)
		return exitConfig
	}
	// Relative paths in the job (an export, an import directory) must mean
	// what they meant when the plan was made.
	if wd, err := os.Getwd(); err == nil && wd != p.Dir {
		fmt.Fprintf(c.stderr, "runner apply: %s was planned in %s: apply it from there (the job's relative paths mean what they meant then)\n", path, p.Dir)
		return exitConfig
	}
	now := time.Now()
	jf := jobFlags{vars: p.Args, now: *nowFlag}
	if *nowFlag != "" {
		if now, err = parseNow(*nowFlag); err != nil {
			fmt.Fprintf(c.stderr, "runner apply: -now %q: %v\n", *nowFlag, err)
			return exitConfig
		}
	}
	// The plan showed the job's warnings; apply shows only what stops it.
	cfg, diags, ok := c.load(p.JobPaths(), &jf, true)
	if !ok {
		var errs hcl.Diagnostics
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				errs = append(errs, d)
			}
		}
		c.writeDiags(cfg, errs)
		return exitConfig
	}
	j, found := cfg.Job(p.Job)
	if !found {
		fmt.Fprintf(c.stderr, "runner apply: the plan's job %q is no longer in %v; nothing was sent\n", p.Job, p.JobPaths())
		return exitConfig
	}
	if err := p.Check(cfg, j, now, *maxAge); err != nil {
		var changed *engine.PlanChangedError
		if errors.As(err, &changed) {
			fmt.Fprintf(c.stderr, "runner apply: %s no longer holds; nothing was sent:\n", path)
			for _, r := range changed.Reasons {
				fmt.Fprintf(c.stderr, "  - %s\n", r)
			}
			fmt.Fprintf(c.stderr, "Make a new plan: runner plan -out %s …\n", path)
		} else {
			fmt.Fprintf(c.stderr, "runner apply: %v\n", err)
		}
		return exitConfig
	}
	if d := cfg.CheckRunnable(j, true); d.HasErrors() {
		c.writeDiags(cfg, d)
		return exitConfig
	}
	st, ok := c.openLedger(ctx)
	if !ok {
		return exitConfig
	}
	defer st.Close()
	stop, stopCode := c.interrupt, func() int { return exitInterrupted }
	if stop == nil {
		stop, stopCode = interruptChannel(c.log)
	}
	report, endReport := c.startProgress(ctx, progress.or(c.term != nil && !*asJSON), c.term != nil)
	sum, err := j.Apply(ctx, p, engine.RunOptions{Trigger: ledger.TriggerApply, Ledger: engineLedger{s: st, command: "apply"},
		Stop: stop, Log: c.log, Progress: report, LockWait: *lockWait, Timeout: *timeout, Now: now})
	endReport()
	if *asJSON {
		engine.WriteJSON(c.stdout, sum)
	} else {
		printSummary(c.stdout, sum)
	}
	var locked *engine.LockedError
	switch {
	case errors.As(err, &locked):
		c.runLog(sum).ErrorContext(ctx, "another run holds the job's lock; nothing was sent", "error", err.Error(),
			"hint", "wait for it with -lock-timeout DURATION, or plan again once it has finished")
		return exitLocked
	case err != nil:
		c.runLog(sum).ErrorContext(ctx, "the apply stopped", "error", engine.Clip(err.Error()),
			"pending", sum.Pending, "not_sent", sum.NotSent)
		return exitStopped
	case sum.Interrupted:
		return stopCode()
	case !sum.Succeeded():
		return exitFailed
	}
	return exitOK
}

// show prints a saved plan as plan printed it.
func (c *cli) show(ctx context.Context, args []string) int {
	fs := c.flagSet("show", "PLANFILE", nil, false)
	asJSON := fs.Bool("json", false, "write JSON for machines, as plan -json does")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitConfig
	}
	p, err := engine.ReadPlanFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(c.stderr, "runner show: %v\n", err)
		return exitConfig
	}
	if err := p.Show(c.stdout, *asJSON); err != nil {
		fmt.Fprintf(c.stderr, "runner show: %v\n", err)
		return exitStopped
	}
	return exitOK
}
