package engine_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
)

// TestRunMetrics: a run counts itself and its records from its summary,
// a refused run counts as an error, one abandoned before it started does
// not count, and a wait for a lock is measured by the lock it waited for.
func TestRunMetrics(t *testing.T) {
	tests := []struct {
		name      string
		lock      string // the lock another holds
		shares    []string
		opts      engine.RunOptions
		abandon   bool
		wantRuns  string // runner.runs by outcome
		wantWaits string // runner.lock.wait.duration counts by lock
	}{
		{name: "a run", wantRuns: "ok=1"},
		{name: "refused", lock: "job:ship", wantRuns: "error=1"},
		{name: "refused after waiting", lock: "job:ship", opts: engine.RunOptions{LockWait: time.Millisecond},
			wantRuns: "error=1", wantWaits: "job=1"},
		{name: "abandoned while waiting for a shared budget", lock: "shop:1", shares: []string{"shop:1"}, abandon: true,
			wantWaits: "shared=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			ctx := engine.WithMeterProvider(context.Background(), mp)
			f := newFixture(t, shipJob, enginetest.SourceConfig{Rows: rows3()}, enginetest.DestinationConfig{Shares: tt.shares})
			l := enginetest.NewLedger()
			if tt.lock != "" {
				held, err := l.Lock(ctx, tt.lock, "other")
				if err != nil {
					t.Fatal(err)
				}
				defer held.Unlock()
			}
			opts := tt.opts
			opts.Ledger = l
			if tt.abandon {
				ch := make(chan struct{})
				close(ch)
				opts.Abandon = ch
			}
			sum, _ := f.job.Run(ctx, opts)

			var rm metricdata.ResourceMetrics
			if err := reader.Collect(ctx, &rm); err != nil {
				t.Fatal(err)
			}
			runs := sums(rm, "runner.runs", "outcome")
			if got := format(runs); got != tt.wantRuns {
				t.Errorf("runner.runs = %q, want %q", got, tt.wantRuns)
			}
			if got := format(histCounts(rm, "runner.lock.wait.duration", "lock")); got != tt.wantWaits {
				t.Errorf("runner.lock.wait.duration counts = %q, want %q", got, tt.wantWaits)
			}
			if tt.wantRuns == "" {
				return
			}
			want := map[string]int64{"sent": int64(sum.Counts.Send), "ok": int64(sum.OK), "failed": int64(sum.Failed - sum.NewlyParked),
				"parked": int64(sum.NewlyParked), "excluded": int64(sum.Counts.Excluded), "unchanged": int64(sum.Counts.Unchanged),
				"error": int64(sum.Counts.Errors)}
			if got := sums(rm, "runner.records", "outcome"); format(got) != format(want) {
				t.Errorf("runner.records = %s, want %s (the summary)", format(got), format(want))
			}
		})
	}
}

// sums adds up counter name's points by the value of attribute key.
func sums(rm metricdata.ResourceMetrics, name, key string) map[string]int64 {
	out := map[string]int64{}
	each(rm, name, func(d metricdata.Aggregation) {
		if s, ok := d.(metricdata.Sum[int64]); ok {
			for _, p := range s.DataPoints {
				out[attr(p.Attributes, key)] += p.Value
			}
		}
	})
	return out
}

// histCounts counts histogram name's recordings by attribute key.
func histCounts(rm metricdata.ResourceMetrics, name, key string) map[string]int64 {
	out := map[string]int64{}
	each(rm, name, func(d metricdata.Aggregation) {
		if h, ok := d.(metricdata.Histogram[float64]); ok {
			for _, p := range h.DataPoints {
				out[attr(p.Attributes, key)] += int64(p.Count)
			}
		}
	})
	return out
}

func each(rm metricdata.ResourceMetrics, name string, fn func(metricdata.Aggregation)) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				fn(m.Data)
			}
		}
	}
}

func attr(s attribute.Set, key string) string {
	v, _ := s.Value(attribute.Key(key))
	return v.String()
}

// format writes m as "k=v k=v", sorted, leaving out zeros.
func format(m map[string]int64) string {
	var out []string
	for k, v := range m {
		if v != 0 {
			out = append(out, fmt.Sprintf("%s=%d", k, v))
		}
	}
	sort.Strings(out)
	s := fmt.Sprint(out)
	return s[1 : len(s)-1]
}
