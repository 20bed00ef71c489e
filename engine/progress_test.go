package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
)

// TestRunProgress: a run reports its counts after each batch and every few
// hundred records read, and the last report agrees with the summary.
func TestRunProgress(t *testing.T) {
	var recs []engine.Record
	for i := range 600 {
		status := "shipped"
		if i%2 == 1 {
			status = "cancel" // excluded: read without a batch
		}
		recs = append(recs, order(fmt.Sprint(1000+i), status, "T"))
	}
	f := newFixture(t, shipJob, enginetest.SourceConfig{Rows: rows(recs...)}, enginetest.DestinationConfig{BatchSize: 100})
	var got []engine.Progress
	sum, err := f.job.Run(context.Background(), engine.RunOptions{Ledger: enginetest.NewLedger(),
		Progress: func(p engine.Progress) { got = append(got, p) }})
	if err != nil {
		t.Fatal(err)
	}
	// 3 batches, 2 of 256 records read, and the end.
	if len(got) != 6 {
		t.Fatalf("%d reports, want 6: %+v", len(got), got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Read < got[i-1].Read || got[i].Sent < got[i-1].Sent || got[i].Queued > 100 {
			t.Errorf("report %d went back: %+v after %+v", i, got[i], got[i-1])
		}
	}
	last := got[len(got)-1]
	want := engine.Progress{Job: "ship", RunID: sum.RunID, Started: last.Started, Read: 600, Sent: 300, OK: 300,
		Batches: 3, BatchSize: 100, Excluded: 300}
	if last != want {
		t.Errorf("last report %+v\nwant %+v", last, want)
	}
	if time.Since(last.Started) > time.Minute || sum.RunID == 0 {
		t.Errorf("started %s, run id %d", last.Started, sum.RunID)
	}
	if _, ok := last.ETA(); ok {
		t.Error("an ETA without the source's size or a request budget")
	}
}

// TestETA: the time left, from the request budget, assuming the records
// left qualify as those read so far did.
func TestETA(t *testing.T) {
	base := engine.Progress{Expected: 1000, BatchSize: 100, PerSecond: 1, CallsPerBatch: 2}
	tests := []struct {
		name                string
		read, queued, sent  int
		expected, perSecond float64
		want                time.Duration
		ok                  bool
	}{
		{name: "nothing read: all of it", want: 20 * time.Second, ok: true},
		{name: "half sent, all qualify", read: 500, sent: 500, want: 10 * time.Second, ok: true},
		{name: "half read, half qualify", read: 500, sent: 250, want: 6 * time.Second, ok: true},
		{name: "a batch queued", read: 100, queued: 100, want: 20 * time.Second, ok: true},
		{name: "all read, one partial batch queued", read: 1000, queued: 10, sent: 900, want: 2 * time.Second, ok: true},
		{name: "no size", expected: -1},
		{name: "no budget", perSecond: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			p.Read, p.Queued, p.Sent = tt.read, tt.queued, tt.sent
			if tt.expected < 0 {
				p.Expected = 0
			}
			if tt.perSecond < 0 {
				p.PerSecond = 0
			}
			got, ok := p.ETA()
			if got != tt.want || ok != tt.ok {
				t.Errorf("ETA() = %s, %v; want %s, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
