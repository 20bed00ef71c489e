package engine_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
)

// dropTime leaves the time out of a log line, so that it can be compared.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// TestRunLocked: a run that finds its job's lock held does not start, at
// once or after LockWait, and one abandoned while it waits is interrupted.
func TestRunLocked(t *testing.T) {
	tests := []struct {
		name        string
		lock        string // the lock another holds
		shares      []string
		opts        engine.RunOptions
		abandon     bool
		wantErr     string
		wantWaited  time.Duration
		wantLog     string
		interrupted bool
	}{
		{name: "held", lock: "job:ship", wantErr: `job "ship" is being run by job "other"`},
		{name: "held past the wait", lock: "job:ship", opts: engine.RunOptions{LockWait: time.Millisecond},
			wantErr: `job "ship" is being run by job "other"; gave up after waiting 1ms`, wantWaited: time.Millisecond,
			wantLog: `{"level":"INFO","msg":"waiting for a lock another run holds","job":"ship","lock":"job:ship","holder":"job \"other\""}` + "\n"},
		{name: "abandoned while waiting", lock: "job:ship", opts: engine.RunOptions{LockWait: -1}, abandon: true, interrupted: true},
		{name: "a shared budget is waited for", lock: "shop:1", shares: []string{"shop:1"}, abandon: true, interrupted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, shipJob, enginetest.SourceConfig{Rows: rows3()}, enginetest.DestinationConfig{Shares: tt.shares})
			l := enginetest.NewLedger()
			held, err := l.Lock(context.Background(), tt.lock, "other")
			if err != nil {
				t.Fatal(err)
			}
			defer held.Unlock()
			var log bytes.Buffer
			opts := tt.opts
			opts.Ledger, opts.Log = l, slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{ReplaceAttr: dropTime}))
			if tt.abandon {
				ch := make(chan struct{})
				close(ch)
				opts.Abandon = ch
			}
			sum, err := f.job.Run(context.Background(), opts)
			var le *engine.LockedError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("run: %v", err)
			case tt.wantErr != "" && !errors.As(err, &le):
				t.Fatalf("run error = %v, want a *LockedError", err)
			case tt.wantErr != "" && (le.Job != "ship" || le.Waited != tt.wantWaited || err.Error() != tt.wantErr):
				t.Fatalf("run error = %q (%+v), want %q", err, le, tt.wantErr)
			}
			// A refused run is in the history with its reason; an abandoned
			// one, which gave up on its own, is not.
			runs := l.Runs()
			switch {
			case sum.Interrupted != tt.interrupted:
				t.Errorf("interrupted %v, want %v", sum.Interrupted, tt.interrupted)
			case tt.wantErr == "" && (sum.RunID != 0 || len(runs) != 0):
				t.Errorf("run id %d, history %v; want no run", sum.RunID, runs)
			case tt.wantErr != "" && (len(runs) != 1 || sum.RunID != runs[0].ID || runs[0].Error != tt.wantErr || runs[0].Sent != 0):
				t.Errorf("run id %d, history %+v; want the refused run with its error", sum.RunID, runs)
			}
			if tt.wantLog != "" && log.String() != tt.wantLog {
				t.Errorf("log = %q, want %q", log.String(), tt.wantLog)
			}
			if ops := f.dst.Ops(); len(ops) != 0 {
				t.Errorf("a run that did not start called the destination: %q", ops)
			}
			if l.Held("job:ship") != (tt.lock == "job:ship") {
				t.Errorf("the job's lock is held: %v", l.Held("job:ship"))
			}
		})
	}
}

// TestRunHoldsLock: while a run sends, a second run of the same job finds
// the lock held and says by which run; once it ends, the lock is free.
func TestRunHoldsLock(t *testing.T) {
	f := newFixture(t, shipJob, enginetest.SourceConfig{Rows: rows3(), Units: []string{"u"}}, enginetest.DestinationConfig{Shares: []string{"shop:1"}})
	l := enginetest.NewLedger()
	inFlight, release := make(chan struct{}), make(chan struct{})
	f.dst.Script("write", 1, enginetest.Step{Do: func() { close(inFlight); <-release }})
	var first engine.RunSummary
	var firstErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		first, firstErr = f.job.Run(context.Background(), engine.RunOptions{Ledger: l, Trigger: "schedule"})
	}()
	<-inFlight
	_, err := f.job.Run(context.Background(), engine.RunOptions{Ledger: l, Trigger: "cli"})
	close(release)
	wg.Wait()
	var le *engine.LockedError
	if !errors.As(err, &le) || le.Holder != `run 1 of job "ship"` {
		t.Errorf("second run: %v, want the lock held by run 1", err)
	}
	if firstErr != nil || !first.Succeeded() || first.OK != 3 {
		t.Errorf("first run: %+v, %v", first, firstErr)
	}
	if l.Held("job:ship") || l.Held("shop:1") {
		t.Error("a finished run still holds its locks")
	}
	if runs := l.Runs(); len(runs) != 2 || runs[0].Trigger != "schedule" || runs[0].Error != "" || runs[1].Trigger != "cli" || runs[1].Error != err.Error() {
		t.Errorf("history = %+v, want the first run, then the refused one with its error", runs)
	}
}

