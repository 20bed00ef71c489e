package runlog_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/runlog"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// shop is a run of the shipping job at futureshop's budget: a request a
// second, two a batch (the update and 処理済み), batches of 100.
func shop(read, queued, sent, ok, failed, calls int) engine.Progress {
	return engine.Progress{Job: "shipping-to-futureshop", RunID: 7, Read: read, Expected: 5000, Queued: queued,
		Sent: sent, OK: ok, Fail: failed, BatchSize: 100, Calls: calls, PerSecond: 1, CallsPerBatch: 2}
}

// TestLine renders the terminal's progress line through a run's life.
func TestLine(t *testing.T) {
	tests := []struct {
		name  string
		p     engine.Progress
		width int
	}{
		{"before the first batch", shop(100, 100, 0, 0, 0, 1), 200},
		{"under way", shop(1200, 100, 1100, 1098, 2, 23), 200},
		{"half excluded", shop(2000, 0, 1000, 1000, 0, 21), 200},
		{"all read", shop(5000, 0, 5000, 4990, 10, 101), 200},
		{"a narrow terminal", shop(1200, 100, 1100, 1098, 2, 23), 40},
		{"no size, no budget", engine.Progress{Job: "import", Read: 300, Sent: 200, OK: 200, BatchSize: 100}, 200},
		{"a Japanese job name, cut by cells", engine.Progress{Job: "発送情報の更新", Read: 300, Sent: 200, OK: 200, BatchSize: 100}, 30},
	}
	var b strings.Builder
	for _, tt := range tests {
		fmt.Fprintf(&b, "%s (%d columns)\n%s\n", tt.name, tt.width, runlog.Line(tt.p, tt.width))
	}
	golden(t, "line", b.String())
}

// TestReporterLogs: without a terminal, the progress is a log line per
// tick, from the first report on, with the run's counts; none after Stop.
func TestReporterLogs(t *testing.T) {
	lines := make(chan string, 10)
	log := slog.New(slog.NewTextHandler(lineWriter(lines), &slog.HandlerOptions{ReplaceAttr: dropTime}))
	tick := make(chan time.Time)
	var every time.Duration
	ticks := func(d time.Duration) (<-chan time.Time, func()) { every = d; return tick, func() {} }

	// Ticks before the first report log nothing. Stop waits for the
	// reporter's goroutine, so both ticks are done with when it returns.
	r := runlog.StartProgress(context.Background(), runlog.ProgressOptions{Log: log, Tick: ticks})
	tick <- time.Time{}
	tick <- time.Time{}
	r.Stop()
	if len(lines) != 0 {
		t.Errorf("logged %q before any report", <-lines)
	}

	// A report is seen by the next tick: it happened before the tick was
	// sent, and the line is read before the next report.
	r = runlog.StartProgress(context.Background(), runlog.ProgressOptions{Log: log, Tick: ticks})
	r.Update(shop(1200, 100, 1100, 1098, 2, 23))
	tick <- time.Time{}
	got := []string{<-lines}
	r.Update(shop(5000, 0, 5000, 4990, 10, 101))
	tick <- time.Time{}
	got = append(got, <-lines)
	r.Stop()
	close(lines)
	for l := range lines {
		got = append(got, l)
	}
	if every != runlog.LogEvery || runlog.LogEvery != 10*time.Second {
		t.Errorf("ticks every %s, want %s", every, 10*time.Second)
	}
	want := []string{
		"level=INFO msg=progress job=shipping-to-futureshop run_id=7 read=1200 expected=5000 sent=1100 ok=1098 failed=2 requests=23 requests_per_second=1 eta=1m18s\n",
		"level=INFO msg=progress job=shipping-to-futureshop run_id=7 read=5000 expected=5000 sent=5000 ok=4990 failed=10 requests=101 requests_per_second=1 eta=0s\n",
	}
	if !slices.Equal(got, want) {
		t.Errorf("log:\n%q\nwant:\n%q", got, want)
	}
}

// lineWriter sends each write, a log line, to a channel.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
