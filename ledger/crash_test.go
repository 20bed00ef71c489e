package ledger_test

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/ledger/ledgertest"
)

// TestKilled kills a process with SIGKILL after Begin, as if it died
// between sending a batch and recording the answer, and checks that the
// next process sees the batch as pending (to be sent again) and the run as
// unfinished.
func TestKilled(t *testing.T) {
	if dsn := os.Getenv("LEDGER_CRASH_DSN"); dsn != "" {
		crashChild(dsn)
		return
	}
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			dsn := d.DSN(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestKilled$")
			cmd.Env = append(os.Environ(), "LEDGER_CRASH_DSN="+dsn)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child: %v, want killed by SIGKILL\n%s", err, out)
			}
			s := open(t, dsn)
			got := lookup(t, s, "A/1", "B/1")
			if got["A/1"].Status != ledger.StatusOK || got["B/1"].Status != ledger.StatusPending {
				t.Errorf("after kill: A %+v, B %+v; want A ok, B pending", got["A/1"], got["B/1"])
			}
			h, err := s.History(context.Background(), job, 0)
			if err != nil || len(h) != 1 || !h[0].EndedAt.IsZero() || h[0].Counts.Sent != 1 {
				t.Errorf("history after kill: %+v, %v", h, err)
			}
		})
	}
}

func crashChild(dsn string) {
	ctx := context.Background()
	s, err := ledger.Open(ctx, dsn)
	if err != nil {
		panic(err)
	}
	run, err := s.StartRun(ctx, job, ledger.TriggerSchedule, t0)
	if err != nil {
		panic(err)
	}
	a, b := send("A/1", map[string]any{"x": 1}), send("B/1", map[string]any{"x": 2})
	if err := s.Begin(ctx, run, job, dest, []ledger.Send{a}); err != nil {
		panic(err)
	}
	if err := s.Record(ctx, run, job, dest, []ledger.Outcome{{Key: a.Key, Status: ledger.StatusOK}}); err != nil {
		panic(err)
	}
	if err := s.Begin(ctx, run, job, dest, []ledger.Send{b}); err != nil {
		panic(err)
	}
	// The request for B is in flight: die without closing anything.
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}
