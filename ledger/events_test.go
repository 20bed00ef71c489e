package ledger_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/ledger/ledgertest"
)

// kinds sums up a story as "run:event:key", newest first.
func kinds(evs []ledger.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, strings.Join([]string{itoa(e.RunID), e.Event, e.Key, e.Message}, ":"))
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestStory: a send is pending, then its outcome, with its payload; a
// record read and not sent is noted once per change, not once per run;
// Prune drops what is older than the retention.
func TestStory(t *testing.T) {
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, d.DSN(t))
			clock := t0
			s.SetClock(func() time.Time { return clock })
			a := send("A/1", map[string]any{"invoice_no": "111"})
			a.Label = "A"

			r1 := startRun(t, s, job, ledger.TriggerCLI, t0)
			if err := s.Begin(ctx, r1, job, dest, []ledger.Send{a}); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Story(ctx, "A", 0); len(got) != 1 || got[0].Event != "pending" || string(got[0].Payload) != `{"invoice_no":"111"}` {
				t.Fatalf("after Begin: %+v", got)
			}
			if err := s.Record(ctx, r1, job, dest, []ledger.Outcome{{Key: "A/1", Status: ledger.StatusOK}}); err != nil {
				t.Fatal(err)
			}
			// Runs 2 to 4 read A unchanged and B excluded; run 4 B by another filter.
			var runs []int64
			for i, filter := range []string{"updated-4d", "updated-4d", "status"} {
				clock = t0.Add(time.Duration(i+1) * time.Hour)
				r := startRun(t, s, job, ledger.TriggerCLI, clock)
				runs = append(runs, r)
				err := s.Note(ctx, r, job, dest, []ledger.Note{
					{Label: "A", Key: "A/1", Event: ledger.EventUnchanged},
					{Label: "B", Event: ledger.EventExcluded, Reason: filter},
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.Story(ctx, "A", 0)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{itoa(r1) + ":ok:A/1:"}; !slices.Equal(kinds(got), want) {
				t.Errorf("story of A: %v, want %v: an unchanged record repeats its send", kinds(got), want)
			}
			got, _ = s.Story(ctx, "B", 0)
			want := []string{itoa(runs[2]) + ":excluded::status", itoa(runs[0]) + ":excluded::updated-4d"}
			if !slices.Equal(kinds(got), want) {
				t.Errorf("story of B: %v, want %v", kinds(got), want)
			}
			if got, _ := s.RunEvents(ctx, r1, 0, "ok"); len(got) != 1 || got[0].Key != "A/1" {
				t.Errorf("RunEvents: %+v", got)
			}

			n, err := s.Prune(ctx, t0.Add(90*time.Minute))
			if err != nil || n != 2 {
				t.Errorf("Prune: %d, %v; want the send and B's first note", n, err)
			}
			if got, _ := s.Story(ctx, "A", 0); len(got) != 0 {
				t.Errorf("A after Prune: %v", kinds(got))
			}
		})
	}
}

// TestQueuedRun: a queued run has its id before it starts, is "queued",
// is not closed as interrupted by another run of its job, and starts under
// its id; a dropped one is gone. Runs filters by job, status and time.
func TestQueuedRun(t *testing.T) {
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, d.DSN(t))
			q, err := s.QueueRun(ctx, job, ledger.TriggerManual, t0)
			if err != nil {
				t.Fatal(err)
			}
			if r, _ := s.Run(ctx, q); r.Status != "queued" {
				t.Errorf("queued run: %+v", r)
			}
			other := startRun(t, s, job, ledger.TriggerSchedule, t0.Add(time.Minute))
			if err := s.FinishRun(ctx, other, t0.Add(2*time.Minute), ledger.Counts{Parked: 1}, ""); err != nil {
				t.Fatal(err)
			}
			if r, _ := s.Run(ctx, q); r.Status != "queued" {
				t.Errorf("queued run after another started: %+v", r)
			}
			if err := s.StartQueued(ctx, q, job, ledger.TriggerManual, t0.Add(3*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if r, _ := s.Run(ctx, q); r.Status != "running" || !r.StartedAt.Equal(t0.Add(3*time.Minute)) {
				t.Errorf("started: %+v", r)
			}
			if err := s.StartQueued(ctx, q, job, ledger.TriggerManual, t0); !errors.Is(err, ledger.ErrNotFound) {
				t.Errorf("starting twice: %v", err)
			}
			if err := s.FinishRun(ctx, q, t0.Add(4*time.Minute), ledger.Counts{OK: 1}, ""); err != nil {
				t.Fatal(err)
			}
			dup, _ := s.QueueRun(ctx, job, ledger.TriggerManual, t0)
			if err := s.DropQueued(ctx, dup); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Run(ctx, dup); !errors.Is(err, ledger.ErrNotFound) {
				t.Errorf("dropped run: %v", err)
			}
			gone, _ := s.QueueRun(ctx, "other-job", ledger.TriggerManual, t0.Add(5*time.Minute))
			if err := s.CancelQueued(ctx, gone, "the job is no longer configured"); err != nil {
				t.Fatal(err)
			}

			ids := func(f ledger.RunFilter) []int64 {
				t.Helper()
				runs, err := s.Runs(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				var out []int64
				for _, r := range runs {
					if f.Status != "" && r.Status != f.Status {
						t.Errorf("status %s selected %+v", f.Status, r)
					}
					out = append(out, r.ID)
				}
				return out
			}
			tests := []struct {
				f    ledger.RunFilter
				want []int64
			}{
				{ledger.RunFilter{}, []int64{gone, other, q}}, // by id: the order they were asked for
				{ledger.RunFilter{Job: job}, []int64{other, q}},
				{ledger.RunFilter{Status: "failed"}, []int64{other}},
				{ledger.RunFilter{Status: "ok"}, []int64{q}},
				{ledger.RunFilter{Status: "error"}, []int64{gone}},
				{ledger.RunFilter{Status: "running"}, nil},
				{ledger.RunFilter{Since: t0.Add(3 * time.Minute)}, []int64{gone, q}},
				{ledger.RunFilter{Limit: 1}, []int64{gone}},
			}
			for _, tt := range tests {
				if got := ids(tt.f); !slices.Equal(got, tt.want) {
					t.Errorf("Runs(%+v) = %v, want %v", tt.f, got, tt.want)
				}
			}
			if _, err := s.Runs(ctx, ledger.RunFilter{Status: "done"}); !errors.Is(err, ledger.ErrBadFilter) {
				t.Errorf("unknown status: %v", err)
			}
		})
	}
}
