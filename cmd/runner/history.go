package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os/user"
	"strings"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/parked"
	"github.com/goqsync/runner/scheduler"
	"github.com/goqsync/runner/table"
)

func (c *cli) history(ctx context.Context, args []string) int {
	fs := c.flagSet("history", "[JOB]", nil, false)
	asJSON := fs.Bool("json", false, "write JSON for machines")
	limit := fs.Int("n", 20, "how many runs to show, newest first (with -order: how many events; default all)")
	order := fs.String("order", "", "the story of one order (an order number): every run that sent, failed, parked, skipped or excluded it, newest first, with the payload sent and the answer")
	if code, ok := c.parseArgs(fs, args, 0, 1); !ok {
		return code
	}
	st, ok := c.openLedger(ctx)
	if !ok {
		return exitConfig
	}
	defer st.Close()
	if *order != "" {
		n := 0
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "n" {
				n = *limit
			}
		})
		return c.story(ctx, st, *order, fs.Arg(0), n, *asJSON)
	}
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
	tw := table.NewWriter(c.stdout)
	fmt.Fprintln(tw, "run\tjob\ttrigger\tstatus\tstarted\tended\tsent\tok\tfailed\tparked\tunchanged\texcluded\terrors\terror")
	for _, r := range runs {
		ended := "-"
		if !r.EndedAt.IsZero() {
			ended = r.EndedAt.Local().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Job, r.Trigger, r.Status,
			r.StartedAt.Local().Format(time.RFC3339), ended, r.Counts.Sent, r.Counts.OK, r.Counts.Failed,
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
	tw := table.NewWriter(c.stdout)
	fmt.Fprintln(tw, "job\tkey\tcode\tattempts\tfirst seen\tlast seen\treason")
	for _, e := range parked {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.Job, e.Key, e.Code, e.Attempts,
			e.FirstAt.Local().Format(time.RFC3339), e.LastAt.Local().Format(time.RFC3339), e.Message)
	}
	tw.Flush()
	fmt.Fprintln(c.stdout, "\nrunner retry JOB [KEY...] sends them again on the next run; runner resolve JOB KEY... -reason TEXT settles them for good.")
	return exitOK
}

// parkedKeys checks job and keys against the ledger for retry and resolve:
// an unknown job or a key that is not parked is a mistake to say, with
// the nearest name, before anything changes.
func (c *cli) parkedKeys(ctx context.Context, st *ledger.Store, command, job string, keys []string) bool {
	err := parked.Check(ctx, st, job, keys)
	var m *parked.MistakeError
	switch {
	case err == nil:
		return true
	case errors.As(err, &m):
		for _, p := range m.Problems {
			fmt.Fprintf(c.stderr, "runner %s: %s\n", command, p)
		}
	default:
		fmt.Fprintf(c.stderr, "runner %s: %v\n", command, err)
	}
	return false
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
	if !c.parkedKeys(ctx, st, "retry", job, fs.Args()[1:]) {
		return exitConfig
	}
	n, err := st.Retry(ctx, job, fs.Args()[1:])
	if err != nil {
		fmt.Fprintf(c.stderr, "runner retry: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(c.stdout, "%d parked record(s) of %s will be sent on the next run\n", n, job)
	return exitOK
}

func (c *cli) resolve(ctx context.Context, args []string) int {
	fs := c.flagSet("resolve", "JOB KEY...", nil, false)
	reason := fs.String("reason", "", "why these records need no sending (required; kept in the ledger)")
	lockWait := fs.Duration("lock-timeout", 0, "how long to wait for a run of the job in flight to finish (0: do not wait)")
	if code, ok := c.parseArgs(fs, args, 2, -1); !ok {
		return code
	}
	if strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(c.stderr, "runner resolve: -reason is required: say why these records need no sending")
		return exitConfig
	}
	st, ok := c.openLedger(ctx)
	if !ok {
		return exitConfig
	}
	defer st.Close()
	job, keys := fs.Arg(0), fs.Args()[1:]
	lk, code := c.jobLock(ctx, st, job, *lockWait, "resolve")
	if lk == nil {
		return code
	}
	defer lk.Unlock()
	if !c.parkedKeys(ctx, st, "resolve", job, keys) {
		return exitConfig
	}
	n, err := st.Resolve(ctx, job, keys, whoami(c.lookupEnv), *reason, time.Now())
	if err != nil {
		fmt.Fprintf(c.stderr, "runner resolve: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(c.stdout, "%d parked record(s) of %s resolved: not sent again unless their values change\n", n, job)
	return exitOK
}

// whoami names the person resolving, for the ledger: $USER, else the
// account the process runs as.
func whoami(lookup func(string) (string, bool)) string {
	if u, ok := lookup("USER"); ok && u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// story prints the events of the records labelled order (of job, when
// given), newest first, at most limit (0: all), in the local zone.
func (c *cli) story(ctx context.Context, st *ledger.Store, order, job string, limit int, asJSON bool) int {
	evs, err := st.Story(ctx, order, 0)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner history: %v\n", err)
		return exitFailed
	}
	// The API's shape: GET /orders/{no} answers the same.
	out := scheduler.OrderStory{Order: order, Events: []ledger.Event{}}
	for _, e := range evs {
		if job != "" && e.Job != job {
			continue
		}
		if limit > 0 && len(out.Events) == limit {
			break
		}
		e.At = e.At.Local()
		out.Events = append(out.Events, e)
	}
	if asJSON {
		engine.WriteJSON(c.stdout, out)
		return exitOK
	}
	if len(out.Events) == 0 {
		fmt.Fprintf(c.stdout, "no run has read order %s (in the last RUNNER_HISTORY_DAYS days)\n", order)
		return exitOK
	}
	tw := table.NewWriter(c.stdout)
	fmt.Fprintln(tw, "run\tjob\tat\tevent\tkey\tdetail\tpayload")
	for _, e := range out.Events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.RunID, e.Job, e.At.Format(time.RFC3339), eventText(e.Event),
			dash(e.Key), dash(eventDetail(e)), dash(string(e.Payload)))
	}
	tw.Flush()
	return exitOK
}

// eventText says what an event kind means, for people.
func eventText(kind string) string {
	switch kind {
	case ledger.StatusOK:
		return "sent ok"
	case ledger.StatusPending:
		return "sent, outcome unknown"
	case ledger.StatusStaged:
		return "staged"
	case ledger.StatusFailed:
		return "failed"
	case ledger.StatusParked:
		return "failed, parked"
	case ledger.EventExcluded:
		return "excluded"
	}
	return kind
}

func eventDetail(e ledger.Event) string {
	switch {
	case e.Event == ledger.EventExcluded:
		return "by filter " + e.Message
	case e.Code != "" && e.Message != "":
		return e.Code + ": " + engine.Clip(e.Message)
	case e.Code != "":
		return e.Code
	}
	return engine.Clip(e.Message)
}
