package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/ledger/ledgertest"
)

// TestStats: the parked records per job and the end of each job's last ok
// run, which serve's gauges read; a failed, parked, interrupted or
// stopped run is not a success.
func TestStats(t *testing.T) {
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, d.DSN(t))
			finish := func(id int64, at time.Time, c ledger.Counts, errText string) {
				t.Helper()
				if err := s.FinishRun(ctx, id, at, c, errText); err != nil {
					t.Fatal(err)
				}
			}
			ok := startRun(t, s, job, ledger.TriggerSchedule, t0)
			batch(t, s, ok, []ledger.Send{send("1/1", map[string]any{"a": "1"})}, ledger.StatusOK)
			finish(ok, t0.Add(time.Second), ledger.Counts{Sent: 1, OK: 1}, "")
			parked := startRun(t, s, job, ledger.TriggerSchedule, t0.Add(time.Hour))
			batch(t, s, parked, []ledger.Send{send("2/1", map[string]any{"a": "2"})}, ledger.StatusParked)
			finish(parked, t0.Add(time.Hour+time.Second), ledger.Counts{Sent: 1, Parked: 1}, "")
			for i, e := range []string{"interrupted", "futureshop cannot be reached"} {
				id := startRun(t, s, job, ledger.TriggerManual, t0.Add(time.Duration(2+i)*time.Hour))
				finish(id, t0.Add(time.Duration(2+i)*time.Hour+time.Second), ledger.Counts{}, e)
			}
			startRun(t, s, job, ledger.TriggerManual, t0.Add(5*time.Hour)) // still running
			other := startRun(t, s, "other", ledger.TriggerCLI, t0)
			finish(other, t0.Add(2*time.Second), ledger.Counts{Failed: 1}, "")

			counts, err := s.ParkedByJob(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(counts) != fmt.Sprintf("map[%s:1]", job) {
				t.Errorf("ParkedByJob = %v, want %s: 1", counts, job)
			}
			ends, err := s.LastSuccess(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(ends) != 1 || !ends[job].Equal(t0.Add(time.Second)) {
				t.Errorf("LastSuccess = %v, want %s: %s", ends, job, t0.Add(time.Second))
			}
		})
	}
}
