package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
)

// settings are the runner's own, from RUNNER_* variables.
type settings struct {
	// Database is a SQLite file path, or a postgres:// URL to share state
	// between machines.
	Database string `env:"RUNNER_DATABASE, default=.runner/state.db"`
	// Listen is the address of serve's HTTP API.
	Listen string `env:"RUNNER_LISTEN, default=127.0.0.1:8080"`
	// APIToken guards serve's HTTP API; required off loopback.
	APIToken string `env:"RUNNER_API_TOKEN"`
}

func (c *cli) settings(ctx context.Context) (settings, error) {
	var s settings
	err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &s, Lookuper: envconfig.LookuperFunc(c.lookupEnv)})
	return s, err
}

func (c *cli) openLedger(ctx context.Context) (*ledger.Store, bool) {
	s, err := c.settings(ctx)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner: settings: %v\n", err)
		return nil, false
	}
	st, err := ledger.Open(ctx, s.Database)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner: %v\n", err)
		return nil, false
	}
	return st, true
}

// engineLedger lets the engine record into the ledger store. command
// ("run", "serve") tells others who holds a lock.
type engineLedger struct {
	s       *ledger.Store
	command string
}

func (l engineLedger) Lock(ctx context.Context, name, job string) (engine.Lock, error) {
	lk, err := l.s.TryLock(ctx, name, ledger.Owner{Job: job, Command: l.command})
	if err != nil {
		return nil, err
	}
	return lk, nil
}

func (l engineLedger) Lookup(ctx context.Context, job, dest string, keys []string) (map[string]engine.LedgerEntry, error) {
	got, err := l.s.Lookup(ctx, job, dest, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]engine.LedgerEntry, len(got))
	for k, e := range got {
		out[k] = engine.LedgerEntry{Hash: e.Hash, Status: e.Status, Code: e.Code, Message: e.Message}
	}
	return out, nil
}

func (l engineLedger) Begin(ctx context.Context, run int64, job, dest string, batch []engine.LedgerSend) error {
	sends := make([]ledger.Send, len(batch))
	for i, s := range batch {
		sends[i] = ledger.Send{Key: s.Key, Hash: s.Hash, Payload: s.Payload}
	}
	return l.s.Begin(ctx, run, job, dest, sends)
}

func (l engineLedger) Record(ctx context.Context, run int64, job, dest string, batch []engine.Payload, results []engine.Result, token string) error {
	outs := make([]ledger.Outcome, len(batch))
	for i, p := range batch {
		r := results[i]
		o := ledger.Outcome{Key: p.Key, Status: ledger.StatusOK, Code: r.Code, Message: r.Message}
		switch {
		case r.OK && token != "":
			o.Status, o.Token = ledger.StatusStaged, token
		case r.OK:
		case r.Permanent:
			o.Status = ledger.StatusParked
		default:
			o.Status = ledger.StatusFailed
		}
		outs[i] = o
	}
	return l.s.Record(ctx, run, job, dest, outs)
}

func (l engineLedger) Staged(ctx context.Context, job, dest string) ([]string, error) {
	return l.s.Staged(ctx, job, dest)
}

func (l engineLedger) Settle(ctx context.Context, job, dest, token, status, message string) error {
	_, err := l.s.Settle(ctx, job, dest, token, status, message)
	return err
}

func (l engineLedger) Adopt(ctx context.Context, job, from, to string) error {
	_, err := l.s.Adopt(ctx, job, from, to)
	return err
}

func (l engineLedger) StartRun(ctx context.Context, job, trigger string, at time.Time) (int64, error) {
	return l.s.StartRun(ctx, job, trigger, at)
}

func (l engineLedger) FinishRun(ctx context.Context, run int64, at time.Time, s engine.RunSummary, runErr error) error {
	errText := ""
	if runErr != nil {
		errText = runErr.Error()
	} else if s.Interrupted {
		errText = "interrupted"
	}
	return l.s.FinishRun(ctx, run, at, ledger.Counts{
		Sent: s.Counts.Send, OK: s.OK, Failed: s.Failed - s.NewlyParked, Parked: s.NewlyParked,
		Unchanged: s.Counts.Unchanged, Excluded: s.Counts.Excluded, Errors: s.Counts.Errors,
	}, errText)
}

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

// jobLock takes job's lock for a command that changes its ledger entries,
// waiting up to wait. On failure it prints why and returns the exit status.
func (c *cli) jobLock(ctx context.Context, st *ledger.Store, job string, wait time.Duration, command string) (*ledger.Lock, int) {
	deadline := time.Now().Add(wait)
	for {
		lk, err := st.TryLock(ctx, engine.JobLock(job), ledger.Owner{Job: job, Command: command})
		var held *ledger.LockedError
		switch {
		case err == nil:
			return lk, exitOK
		case !errors.As(err, &held):
			fmt.Fprintf(c.stderr, "runner %s: %v\n", command, err)
			return nil, exitFailed
		case time.Now().After(deadline):
			fmt.Fprintf(c.stderr, "runner %s: job %q is being run by %s\n", command, job, held.Holder())
			fmt.Fprintf(c.stderr, "  Wait for it with -lock-timeout DURATION. If that process is gone for good, release its lock with: runner unlock %s\n", job)
			return nil, exitLocked
		}
		time.Sleep(500 * time.Millisecond)
	}
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

// existingLedger opens the ledger only if it already exists, for commands
// such as plan that must not create anything.
func (c *cli) existingLedger(ctx context.Context) (*ledger.Store, bool) {
	s, err := c.settings(ctx)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner: settings: %v\n", err)
		return nil, false
	}
	if !strings.HasPrefix(s.Database, "postgres://") && !strings.HasPrefix(s.Database, "postgresql://") {
		if _, err := os.Stat(s.Database); err != nil {
			return nil, true
		}
	}
	return c.openLedger(ctx)
}
