package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/parked"
)

// jobLock takes job's lock for a command that changes its ledger entries,
// waiting up to wait. On failure it prints why and returns the exit status.
func (c *cli) jobLock(ctx context.Context, st *ledger.Store, job string, wait time.Duration, command string) (*ledger.Lock, int) {
	lk, err := parked.Lock(ctx, st, job, wait, command)
	var held *ledger.LockedError
	switch {
	case err == nil:
		return lk, exitOK
	case !errors.As(err, &held):
		fmt.Fprintf(c.stderr, "runner %s: %v\n", command, err)
		return nil, exitFailed
	}
	fmt.Fprintf(c.stderr, "runner %s: job %q is being run by %s\n", command, job, held.Holder())
	fmt.Fprintf(c.stderr, "  Wait for it with -lock-timeout DURATION. If that process is gone for good, release its lock with: runner unlock %s\n", job)
	return nil, exitLocked
}

// unlock releases the lock of a job whose run died in a way the lock could
// not see (on SQLite, a holder on another machine that will not come back
// within its stale time; on PostgreSQL, a hung process). It asks first,
// since releasing the lock of a live run lets another overlap it.
func (c *cli) unlock(ctx context.Context, args []string) int {
	fs := c.flagSet("unlock", "JOB", nil, false)
	force := fs.Bool("force", false, "release without asking")
	if code, ok := c.parseArgs(fs, args, 1, 1); !ok {
		return code
	}
	st, ok := c.openLedger(ctx)
	if !ok {
		return exitConfig
	}
	defer st.Close()
	job := fs.Arg(0)
	name := engine.JobLock(job)
	o, held, err := st.Holder(ctx, name)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner unlock: %v\n", err)
		return exitFailed
	}
	if !held {
		fmt.Fprintf(c.stdout, "job %q is not locked\n", job)
		return exitOK
	}
	fmt.Fprintf(c.stdout, "job %q is locked by %s.\n", job, o)
	if !*force {
		fmt.Fprint(c.stdout, "Release it only if that process is gone for good: a run still in flight would\n"+
			"then overlap the next one. Only 'yes' releases it: ")
		line, _ := bufio.NewReader(c.in()).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintln(c.stdout, "not released")
			return exitFailed
		}
	}
	if _, _, err := st.ForceUnlock(ctx, name); err != nil {
		fmt.Fprintf(c.stderr, "runner unlock: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(c.stdout, "released the lock of job %q\n", job)
	return exitOK
}