// TestRunClock: one Job serves concurrent runs, each with its own clock:
// the same record is within a day of one run's now and not of the other's,
// and each source opens with its run's clock.
func TestRunClock(t *testing.T) {
	const job = `job "recent" {
  source "test" {}
  destination "test" {}
  filter "shipped lately" {
    when = "within_days(shipped, 2)"
  }
  map {
    order_no      = "order_no"
    shipping_date = "shipped"
    name          = "ymd(today())"
  }
}
`
	f := newFixture(t, job, enginetest.SourceConfig{Rows: rows(order("1001", "shipped", "T1"))}, enginetest.DestinationConfig{})
	tests := []struct {
		now      time.Time
		counts   engine.Counts
		payload  string
		excluded bool
	}{
		{now: testNow, counts: engine.Counts{Read: 1, Send: 1}},
		{now: testNow.AddDate(0, 0, 5), counts: engine.Counts{Read: 1, Excluded: 1}},
		{now: testNow.AddDate(0, 0, 1), counts: engine.Counts{Read: 1, Send: 1}},
		{now: testNow.AddDate(0, 0, 3), counts: engine.Counts{Read: 1, Excluded: 1}},
	}
	const rounds = 20
	sums := make([][]engine.RunSummary, len(tests))
	var wg sync.WaitGroup
	for i, tt := range tests {
		sums[i] = make([]engine.RunSummary, rounds)
		for r := range rounds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sum, err := f.job.Run(context.Background(), engine.RunOptions{Now: tt.now})
				if err != nil {
					t.Error(err)
				}
				sums[i][r] = sum
			}()
		}
	}
	wg.Wait()
	for i, tt := range tests {
		for _, sum := range sums[i] {
			if sum.Counts != tt.counts || !sum.Now.Equal(tt.now) {
				t.Errorf("run at %s: counts %+v, now %s; want %+v", tt.now, sum.Counts, sum.Now, tt.counts)
			}
		}
	}
	// Every payload's today() is its own run's.
	seen := map[string]int{}
	for _, c := range f.dst.Calls() {
		for _, p := range c.Payloads {
			seen[p.Values["name"].(string)]++
		}
	}
	if want := map[string]int{"2026-11-28": rounds, "2026-11-29": rounds}; !equalCounts(seen, want) {
		t.Errorf("today() in payloads = %v, want %v", seen, want)
	}
	opened := map[time.Time]int{}
	for _, at := range f.src.Opens() {
		opened[at]++
	}
	for _, tt := range tests {
		if opened[tt.now] != rounds {
			t.Errorf("source opened %d times with now %s, want %d", opened[tt.now], tt.now, rounds)
		}
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRunCancel: a caller's cancellation fails the batch in flight and
// ends the run at the next record.
func TestRunCancel(t *testing.T) {
	f := newFixture(t, shipJob, enginetest.SourceConfig{Rows: rows3()}, enginetest.DestinationConfig{BatchSize: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.dst.Script("write", 1, enginetest.Step{Do: cancel, Delay: time.Minute})
	l := enginetest.NewLedger()
	sum, err := f.job.Run(ctx, engine.RunOptions{Ledger: l})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "source test: ") {
		t.Errorf("run error = %v, want the source's context.Canceled", err)
	}
	if sum.Failed != 1 || sum.Failures[0].Message != "context canceled" {
		t.Errorf("summary %+v, want the batch in flight failed", sum)
	}
	// The history is written even though ctx is done.
	if runs := l.Runs(); len(runs) != 1 || runs[0].Ended.IsZero() || runs[0].Error == "" {
		t.Errorf("history = %+v", runs)
	}
}

// TestAbandonOnlyWhileWaiting: Abandon ends a run that still waits for its
// lock; once the run holds it (serve stopping while a run is in flight), the
// run goes to its end, as serve's Stop promises.
func TestAbandonOnlyWhileWaiting(t *testing.T) {
	f := newFixture(t, shipJob, enginetest.SourceConfig{Rows: rows3()}, enginetest.DestinationConfig{BatchSize: 1})
	abandon := make(chan struct{})
	f.dst.Script("write", 1, enginetest.Step{Do: func() { close(abandon) }})
	sum, err := f.job.Run(context.Background(), engine.RunOptions{Ledger: enginetest.NewLedger(), Abandon: abandon})
	if err != nil || sum.Interrupted || sum.OK != 3 || sum.NotSent != 0 {
		t.Errorf("run: %v, interrupted %v, %d ok, %d not sent; want all 3 sent", err, sum.Interrupted, sum.OK, sum.NotSent)
	}
}
