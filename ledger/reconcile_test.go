package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/ledger/ledgertest"
)

// TestAcceptedAndRequeue: Accepted lists what was accepted within the
// window, and nothing else; Requeue turns accepted entries into ones the
// engine's unchanged rule sends again, and leaves the others alone.
func TestAcceptedAndRequeue(t *testing.T) {
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, d.DSN(t))
			clock := t0
			s.SetClock(func() time.Time { return clock })
			a, b, c, old := send("a/1", map[string]any{"v": 1}), send("b/1", map[string]any{"v": 2}),
				send("c/1", map[string]any{"v": 3}), send("old/1", map[string]any{"v": 4})
			batch(t, s, startRun(t, s, job, ledger.TriggerCLI, clock), []ledger.Send{old}, ledger.StatusOK)
			clock = t0.Add(72 * time.Hour)
			batch(t, s, startRun(t, s, job, ledger.TriggerCLI, clock), []ledger.Send{a, b, c}, ledger.StatusOK, ledger.StatusOK, ledger.StatusParked)

			got, err := s.Accepted(ctx, job, dest, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, e := range got {
				keys = append(keys, e.Key)
			}
			if len(keys) != 2 || keys[0] != "a/1" || keys[1] != "b/1" || string(got[0].Payload) != `{"v":1}` {
				t.Fatalf("Accepted = %v", got)
			}
			if got, _ := s.Accepted(ctx, job, "elsewhere", t0); len(got) != 0 {
				t.Errorf("Accepted in another scope = %v", got)
			}

			n, err := s.Requeue(ctx, job, dest, []string{"a/1", "c/1", "nope/1"}, "Drifted", "the shop holds invoice_no \"x\"")
			if err != nil || n != 1 {
				t.Fatalf("Requeue = %d, %v; want 1", n, err)
			}
			e := lookup(t, s, "a/1", "b/1", "c/1")
			ea := engine.LedgerEntry{Hash: e["a/1"].Hash, Status: e["a/1"].Status}
			if ea.Unchanged(a.Hash) || e["a/1"].Code != "Drifted" {
				t.Errorf("a/1 after Requeue: %+v; the engine would skip it", e["a/1"])
			}
			if e["b/1"].Status != ledger.StatusOK || e["c/1"].Status != ledger.StatusParked {
				t.Errorf("Requeue touched others: %+v", e)
			}
		})
	}
}
