package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
)

func (c *cli) history(ctx context.Context, args []string) int {
	fs := c.flagSet("history", "[JOB]", nil, false)
	asJSON := fs.Bool("json", false, "write JSON for machines")
	limit := fs.Int("n", 20, "how many runs to show, newest first")
	if code, ok := c.parseArgs(fs, args, 0, 1); !ok {
		return code
	}
	st, ok := c.openLedger(ctx)
	if !ok {
		return exitConfig
	}
	defer st.Close()
	runs, err := st.History(ctx, fs.Arg(0), *limit)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner history: %v\n", err)
		return exitFailed
	}
	if *asJSON {
		if runs == nil {
			runs = []ledger.Run{}
		}
		engine.WriteJSON(c.stdout, runs)
		return exitOK
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tjob\ttrigger\tstarted\tended\tsent\tok\tfailed\tparked\tunchanged\texcluded\terrors\terror")
	for _, r := range runs {
		ended := "running or killed"
		if !r.EndedAt.IsZero() {
			ended = r.EndedAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Job, r.Trigger,
			r.StartedAt.Local().Format(time.DateTime), ended, r.Counts.Sent, r.Counts.OK, r.Counts.Failed,
			r.Counts.Parked, r.Counts.Unchanged, r.Counts.Excluded, r.Counts.Errors, r.Error)
	}
	tw.Flush()
	return exitOK
}

func (c *cli) failures(ctx context.Context, args []string) int {
	fs := c.flagSet("failures", "[JOB]", nil, false)
	asJSON := fs.Bool("json", false, "write JSON for machines")
	if code, ok := c.parseArgs(fs, args, 0, 1); !ok {
		return code
	}
	st, ok := c.openLedger(ctx)
	if !ok {
		return exitConfig
	}
	defer st.Close()
	parked, err := st.Parked(ctx, fs.Arg(0))
	if err != nil {
		fmt.Fprintf(c.stderr, "runner failures: %v\n", err)
		return exitFailed
	}
	if *asJSON {
		if parked == nil {
			parked = []ledger.Entry{}
		}
		engine.WriteJSON(c.stdout, parked)
		return exitOK
	}
	if len(parked) == 0 {
		fmt.Fprintln(c.stdout, "no parked records")
		return exitOK
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "job\tkey\tcode\tmessage\tattempts\tlast")
	for _, e := range parked {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", e.Job, e.Key, e.Code, e.Message, e.Attempts, e.LastAt.Local().Format(time.DateTime))
	}
	tw.Flush()
	fmt.Fprintln(c.stdout, "\nrunner retry JOB [KEY...] sends them again on the next run.")
	return exitOK
}

func (c *cli) retry(ctx context.Context, args []string) int {
	fs := c.flagSet("retry", "JOB [KEY...]", nil, false)
	lockWait := fs.Duration("lock-timeout", 0, "how long to wait for a run of the job in flight to finish (0: do not wait)")
	if code, ok := c.parseArgs(fs, args, 1, -1); !ok {
		return code
	}
	st, ok := c.openLedger(ctx)
	if !ok {
		return exitConfig
	}
	defer st.Close()
	job := fs.Arg(0)
	// A run in flight records its batches' outcomes; changing them under it
	// would be overwritten or mixed up. Take the job's turn, as a run does.
	lk, code := c.jobLock(ctx, st, job, *lockWait, "retry")
	if lk == nil {
		return code
	}
	defer lk.Unlock()
	n, err := st.Retry(ctx, job, fs.Args()[1:])
	if err != nil {
		fmt.Fprintf(c.stderr, "runner retry: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(c.stdout, "%d parked record(s) of %s will be sent on the next run\n", n, job)
	return exitOK
}
